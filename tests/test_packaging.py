"""The project's set-up files agree with each other."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

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
