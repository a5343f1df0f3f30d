"""Provenance of every figure and table: the files a reviewer needs to audit it.

For a figure ``fig-roc-test`` the run folder gets, under ``figures/``:

- ``fig-roc-test.png`` and ``fig-roc-test.svg``: the figure;
- ``fig-roc-test.csv``: the data drawn, as a table;
- ``fig-roc-test.json``: the sidecar: id, caption, alt text, the notebook and cell that drew
  it, every input file with its sha256, the profile's parameters, the seed, the git commit
  and the package versions.

Tables (``tab-...``) get the CSV and the sidecar. Every file is written atomically, and the
bytes depend only on the content (no dates, fixed SVG ids), so a re-run with the same seed
gives identical files.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from .. import __version__
from ..io import atomic_write_bytes, atomic_write_text, csv_text, sha256_file

__all__ = ["Provenance", "git_commit"]

_ID = re.compile(r"^(fig|tab)-[a-z0-9]+(-[a-z0-9]+)*$")


def git_commit() -> str | None:
    """The commit of the source tree tace runs from, with ``+dirty`` when it has changes."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                              timeout=10, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head, dirty = "", ""
    if not head:  # an installed wheel: the commit it was built from
        from ..resources import build_info

        return build_info().get("git_commit")
    return head + ("+dirty" if dirty else "")


@dataclass(frozen=True)
class Provenance:
    """Where a notebook's figures and tables go, and what they were made from.

    Parameters
    ----------
    run_dir
        The run folder; outputs go to ``run_dir / "figures"``.
    notebook
        The notebook that draws them, relative to the repository (e.g.
        ``analysis/05_discrimination.ipynb``).
    profile
        The profile's parameters (``Profile.model_dump(mode="json")``).
    seed
        The run's seed.
    inputs
        Named input files; each is hashed into every sidecar.
    """

    run_dir: Path
    notebook: str
    profile: dict
    seed: int
    inputs: dict[str, Path] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return Path(self.run_dir) / "figures"

    def _sidecar(self, item_id: str, kind: str, cell: str, caption: str, alt: str | None,
                 files: list[str]) -> dict:
        from ..models.bundle import package_versions

        return {
            "id": item_id, "kind": kind, "caption": caption, "alt": alt,
            "notebook": self.notebook, "cell": cell, "files": files,
            "inputs": {name: {"path": self._shown(path), "sha256": sha256_file(path)}
                       for name, path in sorted(self.inputs.items())},
            "profile": self.profile, "seed": self.seed, "git_commit": git_commit(),
            "tace_version": __version__, "packages": package_versions(),
        }

    def _shown(self, path: Path) -> str:
        """Paths inside the run folder are recorded relative to it (the folder may move)."""
        try:
            return str(Path(path).resolve().relative_to(Path(self.run_dir).resolve()))
        except ValueError:
            return str(path)

    def _check(self, item_id: str, kind: str) -> None:
        if not _ID.match(item_id) or not item_id.startswith(kind[:3]):
            raise ValueError(f"{kind} id {item_id!r} must look like '{kind[:3]}-name-part' "
                             "(lower-case letters, digits and single hyphens)")

    def save_figure(self, fig: Figure, fig_id: str, *, cell: str, data: pd.DataFrame, caption: str,
                    alt: str) -> Path:
        """Write the figure as PNG and SVG, its data as CSV, and its sidecar; return the PNG.

        The sidecar also records the figure's legibility at the article's printed width
        (:func:`tace.plots.legibility.check_legibility`): smallest font, overlapping texts,
        texts cut off."""
        from ..plots.legibility import check_legibility

        self._check(fig_id, "figure")
        legibility = check_legibility(fig)
        self.folder.mkdir(parents=True, exist_ok=True)
        png, svg = io.BytesIO(), io.BytesIO()
        fig.savefig(png, format="png", dpi=150, metadata={"Software": None})
        import matplotlib

        with matplotlib.rc_context({"svg.hashsalt": fig_id}):
            fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
        files = [f"{fig_id}.png", f"{fig_id}.svg", f"{fig_id}.csv", f"{fig_id}.json"]
        atomic_write_bytes(self.folder / files[0], png.getvalue())
        atomic_write_bytes(self.folder / files[1], svg.getvalue())
        atomic_write_text(self.folder / files[2], csv_text(data, float_format="%.6g"))
        sidecar = self._sidecar(fig_id, "figure", cell, caption, alt, files)
        sidecar["legibility"] = legibility.to_dict()
        atomic_write_text(self.folder / files[3], json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
        return self.folder / files[0]

    def save_table(self, table: pd.DataFrame, tab_id: str, *, cell: str, caption: str) -> Path:
        """Write a table as CSV with its sidecar; return the CSV."""
        self._check(tab_id, "table")
        self.folder.mkdir(parents=True, exist_ok=True)
        files = [f"{tab_id}.csv", f"{tab_id}.json"]
        atomic_write_text(self.folder / files[0], csv_text(table, float_format="%.6g"))
        sidecar = self._sidecar(tab_id, "table", cell, caption, None, files)
        atomic_write_text(self.folder / files[1], json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
        return self.folder / files[0]
