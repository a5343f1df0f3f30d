"""Assemble the article in a run folder: ``index.qmd`` and ``_quarto.yml`` from the
repository, and the parts computed from the run (``_generated/``): the environment and
parameters appendix, the provenance index, and the TRIPOD+AI checklist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from ..io import atomic_write_text
from ..io.text import code_block, markdown_inline
from ..resources import source_root
from .context import SYNTHETIC_LABEL

__all__ = ["REPO", "TRIPOD_FILE", "load_checklist", "write_article"]

REPO = source_root()
TRIPOD_FILE = REPO / "analysis" / "tripod_ai.yaml"


def load_checklist(path: Path = TRIPOD_FILE) -> dict:
    """The TRIPOD+AI checklist: ``source`` and ``items`` (id, topic, text, status, where/reason)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    for item in data["items"]:
        status = item["status"]
        if status not in ("reported", "not applicable", "not reported"):
            raise ValueError(f"{path}: item {item['id']} has status {status!r}; expected reported, "
                             "not applicable or not reported")
        if status == "reported" and not item.get("where"):
            raise ValueError(f"{path}: item {item['id']} is reported but names no section (where)")
        if status != "reported" and not item.get("reason"):
            raise ValueError(f"{path}: item {item['id']} is {status} but gives no reason")
    return data


def _cell(text: object) -> str:
    """Text for a markdown table cell or a sentence: paths, notes, profile and bundle text
    come from users and shared files, and are shown as their characters, never run or
    followed (:func:`tace.io.text.markdown_inline`)."""
    return markdown_inline(text)


def _tripod(sections: dict[str, str], validation: bool) -> str:
    data = load_checklist()
    places = {**sections, "sec-title": "title", "sec-abstract": "abstract"}
    lines = [f"Source: {data['source']} Each item: reported (with the section that reports it), not "
             "applicable, or not reported (with the reason).", "",
             "| Item | Topic | Recommendation (paraphrased) | Status | Where, or why not |",
             "|---|---|---|---|---|"]
    for item in data["items"]:
        if validation and item.get("development_only"):
            lines.append(f"| {item['id']} | {_cell(item['topic'])} | {_cell(item['text'])} | not applicable | "
                         "The models are frozen: their development is reported in the development report. |")
            continue
        if item["status"] == "reported":
            where = item["where"]
            if where not in places:
                raise ValueError(f"{TRIPOD_FILE.name}: item {item['id']} is reported in {where!r}, which the "
                                 f"article has no section for; expected one of {', '.join(sorted(places))}")
            place = f"[{_cell(places[where])}](#{where})"
        else:
            place = _cell(item["reason"])
        lines.append(f"| {item['id']} | {_cell(item['topic'])} | {_cell(item['text'])} | {item['status']} | {place} |")
    return "\n".join(lines) + "\n"


def _environment(record: dict) -> str:
    profile = record["profile"]
    packages = record.get("packages", {})
    deviations = profile.get("deviations_from_paper") or []
    lines = [
        "| | |", "|---|---|",
        f"| Data source | {_cell(record['data_source'])} |",
        f"| Cohort manifest | {_cell(record['manifest'])} (sha256 `{record['manifest_sha256'][:16]}...`) |",
        f"| tace | {record['tace_version']}, git commit `{record['git_commit'] or 'unknown (not a git checkout)'}` |",
        f"| Python | {record['python']} on {_cell(record.get('platform', ''))} |",
        f"| Profile | {_cell(profile['name'])}: {_cell(profile.get('description', ''))} |",
        f"| Seed | {profile['seed']} |",
        *([f"| Model bundle | {_cell(record['bundle'])} (manifest sha256 `{record['bundle_sha256'][:16]}...`), "
           f"developed on {record['bundle_training_n']} patients |"] if "bundle" in record else []),
        "",
        "Package versions: " + ", ".join(f"{k} {v}" for k, v in sorted(packages.items())) + ".",
        "",
        "Protocol (item 18c): the design this run follows is the profile file "
        f"`profile.yaml` of this folder (the resolved profile {_cell(profile['name'])}, every setting spelled out), "
        "with the methods above; the code (item 18f) is tace "
        "at the commit above, and the executed notebooks are in `analysis/` of this folder.",
        "",
        "Deviations of this profile from the paper's protocol:", "",
    ]
    lines += [f"- {_cell(d)}" for d in deviations] or ["- none stated"]
    # a fence that the profile's text cannot close (a shared bundle's profile is someone else's text)
    lines += ["", "The profile's parameters, as the run used them:", "",
              code_block(yaml.safe_dump(profile, sort_keys=False), "yaml"), ""]
    return "\n".join(lines)


