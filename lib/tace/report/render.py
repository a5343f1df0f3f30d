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

import html
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["RenderError", "Rendered", "render_fallback", "render_report"]

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
    """The rendered report: its path and the renderer that made it."""

    path: Path
    renderer: str


def render_report(run_dir: Path, renderer: str = "auto") -> Rendered:
    """Render ``run_dir/index.qmd``: ``renderer`` is ``quarto``, ``fallback`` or ``auto``
    (Quarto when ``quarto`` is on PATH)."""
    run_dir = Path(run_dir)
    quarto = shutil.which("quarto")
    if renderer == "quarto" or (renderer == "auto" and quarto):
        if not quarto:
            raise RenderError("renderer 'quarto' asked for, but quarto is not on PATH")
        done = subprocess.run([quarto, "render"], cwd=run_dir, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RenderError(f"quarto render failed in {run_dir}:\n{done.stderr[-3000:]}")
        return Rendered(run_dir / "_manuscript" / "index.html", "quarto")
    if renderer not in ("auto", "fallback"):
        raise RenderError(f"renderer must be auto, quarto or fallback, not {renderer!r}")
    return Rendered(render_fallback(run_dir), "fallback")


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


def _embed(run_dir: Path, notebooks: _Notebooks, notebook: str, label: str, numbers: dict[str, int]) -> str:
    cell = notebooks.cell(notebook, label)
    outputs = [o for o in cell["outputs"] if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    md = _markdown()
    if label.startswith("txt-"):
        text = "".join(o.get("data", {}).get("text/markdown", "") for o in outputs)
        return f'<div class="computed" data-cell="{html.escape(notebook)}#{label}">{md.render(text)}</div>'
    kind = "figure" if label.startswith("fig-") else "table"
    links, sidecar = _links(run_dir, notebook, label, kind)
    if kind == "figure":
        png = next((o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})), None)
        if png is None:
            return _missing(label, notebook, outputs, md)
        caption = sidecar.get("caption") or cell["options"].get("fig-cap", "")
        alt = sidecar.get("alt") or cell["options"].get("fig-alt", caption)
        data = png if isinstance(png, str) else "".join(png)
        return (f'<figure id="{label}"><img src="data:image/png;base64,{data.strip()}" alt="{html.escape(alt)}">'
                f"<figcaption><strong>Figure {numbers[label]}:</strong> {html.escape(caption)}{links}</figcaption>"
                "</figure>")
    table = next((o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})), None)
    if table is None or not sidecar:
        return _missing(label, notebook, outputs, md)
    table = table if isinstance(table, str) else "".join(table)
    return (f'<div class="tablewrap" id="{label}"><div class="caption"><strong>Table {numbers[label]}:</strong> '
            f'{html.escape(sidecar["caption"])}</div>{table}{links}</div>')


def _expand_includes(text: str, base: Path) -> str:
    def include(m: re.Match) -> str:
        path = base / m.group(1)
        if not path.is_file():
            raise RenderError(f"index.qmd includes {m.group(1)}, which the run folder {base} lacks")
        return path.read_text(encoding="utf-8")

    return _INCLUDE.sub(include, text)


def render_fallback(run_dir: Path, out_name: str = "report.html") -> Path:
    """Render ``run_dir/index.qmd`` to ``run_dir/<out_name>``, one self-contained HTML file."""
    from ..io import atomic_write_text

    run_dir = Path(run_dir)
    source = (run_dir / "index.qmd").read_text(encoding="utf-8")
    _, front, body = source.split("---", 2)
    meta = yaml.safe_load(front) or {}
    body = _expand_includes(re.sub(r"<!--.*?-->", "", body, flags=re.DOTALL), run_dir)

    # number figures and tables in order of appearance, as Quarto does
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
        blocks[key] = _embed(run_dir, notebooks, m.group(1), m.group(2), numbers)
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

    synthetic = (run_dir / "cohort" / "manifest.csv").is_file()
    title = meta.get("title", "Report")
    abstract = _markdown().render(meta.get("abstract", "")) if meta.get("abstract") else ""
    toc_html = "".join(f'<li style="margin-left:{(lvl - 2) * 1.2}rem"><a href="#{i}">{html.escape(t)}</a></li>'
                       for lvl, t, i in toc)
    banner = ('<p class="synthetic">SYNTHETIC DATA: every patient in this report is simulated by the digital '
              'twin.</p>') if synthetic else ""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tace fallback renderer"><title>{html.escape(title)}</title>
<style>{_CSS}</style></head><body>
<p class="banner" id="renderer">Rendered by tace's fallback renderer: Quarto was not used (no <code>quarto</code>
on PATH). The content is that of <code>index.qmd</code> with the stored outputs of the executed notebooks in
<code>analysis/</code>; install Quarto and run <code>quarto render</code> in this folder for the HTML and PDF
manuscript.</p>
{banner}
<header id="sec-title"><h1>{html.escape(title)}</h1><p>{html.escape(meta.get("subtitle", ""))}</p></header>
<section class="abstract" id="sec-abstract"><h2>Abstract</h2>{abstract}</section>
<nav class="toc"><strong>Contents</strong><ul>{toc_html}</ul></nav>
{rendered}
</body></html>
"""
    out = run_dir / out_name
    atomic_write_text(out, page)
    return out
