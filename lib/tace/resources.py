"""Where tace's own source files live: the notebooks, the profiles, the article sources.

The suite's notebooks (``analysis/*.ipynb``), run profiles (``analysis/params``), the
published values (``analysis/paper``), the TRIPOD+AI checklist and the article sources
(``index.qmd``, ``validation.qmd``, ``_quarto.yml``) sit at the top of the repository, where
a reader of the project finds them. A wheel carries a copy of them as package data
(``tace/_source``, put there by ``setup.py`` at build time, with the commit it was built
from). :func:`source_root` is the repository in a source checkout (an editable install) and
that copy in an installed wheel, read through :mod:`importlib.resources`.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = ["SOURCE_FILES", "build_info", "source_root"]

#: The top-level files and folders a wheel carries (``setup.py`` copies exactly these).
SOURCE_FILES = ("analysis", "index.qmd", "validation.qmd", "_quarto.yml")


def _is_root(path: Path) -> bool:
    return all((path / name).exists() for name in SOURCE_FILES)


@cache
def source_root() -> Path:
    """The folder holding ``analysis/``, ``index.qmd``, ``validation.qmd`` and ``_quarto.yml``."""
    checkout = Path(__file__).resolve().parents[2]
    if _is_root(checkout):
        return checkout
    packaged = resources.files("tace") / "_source"
    path = Path(str(packaged))
    if not _is_root(path):
        raise FileNotFoundError(f"tace's source files (analysis/, index.qmd, ...) are neither in a checkout at "
                                f"{checkout} nor packaged at {path}: reinstall tace")
    return path


@cache
def build_info() -> dict:
    """What ``setup.py`` recorded when the wheel was built (``git_commit``); empty in a checkout."""
    info = resources.files("tace") / "_source" / "build.json"
    try:
        return json.loads(info.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return {}