def _provenance(run_dir: Path, synthetic: bool, embedded: set[str]) -> str:
    lines = ["Every figure and table of this report has, in `figures/` of this folder, its data as CSV, "
             "the figure as PNG and SVG, and a sidecar JSON that names the notebook and cell that made it, "
             "each input file with its sha256, the profile's parameters, the seed, the git commit and the "
             "package versions. The links under each figure lead there; the list below does too.", ""]
    if synthetic:
        lines += ["Data (item 18e): the simulated cohort is in `cohort/` of this folder, with the generating "
                  "model described in its README; `tace synth` regenerates it from the seed.", ""]
    else:
        lines += ["Data (item 18e): the user's cohort is not copied into the report; the manifest's sha256 "
                  "above identifies it.", ""]
    lines += ["| Id | Caption | Notebook cell | Files |", "|---|---|---|---|"]
    for sidecar in sorted((run_dir / "figures").glob("*.json")):
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        if "id" not in meta:
            continue  # metrics.json
        files = " ".join(f"[{Path(f).suffix[1:]}](figures/{f})" for f in meta["files"])
        # a link to the item where the article shows it; an item only its notebook shows has no anchor here
        ident = f"[{meta['id']}](#{meta['id']})" if meta["id"] in embedded else f"{meta['id']} (notebook only)"
        lines.append(f"| {ident} | {_cell(meta['caption'])} | "
                     f"[{meta['notebook']}]({meta['notebook']}) `{meta['cell']}` | {files} |")
    return "\n".join(lines) + "\n"


def write_article(run_dir: Path, record: dict, synthetic: bool, repo: Path = REPO, *, article: str = "index.qmd",
                  notebooks: tuple[str, ...] | None = None, note: str | None = None) -> None:
    """Copy the article (``index.qmd``, or ``validation.qmd`` for ``tace validate``) into
    ``run_dir`` as ``index.qmd`` and write its generated parts. ``record`` is the run's
    ``run.json`` content (with ``packages``); ``notebooks`` the executed notebooks the
    Quarto project lists (default: those of ``_quarto.yml``); ``note`` a sentence the
    article states under its abstract (e.g. that the outcomes are made up)."""
    run_dir = Path(run_dir)
    source = (repo / article).read_text(encoding="utf-8")
    if note:
        safe = markdown_inline(note)
        source = re.sub(r"\n---\n", lambda m: f"\n---\n\n**Note on the data.** {safe}\n", source, count=1)
    if synthetic:
        source = re.sub(r'^title: "(.*)"$', lambda m: f'title: "{SYNTHETIC_LABEL}: {m.group(1)}"', source,
                        count=1, flags=re.MULTILINE)
    atomic_write_text(run_dir / "index.qmd", source)
    project = (repo / "_quarto.yml").read_text(encoding="utf-8")
    if notebooks is not None:
        config = yaml.safe_load(project)
        config["manuscript"]["notebooks"] = [f"analysis/{n}" for n in notebooks]
        project = ("# Written by tace validate from the repository's _quarto.yml.\n"
                   + yaml.safe_dump(config, sort_keys=False))
    atomic_write_text(run_dir / "_quarto.yml", project)
    heading = re.compile(r"^#{1,6}\s+(.*?)\s*\{#([a-z0-9-]+)\}", re.MULTILINE)
    sections = {m.group(2): m.group(1) for m in heading.finditer(source)}
    generated = run_dir / "_generated"
    generated.mkdir(exist_ok=True)
    atomic_write_text(generated / "environment.qmd", _environment(record))
    embedded = set(re.findall(r"\{\{<\s*embed\s+[^#\s]+#([A-Za-z0-9_-]+)\s*>\}\}", source))
    atomic_write_text(generated / "provenance.qmd", _provenance(run_dir, synthetic, embedded))
    atomic_write_text(generated / "tripod.qmd", _tripod(sections, validation=article != "index.qmd"))
