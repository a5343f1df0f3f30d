"""Render the article of a run folder: with Quarto when it is on PATH, else with a fallback.

The fallback reads the same ``index.qmd`` and turns it into one self-contained HTML file
(``report.html``): Markdown through markdown-it-py (the parser Jupyter's tools use), each
``{{< embed analysis/NB.ipynb#label >}}`` replaced by the stored outputs of the notebook cell
with that label (figures inlined as PNG data URIs, tables as HTML, prose as Markdown),
``{{< include FILE >}}`` inlined, ``@fig-...`` cross-references numbered, and a header that
says Quarto was not used. Under each figure and table it links the notebook, the data CSV,
the SVG and the provenance sidecar, all relative paths inside the run folder, so the report
and its evidence move together. It is not a Quarto reimplementation: no filters, no PDF, no
citations; only what this article uses.
"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

# the width the legibility check assumes is the width the PDF and DOCX print at (A4, 2 cm margins)
from ..plots.legibility import PRINTED_WIDTH_PT
from .sanitize import clean_article_html

__all__ = ["FORMATS", "Article", "RenderError", "Rendered", "build_article", "parse_formats", "render_fallback",
           "render_report", "split_wide_table"]

#: The formats of the article: HTML (one self-contained file), PDF (Typst) and DOCX.
FORMATS = ("html", "pdf", "docx")

_EMBED = re.compile(r"\{\{<\s*embed\s+([^#\s]+)#([A-Za-z0-9_-]+)\s*>\}\}")
_INCLUDE = re.compile(r"\{\{<\s*include\s+(\S+)\s*>\}\}")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*\{#([A-Za-z0-9_-]+)\}[ \t]*$", re.MULTILINE)
_XREF = re.compile(r"@(fig-[a-z0-9-]+|sec-[a-z0-9-]+)")
_OPTION = re.compile(r"^#\|\s*([a-z-]+):\s*(.*)$")

_CSS = """
body{font-family:Georgia,serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#222}
h1,h2,h3{font-family:Helvetica,Arial,sans-serif;color:#1d3557}
.banner{background:#fff4e5;border:1px solid #f0a500;padding:.6rem 1rem;font-family:sans-serif;font-size:.9rem}
.synthetic{background:#ffe3e3;border:1px solid #c92a2a;padding:.4rem 1rem;font-weight:bold;font-family:sans-serif}
figure{margin:1.5rem 0;text-align:center}figure img{max-width:100%}
figcaption,.caption{font-size:.9rem;text-align:left;margin-top:.3rem}
.prov{font-family:sans-serif;font-size:.8rem;color:#555}.prov a{color:#1d6fa5}
.tablewrap{overflow-x:auto;margin:1.5rem 0}table{border-collapse:collapse;font-size:.8rem;font-family:sans-serif}
th,td{border-bottom:1px solid #ddd;padding:.2rem .5rem;text-align:right}th{background:#f1f3f5}
.missing{color:#888;font-style:italic}.abstract{background:#f8f9fa;padding:.5rem 1rem}
nav.toc{font-family:sans-serif;font-size:.9rem;background:#f8f9fa;padding:.5rem 1rem}
"""


class RenderError(RuntimeError):
    """The article refers to something the run folder does not hold."""


@dataclass(frozen=True)
class Rendered:
    """The rendered report: the path of its first format, every format's path, and the
    renderer that made them."""

    path: Path
    renderer: str
    outputs: tuple[tuple[str, Path], ...] = ()


def parse_formats(text: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``"html,pdf"`` (or a sequence) as a tuple of known formats, in :data:`FORMATS` order.

    >>> parse_formats("docx, html")
    ('html', 'docx')
    """
    asked = [f.strip().lower() for f in (text.split(",") if isinstance(text, str) else text) if f.strip()]
    unknown = sorted(set(asked) - set(FORMATS))
    if unknown or not asked:
        raise RenderError(f"formats must be a comma-separated choice of {', '.join(FORMATS)}; got {text!r}")
    return tuple(f for f in FORMATS if f in asked)


def render_report(run_dir: Path, renderer: str = "auto", formats: tuple[str, ...] = FORMATS) -> Rendered:
    """Render ``run_dir/index.qmd`` in ``formats``: ``renderer`` is ``quarto``, ``fallback``
    or ``auto`` (Quarto when ``quarto`` is on PATH). The fallback writes ``report.html``,
    ``report.pdf`` (pandoc and Typst) and ``report.docx`` (pandoc)."""
    run_dir = Path(run_dir)
    formats = parse_formats(formats)
    quarto = shutil.which("quarto")
    if renderer == "quarto" or (renderer == "auto" and quarto):
        if not quarto:
            raise RenderError("renderer 'quarto' asked for, but quarto is not on PATH")
        outputs = []
        for fmt in formats:
            to = "typst" if fmt == "pdf" else fmt  # Quarto's PDF through Typst, as the fallback's
            done = subprocess.run([quarto, "render", "--to", to], cwd=run_dir, capture_output=True, text=True,
                                  check=False)
            if done.returncode != 0:
                raise RenderError(f"quarto render --to {to} failed in {run_dir}:\n{done.stderr[-3000:]}")
            outputs.append((fmt, run_dir / "_manuscript" / f"index.{fmt}"))
        return Rendered(outputs[0][1], "quarto", tuple(outputs))
    if renderer not in ("auto", "fallback"):
        raise RenderError(f"renderer must be auto, quarto or fallback, not {renderer!r}")
    from .paged import render_docx, render_pdf

    made = {"html": lambda: render_fallback(run_dir, formats=formats), "pdf": lambda: render_pdf(run_dir),
            "docx": lambda: render_docx(run_dir)}
    outputs = tuple((fmt, made[fmt]()) for fmt in formats)
    return Rendered(outputs[0][1], "fallback", outputs)


def _cell_options(source: str) -> dict[str, str]:
    options = {}
    for line in source.splitlines():
        m = _OPTION.match(line)
        if not m:
            break
        options[m.group(1)] = m.group(2).strip().strip('"')
    return options


class _Notebooks:
    """Labelled cells of the executed notebooks, read once each."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self._cells: dict[str, dict[str, dict]] = {}

    def cell(self, notebook: str, label: str) -> dict | None:
        import nbformat

        if notebook not in self._cells:
            path = self.run_dir / notebook
            if not path.is_file():
                raise RenderError(f"index.qmd embeds {notebook}, which the run folder {self.run_dir} lacks")
            nb = nbformat.read(path, as_version=4)
            self._cells[notebook] = {}
            for cell in nb.cells:
                if cell.cell_type == "code":
                    opts = _cell_options(cell.source)
                    if "label" in opts:
                        self._cells[notebook][opts["label"]] = {"options": opts, "outputs": cell.get("outputs", [])}
        if label not in self._cells[notebook]:
            raise RenderError(f"index.qmd embeds {notebook}#{label}, but no cell of {notebook} has that label")
        return self._cells[notebook][label]


def _markdown():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table")


def _links(run_dir: Path, notebook: str, label: str, kind: str) -> tuple[str, dict]:
    sidecar_path = run_dir / "figures" / f"{label}.json"
    sidecar = json.loads(sidecar_path.read_text(encoding="utf-8")) if sidecar_path.is_file() else {}
    parts = [f'<a href="{html.escape(notebook)}">notebook {html.escape(Path(notebook).name)}, cell {label}</a>']
    if sidecar:
        data = f"figures/{label}.csv"
        parts.append(f'<a href="{data}">data (CSV)</a>')
        if kind == "figure":
            parts.append(f'<a href="figures/{label}.svg">SVG</a>')
        parts.append(f'<a href="figures/{label}.json">provenance (inputs, sha256, parameters, commit)</a>')
    return '<div class="prov">' + " &middot; ".join(parts) + "</div>", sidecar


def _missing(label: str, notebook: str, outputs: list, md) -> str:
    """What stands in for a figure or table the run did not make: the reason its cell gave."""
    reason = "".join(o.get("data", {}).get("text/markdown", "") for o in outputs
                     if isinstance(o.get("data", {}).get("text/markdown", ""), str))
    reason = md.render(reason) if reason.strip() else f"<p>{label}: not produced in this run.</p>"
    return (f'<div class="missing" id="{label}">{reason}<div class="prov">see <a href="{html.escape(notebook)}">'
            f'notebook {html.escape(Path(notebook).name)}, cell {label}</a></div></div>')


def _figure_source(run_dir: Path, label: str, outputs: list, images: str) -> str | None:
    """Where a figure's image comes from: a PNG data URI (``images="inline"``: the notebook's
    output; ``"png-data"``: the run folder's PNG file) or the run folder's
    ``figures/<label>.svg`` / ``.png`` (``"svg"``, ``"png"``; the SVG falls back to the PNG when
    the figure has none)."""
    if images != "inline":
        for ext in (("svg", "png") if images == "svg" else ("png",)):
            path = run_dir / "figures" / f"{label}.{ext}"
            if path.is_file():
                if images == "png-data":  # pandoc in its sandbox reads no file: the image travels in the HTML
                    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
                return f"figures/{label}.{ext}"
    png = next((o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})), None)
    if png is None:
        return None
    return "data:image/png;base64," + (png if isinstance(png, str) else "".join(png)).strip()


def _embed(run_dir: Path, notebooks: _Notebooks, notebook: str, label: str, numbers: dict[str, int],
           images: str = "inline", paged: bool = False) -> str:
    """The HTML of one embedded cell. ``paged`` (PDF and DOCX through pandoc): the table's
    caption in ``<caption>``, tables wider than :data:`PAGED_MAX_COLUMNS` split into parts,
    the provenance as one line of text."""
    cell = notebooks.cell(notebook, label)
    outputs = [o for o in cell["outputs"] if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    md = _markdown()
    if label.startswith("txt-"):
        text = "".join(o.get("data", {}).get("text/markdown", "") for o in outputs)
        return f'<div class="computed" data-cell="{html.escape(notebook)}#{label}">{md.render(text)}</div>'
    kind = "figure" if label.startswith("fig-") else "table"
    links, sidecar = _links(run_dir, notebook, label, kind)
    if kind == "figure":
        src = _figure_source(run_dir, label, outputs, images)
        if src is None:
            return _missing(label, notebook, outputs, md)
        caption = sidecar.get("caption") or cell["options"].get("fig-cap", "")
        alt = sidecar.get("alt") or cell["options"].get("fig-alt", caption)
        width = f' width="{_paged_width(run_dir, label):.0f}%"' if paged else ""
        return (f'<figure id="{label}"><img src="{html.escape(src)}" alt="{html.escape(alt)}"{width}>'
                f"<figcaption><strong>Figure {numbers[label]}:</strong> {html.escape(caption)}{links}</figcaption>"
                "</figure>")
    table = next((o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})), None)
    if table is None or not sidecar:
        return _missing(label, notebook, outputs, md)
    table = table if isinstance(table, str) else "".join(table)
    caption = f'<strong>Table {numbers[label]}:</strong> {html.escape(sidecar["caption"])}'
    if paged:
        parts = split_wide_table(table, PAGED_MAX_COLUMNS)
        out = []
        for k, part in enumerate(parts, start=1):
            suffix = f" (part {k} of {len(parts)}: columns too many for one page)" if len(parts) > 1 else ""
            ident = f' id="{label}"' if k == 1 else ""
            out.append(part.replace("<table>", f"<table{ident}><caption>{caption}{suffix}</caption>", 1))
        return "".join(out) + links
    return (f'<div class="tablewrap" id="{label}"><div class="caption">{caption}</div>{table}{links}</div>')


def _paged_width(run_dir: Path, label: str) -> float:
    """A figure's width in the PDF and DOCX, in per cent of the text width: its natural width
    (the SVG's, which is matplotlib's figure size) but never wider than the text, so that a
    figure's fonts print at their size or, for a wide figure, scaled by the text width over
    the figure's width (what the figure-legibility test checks)."""
    svg = run_dir / "figures" / f"{label}.svg"
    if svg.is_file():
        m = re.search(r'<svg[^>]*?\swidth="([\d.]+)pt"', svg.read_text(encoding="utf-8", errors="replace")[:2000])
        if m:
            return min(100.0, 100.0 * float(m.group(1)) / PRINTED_WIDTH_PT)
    return 100.0


#: Paged formats (PDF, DOCX) split a table with more columns than this into parts that each
#: repeat its leading label columns: a page holds about nine columns of numbers at 7.5 pt.
PAGED_MAX_COLUMNS = 9


def split_wide_table(table_html: str, max_columns: int = PAGED_MAX_COLUMNS) -> list[str]:
    """A table's HTML as one or more tables of at most ``max_columns`` columns each.

    The leading columns that label the rows (text in every row, at most three: cohort,
    model, measure) are repeated in every part; the other columns are dealt out in order.
    pandas' Styler markup (``<style>``, ids, classes) is dropped; the cells' text is kept as
    the report formatted it.

    >>> head = "<tr><th>model</th>" + "".join(f"<th>c{i}</th>" for i in range(12)) + "</tr>"
    >>> row = "<tr><td>DLR</td>" + "".join(f"<td>{i}</td>" for i in range(12)) + "</tr>"
    >>> t = f"<table><thead>{head}</thead><tbody>{row}</tbody></table>"
    >>> [p.count("<th>") for p in split_wide_table(t, 9)]
    [7, 7]
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(table_html, "html.parser")
    node = soup.find("table")
    if node is None:
        return [table_html]
    rows = [[c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"])] for tr in node.find_all("tr")]
    head = [c.get_text(" ", strip=True) for c in node.find("thead").find_all("th")] if node.find("thead") else []
    body = rows[1:] if head else rows
    width = max((len(r) for r in rows), default=0)

    def numeric(text: str) -> bool:
        try:
            float(text.replace("\u2212", "-"))
        except ValueError:
            return False
        return True

    keys = 0
    while keys < min(3, width - 1) and body and all(keys < len(r) and r[keys] and not numeric(r[keys]) for r in body):
        keys += 1
    rest = list(range(keys, width))
    parts = -(-len(rest) // max(1, max_columns - keys)) if width > max_columns else 1
    size = -(-len(rest) // parts)  # parts of equal size, not full ones and a stub
    chunks = [rest[i:i + size] for i in range(0, len(rest), size)]

    def cells(row: list[str], tag: str, cols: list[int]) -> str:
        return "".join(f"<{tag}>{html.escape(row[c]) if c < len(row) else ''}</{tag}>" for c in cols)

    out = []
    for chunk in chunks:
        cols = list(range(keys)) + chunk
        thead = f"<thead><tr>{cells(head, 'th', cols)}</tr></thead>" if head else ""
        tbody = "".join(f"<tr>{cells(r, 'td', cols)}</tr>" for r in body)
        out.append(f"<table>{thead}<tbody>{tbody}</tbody></table>")
    return out


def _expand_includes(text: str, base: Path) -> str:
    def include(m: re.Match) -> str:
        path = base / m.group(1)
        if not path.is_file():
            raise RenderError(f"index.qmd includes {m.group(1)}, which the run folder {base} lacks")
        return path.read_text(encoding="utf-8")

    return _INCLUDE.sub(include, text)


@dataclass(frozen=True)
class Article:
    """The article of a run folder as HTML pieces, ready for a page or for pandoc."""

    title: str
    subtitle: str
    abstract: str
    body: str
    toc: tuple[tuple[int, str, str], ...]
    synthetic: bool


def build_article(run_dir: Path, *, images: str = "inline", paged: bool = False) -> Article:
    """Read ``run_dir/index.qmd`` and resolve its embeds, includes and cross-references.

    Figures and tables are numbered in order of appearance, as Quarto does; ``@fig-...``
    becomes "Figure N" and ``@sec-...`` the section's title, each a link. ``images`` and
    ``paged`` as :func:`_embed`.
    """
    run_dir = Path(run_dir)
    source = (run_dir / "index.qmd").read_text(encoding="utf-8")
    _, front, body = source.split("---", 2)
    meta = yaml.safe_load(front) or {}
    body = _expand_includes(re.sub(r"<!--.*?-->", "", body, flags=re.DOTALL), run_dir)

    numbers: dict[str, int] = {}
    counters = {"fig": 0, "tab": 0}
    for _, label in _EMBED.findall(body):
        kind = label.split("-")[0]
        if kind in counters:
            counters[kind] += 1
            numbers[label] = counters[kind]
    sections = {m.group(3): m.group(2) for m in _HEADING.finditer(body)}

    notebooks = _Notebooks(run_dir)
    blocks: dict[str, str] = {}

    def embed(m: re.Match) -> str:
        key = f"@@EMBED{len(blocks)}@@"
        blocks[key] = _embed(run_dir, notebooks, m.group(1), m.group(2), numbers, images=images, paged=paged)
        return f"\n\n{key}\n\n"

    body = _EMBED.sub(embed, body)
    toc = []

    def heading(m: re.Match) -> str:
        level, title, ident = len(m.group(1)), m.group(2), m.group(3)
        if level <= 3:
            toc.append((level, title, ident))
        return f'<h{level} id="{ident}">{html.escape(title)}</h{level}>'

    body = _HEADING.sub(heading, body)

    def xref(m: re.Match) -> str:
        ident = m.group(1)
        if ident.startswith("fig-"):
            return f'<a href="#{ident}">Figure {numbers.get(ident, "?")}</a>'
        return f'<a href="#{ident}">{html.escape(sections.get(ident, ident))}</a>'

    body = _XREF.sub(xref, body)
    rendered = _markdown().render(body)
    for key, block in blocks.items():
        rendered = rendered.replace(f"<p>{key}</p>", block).replace(key, block)
    # one allowlist for every format: no script, handler or foreign file survives (tace.report.sanitize)
    rendered = clean_article_html(rendered)
    abstract = clean_article_html(_markdown().render(meta["abstract"])) if meta.get("abstract") else ""
    return Article(str(meta.get("title", "Report")), str(meta.get("subtitle", "")), abstract, rendered,
                   tuple(toc), (run_dir / "cohort" / "manifest.csv").is_file())


#: What every format of a twin's report says before anything else.
SYNTHETIC_NOTE = "SYNTHETIC DATA: every patient in this report is simulated by the digital twin."


def render_fallback(run_dir: Path, out_name: str = "report.html", formats: tuple[str, ...] = ("html",)) -> Path:
    """Render ``run_dir/index.qmd`` to ``run_dir/<out_name>``, one self-contained HTML file
    (``formats``: what else this run renders, which its banner names)."""
    from ..io import atomic_write_text

    run_dir = Path(run_dir)
    art = build_article(run_dir)
    others = [f"<code>report.{f}</code>" for f in formats if f != "html"]
    paged = (f"; {' and '.join(others)} beside this file hold the same article, made with pandoc and Typst "
             "(the engines Quarto itself uses)") if others else ""
    toc_html = "".join(f'<li style="margin-left:{(lvl - 2) * 1.2}rem"><a href="#{i}">{html.escape(t)}</a></li>'
                       for lvl, t, i in art.toc)
    banner = f'<p class="synthetic">{SYNTHETIC_NOTE}</p>' if art.synthetic else ""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tace fallback renderer"><title>{html.escape(art.title)}</title>
<style>{_CSS}</style></head><body>
<p class="banner" id="renderer">Rendered by tace's fallback renderer: Quarto was not used (no <code>quarto</code>
on PATH). The content is that of <code>index.qmd</code> with the stored outputs of the executed notebooks in
<code>analysis/</code>{paged}.</p>
{banner}
<header id="sec-title"><h1>{html.escape(art.title)}</h1><p>{html.escape(art.subtitle)}</p></header>
<section class="abstract" id="sec-abstract"><h2>Abstract</h2>{art.abstract}</section>
<nav class="toc"><strong>Contents</strong><ul>{toc_html}</ul></nav>
{art.body}
</body></html>
"""
    out = run_dir / out_name
    atomic_write_text(out, page)
    return out
