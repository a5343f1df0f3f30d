"""The project's set-up files agree with each other."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from tace.cohort import COLUMNS

REPO = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _as_conda(requirement: str) -> tuple[str, str]:
    """'numpy~=2.4.6' -> ('numpy', '>=2.4.6,<2.5'); 'torch==2.14.1' -> ('torch', '==2.14.1')."""
    name, op, version = re.match(r"^([A-Za-z0-9_.-]+)\s*(~=|==)\s*([0-9.]+)$", requirement).groups()
    if op == "==":
        return name.lower(), f"=={version}"
    major, minor = version.split(".")[:2]
    return name.lower(), f">={version},<{major}.{int(minor) + 1}"


def test_environment_yml_carries_the_same_pins_as_pyproject():
    project = _pyproject()["project"]
    wanted = dict(_as_conda(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"])
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    found = {}
    for dep in env["dependencies"]:
        specs = dep["pip"] if isinstance(dep, dict) else [dep]
        for spec in specs:
            m = re.match(r"^([A-Za-z0-9_.-]+)\s*((?:==|>=|=).*)?$", spec)
            if m and m.group(2):
                found[m.group(1).lower()] = m.group(2)
    assert {k: found.get(k) for k in wanted} == wanted
    assert "python=3.11" in env["dependencies"] and "quarto" in env["dependencies"]


def test_makefile_installs_the_pinned_numpy_and_pyradiomics_first():
    makefile = (REPO / "Makefile").read_text()
    deps = _pyproject()["project"]["dependencies"]
    numpy_pin = next(d for d in deps if d.startswith("numpy"))
    radiomics_pin = next(d for d in deps if d.startswith("pyradiomics"))
    assert f'install --quiet "{numpy_pin}"' in makefile
    assert f'--no-build-isolation "{radiomics_pin}"' in makefile


def test_readme_documents_every_manifest_column():
    readme = (REPO / "README.md").read_text()
    for column in COLUMNS:
        assert re.search(rf"^\| `{column.name}` \|", readme, flags=re.M), column.name


def test_quarto_project_is_a_manuscript_whose_article_exists():
    config = yaml.safe_load((REPO / "_quarto.yml").read_text())
    assert config["project"]["type"] == "manuscript"
    assert (REPO / config["manuscript"]["article"]).is_file()
    assert config["execute"]["enabled"] is False  # papermill executes, Quarto renders


#: What Quarto's manuscript project accepts under ``manuscript:`` (quarto-cli,
#: src/project/types/manuscript/manuscript-types.ts, ``ManuscriptConfig``).
QUARTO_MANUSCRIPT_KEYS = {"article", "notebooks", "resources", "environment", "manuscript-url", "meca-bundle"}


@pytest.mark.parametrize(("article", "notebooks"), [("index.qmd", "NOTEBOOKS"), ("validation.qmd", "VALIDATION")])
def test_each_article_is_a_valid_quarto_manuscript_source(article, notebooks):
    """What Quarto would check and cannot here: every embed names a notebook the project
    lists and a cell of it with that label; every figure cell has fig-cap and fig-alt; every
    cross-reference names a section or figure of the article; _quarto.yml uses only keys of
    Quarto's manuscript schema and renders html, typst (PDF) and docx."""
    import nbformat

    from tace.report.notebooks import ANALYSIS_DIR, NOTEBOOKS
    from tace.report.validation import VALIDATION_NOTEBOOKS

    listed = NOTEBOOKS if notebooks == "NOTEBOOKS" else VALIDATION_NOTEBOOKS
    text = (REPO / article).read_text(encoding="utf-8")
    embeds = re.findall(r"\{\{<\s*embed\s+analysis/([^#\s]+)#([a-z0-9-]+)\s*>\}\}", text)
    assert len(embeds) >= 20
    cells = {}
    for notebook, label in embeds:
        assert notebook in listed, f"{article} embeds {notebook}, which the project does not run"
        if notebook not in cells:
            nb = nbformat.read(ANALYSIS_DIR / notebook, as_version=4)
            cells[notebook] = {c.source.split("\n", 1)[0][len("#| label: "):]: c.source for c in nb.cells
                               if c.cell_type == "code" and c.source.startswith("#| label: ")}
        assert label in cells[notebook], f"{article}: {notebook} has no cell labelled {label}"
        if label.startswith("fig-"):
            assert "#| fig-cap: " in cells[notebook][label] and "#| fig-alt: " in cells[notebook][label], label
    sections = set(re.findall(r"\{#(sec-[a-z0-9-]+)\}", text)) | {"sec-title", "sec-abstract"}
    figures = {label for _, label in embeds if label.startswith("fig-")}
    for ref in re.findall(r"@((?:sec|fig)-[a-z0-9-]+)", text):
        assert ref in sections | figures, f"{article} refers to @{ref}, which it does not hold"
    quarto = yaml.safe_load((REPO / "_quarto.yml").read_text())
    assert set(quarto["manuscript"]) <= QUARTO_MANUSCRIPT_KEYS
    assert quarto["project"] == {"type": "manuscript", "output-dir": "_manuscript"}
    assert set(quarto["format"]) == {"html", "typst", "docx"} and quarto["execute"] == {"enabled": False}


def test_tace_installed_from_its_wheel_reads_its_sources_as_package_data_and_makes_the_report(
        installed_tace, report_run):
    """The session's smoke report is made by tace installed from a wheel into a fresh venv
    (tests/conftest.py): the wheel's tace, not this checkout's, with the notebooks, profiles
    and article sources read from the wheel's package data, and the commit it was built from."""
    import json
    import subprocess

    python = installed_tace.with_name("python")
    probe = subprocess.run([str(python), "-c", "import json, tace, tace.resources as r; "
                            "print(json.dumps([tace.__file__, str(r.source_root()), r.build_info()]))"],
                           capture_output=True, text=True, check=True)
    module, root, info = json.loads(probe.stdout)
    venv = installed_tace.parents[1]
    assert Path(module).is_relative_to(venv) and Path(root).is_relative_to(venv) and Path(root).name == "_source"
    for name in ("analysis/05_discrimination.ipynb", "analysis/params/smoke.yaml", "analysis/tripod_ai.yaml",
                 "analysis/paper/published.csv", "index.qmd", "validation.qmd", "_quarto.yml"):
        assert (Path(root) / name).is_file(), name
    out, _, _ = report_run
    record = json.loads((out / "run.json").read_text())
    assert info["git_commit"] and record["git_commit"] == info["git_commit"]
    assert record["reports"] == {"html": "report.html", "pdf": "report.pdf", "docx": "report.docx"}
