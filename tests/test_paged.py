"""The article as PDF and DOCX, read the way a reader's tools read them: the PDF's text and
its pages as images (poppler's pdftoppm), the DOCX through python-docx. One smoke report
(the session's ``report_run``) is rendered by `tace report` in all three formats."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tace.report.render import PAGED_MAX_COLUMNS, build_article, split_wide_table

EMBED = re.compile(r"\{\{<\s*embed\s+analysis/([^#\s]+)#([a-z0-9-]+)\s*>\}\}")


def _numbered(out: Path, prefix: str) -> list[tuple[int, str]]:
    """The figures (``fig-``) or tables (``tab-``) the run made, with the number the article
    gives each (an item the run could not make keeps its number, and says why)."""
    labels = [label for _, label in EMBED.findall((out / "index.qmd").read_text(encoding="utf-8"))
              if label.startswith(prefix)]
    return [(n, label) for n, label in enumerate(labels, start=1) if (out / "figures" / f"{label}.json").is_file()]


def _made(out: Path, prefix: str) -> list[str]:
    return [label for _, label in _numbered(out, prefix)]


def _assert_every_caption_numbered(out: Path, text: str) -> None:
    """Each figure and table the run made appears in ``text`` as "Figure N:" / "Table N:"."""
    for prefix, word in (("fig-", "Figure"), ("tab-", "Table")):
        for n, label in _numbered(out, prefix):
            assert f"{word} {n}:" in text, label


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00ad", "")).strip()


@pytest.fixture(scope="module")
def pdf_text(report_run) -> list[str]:
    from pypdf import PdfReader

    out, _, _ = report_run
    return [_normalise(page.extract_text() or "") for page in PdfReader(out / "report.pdf").pages]


def test_the_pdf_holds_every_caption_the_checklist_and_the_synthetic_label(report_run, pdf_text):
    out, _, _ = report_run
    text = " ".join(pdf_text)
    assert "SYNTHETIC DATA" in pdf_text[0]
    _assert_every_caption_numbered(out, text)
    assert "TRIPOD+AI checklist" in text
    for item in ("Title", "Abstract", "Sample size", "Missing data"):
        assert item in text, item
    # the caption's words, not only its number: the first figure's caption as the sidecar has it
    first = json.loads((out / "figures" / f"{_made(out, 'fig-')[0]}.json").read_text())["caption"]
    assert _normalise(first)[:40] in text


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed; "
                    ".ci/run installs it")
def test_every_pdf_page_renders_to_an_image_that_is_not_blank(report_run, tmp_path):
    from PIL import Image

    out, _, _ = report_run
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(out / "report.pdf"), str(tmp_path / "p")], check=True)
    pages = sorted(tmp_path.glob("p-*.png"))
    assert len(pages) >= 15, f"{len(pages)} pages"
    for page in pages:
        ink = np.asarray(Image.open(page).convert("L")) < 200
        body = ink[int(0.08 * ink.shape[0]):int(0.92 * ink.shape[0])]  # not the running header and page number
        assert body.mean() > 0.002, f"{page.name} has nothing but its header ({100 * body.mean():.2f}% ink)"


def test_the_pdf_draws_each_figure_from_its_svg_and_fetches_nothing(report_run):
    from tace.report.paged import typst_source

    out, _, _ = report_run
    source = typst_source(out)
    images = re.findall(r'image\("([^"]+)"', source)
    assert sorted(images) == sorted(f"figures/{label}.svg" for label in _made(out, "fig-"))
    assert not re.search(r'image\("https?:', source)


def test_the_docx_has_headings_captions_tables_and_images(report_run):
    import docx

    out, _, _ = report_run
    document = docx.Document(str(out / "report.docx"))
    paragraphs = [p.text for p in document.paragraphs]
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    for title in ("Introduction", "Methods", "Results", "Discussion", "Appendix C: TRIPOD+AI checklist"):
        assert title in headings, title
    text = " ".join(paragraphs)
    assert "SYNTHETIC DATA" in paragraphs[0]
    _assert_every_caption_numbered(out, text)
    assert len(document.tables) >= len(_made(out, "tab-"))
    assert len(document.inline_shapes) == len(_made(out, "fig-"))
    with zipfile.ZipFile(out / "report.docx") as z:
        rels = re.findall(r"<Relationship [^>]*>", " ".join(z.read(n).decode("utf-8") for n in z.namelist()
                                                           if n.endswith(".rels")))
    images = [r for r in rels if "relationships/image" in r]
    assert len(images) >= len(_made(out, "fig-")) and not any("External" in r for r in images)


def test_no_table_in_the_pdf_or_docx_is_wider_than_a_page_holds(report_run):
    out, _, _ = report_run
    article = build_article(out, images="svg", paged=True)
    from bs4 import BeautifulSoup

    tables = BeautifulSoup(article.body, "html.parser").find_all("table")
    assert tables
    for table in tables:
        first = table.find("tr")
        assert len(first.find_all(["th", "td"])) <= PAGED_MAX_COLUMNS, table.find("caption").get_text()[:80]


def test_a_wide_table_is_split_into_parts_that_repeat_its_label_columns():
    head = "".join(f"<th>c{i}</th>" for i in range(14))
    rows = "".join("<tr><td>test</td><td>DLR</td>" + "".join(f"<td>{v}.{i}</td>" for i in range(12)) + "</tr>"
                   for v in range(3))
    parts = split_wide_table(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>", 9)
    assert len(parts) == 2
    from bs4 import BeautifulSoup

    got = [[[c.get_text() for c in tr.find_all(["th", "td"])] for tr in BeautifulSoup(p, "html.parser").find_all("tr")]
           for p in parts]
    assert [len(g[0]) for g in got] == [8, 8]  # 2 label columns + 12 others in two equal parts
    assert got[0][1][:2] == ["test", "DLR"] and got[1][1][:2] == ["test", "DLR"]
    assert got[0][0][2:] == [f"c{i}" for i in range(2, 8)] and got[1][0][2:] == [f"c{i}" for i in range(8, 14)]
    assert got[1][3][2:] == [f"2.{i}" for i in range(6, 12)]
    narrow = "<table><tr><th>a</th></tr><tr><td>1</td></tr></table>"
    assert len(split_wide_table(narrow, 9)) == 1
