"""The article as PDF and DOCX without Quarto: pandoc and Typst, the engines Quarto runs on.

The same article the HTML shows (:func:`tace.report.render.build_article`), with figures
taken from the run folder's files (SVG in the PDF, so they stay vector; PNG in the DOCX,
which Word displays everywhere) and tables wider than a page split into parts that repeat
their row labels. pandoc (from the ``pypandoc-binary`` wheel) reads that HTML and writes
Typst source or a Word document; the Typst compiler (the ``typst`` wheel) turns the source
into the PDF. Figure and table numbers are the article's own, so the three formats agree
(Typst's own figure numbering is turned off). Nothing is fetched: every image is a file of
the run folder and Typst uses its embedded fonts.

Each output is written to a temporary name in the run folder and renamed when complete.
"""

from __future__ import annotations

import html
import os
import tempfile
from pathlib import Path

from ..io import atomic_write_bytes
from .render import SYNTHETIC_NOTE, Article, RenderError, build_article

__all__ = ["render_docx", "render_pdf", "typst_source"]

#: Page set-up of the PDF. Typst's figure numbering is off: the captions carry the article's.
_PREAMBLE = r"""#set document(title: [{title}])
#set page(paper: "a4", margin: (x: 2cm, top: 2.2cm, bottom: 2cm), numbering: "1",
  header: align(right, text(size: 8pt, fill: rgb("#c92a2a"), weight: "bold")[{header}]))
#set text(font: ("Libertinus Serif", "New Computer Modern"), size: 10pt, lang: "en")
#set par(justify: true)
#set heading(numbering: none)
#show heading: set text(fill: rgb("#1d3557"))
#show heading.where(level: 1): set text(size: 15pt)
#show heading.where(level: 1): set align(center)
#show heading.where(level: 2): it => {{ v(0.6em); it }}
#set figure(numbering: none, gap: 0.6em)
#show figure.caption: set text(size: 8.5pt)
#show figure.caption: set align(left)
#show figure.where(kind: table): set figure.caption(position: top)
#show figure.where(kind: table): set block(breakable: true)
#show table: set text(size: 7.5pt)
#set table(stroke: (x, y) => if y == 0 {{ (bottom: 0.6pt) }} else {{ (bottom: 0.2pt + luma(200)) }})
#show link: set text(fill: rgb("#1d6fa5"))

"""


def _pandoc_html(art: Article) -> str:
    """The HTML pandoc reads: the title (``#sec-title``, which the checklist links to),
    subtitle, abstract and body."""
    synthetic = f"<p><strong>{SYNTHETIC_NOTE}</strong></p>" if art.synthetic else ""
    subtitle = f"<p><em>{html.escape(art.subtitle)}</em></p>" if art.subtitle else ""
    return (f"{synthetic}<h1 id=\"sec-title\">{html.escape(art.title)}</h1>{subtitle}"
            f"<h2 id=\"sec-abstract\">Abstract</h2>{art.abstract}{art.body}")


def _pandoc(text: str, to: str, run_dir: Path, outputfile: Path | None = None, extra: list[str] | None = None) -> str:
    import pypandoc

    # --sandbox: pandoc reads no file but its input (the DOCX's figures travel as data URIs)
    args = ["--sandbox", "--wrap=none", *(extra or [])]
    try:
        return pypandoc.convert_text(text, to, format="html", extra_args=args,
                                     outputfile=str(outputfile) if outputfile else None)
    except (RuntimeError, OSError) as exc:
        raise RenderError(f"pandoc could not write {to} for {run_dir}: {str(exc)[-2000:]}") from None


def typst_source(run_dir: Path, art: Article | None = None) -> str:
    """The Typst source of the PDF: the preamble, a title block, then pandoc's conversion."""
    run_dir = Path(run_dir)
    art = art or build_article(run_dir, images="svg", paged=True)
    body = _pandoc(_pandoc_html(art), "typst", run_dir)
    escape = str.maketrans({c: "\\" + c for c in "#[]*_`$<>@\\"})
    header = "SYNTHETIC DATA (digital twin)" if art.synthetic else ""
    return _PREAMBLE.format(title=art.title.translate(escape), header=header) + body


def render_pdf(run_dir: Path, out_name: str = "report.pdf") -> Path:
    """Render the article of ``run_dir`` to ``run_dir/<out_name>`` (pandoc, then Typst)."""
    import typst

    run_dir = Path(run_dir)
    source = typst_source(run_dir)
    fd, tmp = tempfile.mkstemp(dir=run_dir, prefix=".report.", suffix=".typ")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(source)
        try:
            pdf = typst.compile(tmp, root=str(run_dir))
        except typst.TypstError as exc:  # with the source location of the error
            raise RenderError(f"Typst could not compile the PDF of {run_dir}: {str(exc)[:3000]}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return atomic_write_bytes(run_dir / out_name, pdf)


def render_docx(run_dir: Path, out_name: str = "report.docx") -> Path:
    """Render the article of ``run_dir`` to ``run_dir/<out_name>`` (pandoc's Word writer)."""
    run_dir = Path(run_dir)
    art = build_article(run_dir, images="png-data", paged=True)
    with tempfile.TemporaryDirectory(prefix="tace-docx-") as tmp:
        made = Path(tmp) / out_name
        _pandoc(_pandoc_html(art), "docx", run_dir, outputfile=made, extra=["--metadata", f"pagetitle={art.title}"])
        return atomic_write_bytes(run_dir / out_name, made.read_bytes())
