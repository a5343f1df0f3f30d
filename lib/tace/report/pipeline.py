"""The report pipeline, stage by stage: cohort, cohort check, then (when built) training,
validation notebooks and rendering.

Until every stage exists, a run does what is built, records it in ``run.json``, and says
plainly which stages are not built yet.
"""

from __future__ import annotations

import json
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from .. import __version__
from ..cohort import Cohort, load_cohort, summarize
from ..cohort.synthetic import generate_twin
from ..io import atomic_directory
from ..profiles import Profile

__all__ = ["NOT_BUILT", "RunResult", "run_report"]

#: Stages of the paper report that do not exist yet, and the issue that builds each.
NOT_BUILT: tuple[tuple[str, str], ...] = (
    ("model training (clinical, radiomics, DCNN, DLR) and frozen bundles", "issue 4"),
    ("statistics: AUC CIs, DeLong, calibration, decision curves, survival", "issue 3"),
    ("validation notebooks (papermill) and the rendered TRIPOD+AI report", "issue 5"),
)


@dataclass(frozen=True)
class RunResult:
    """What a report run produced."""

    out: Path
    manifest: Path
    synthetic: bool
    cohort: Cohort
    stages_done: tuple[str, ...]
    stages_not_built: tuple[str, ...]


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def run_report(profile: Profile, out: Path, *, cohort: Path | None = None, n_jobs: int = -1,
               console: Console | None = None) -> RunResult:
    """Run every stage that exists, into ``out`` (replaced only once the run succeeds).

    Parameters
    ----------
    profile
        The run profile.
    out
        The run folder, e.g. ``reports/default``.
    cohort
        A manifest to use instead of the digital twin. It is read, never copied or changed.
    n_jobs
        Parallel workers.
    console
        Where progress is printed.
    """
    console = console or Console(stderr=True)
    done = []
    with atomic_directory(out, overwrite=True) as tmp:
        if cohort is None:
            console.rule(f"[bold]1. Digital-twin cohort (synthetic data), profile {profile.name}")
            twin = generate_twin(tmp / "cohort", profile.synthetic, profile.seed, n_jobs=n_jobs,
                                 progress=True, preview=True)
            manifest = twin.manifest
            done.append("digital-twin cohort")
        else:
            manifest = Path(cohort)
        console.rule("[bold]2. Cohort check (data contract)")
        checked: Cohort = load_cohort(manifest, n_jobs=n_jobs, progress=True)
        summary = summarize(checked.table)
        (tmp / "cohort_check").mkdir()
        summary.by_cohort.to_csv(tmp / "cohort_check" / "by_cohort.csv", index=False)
        summary.missing.to_csv(tmp / "cohort_check" / "missing.csv", index=False)
        done.append("cohort check")
        record = {
            "tace_version": __version__,
            "git_commit": _git_commit(),
            "python": platform.python_version(),
            "profile": profile.model_dump(mode="json"),
            "data_source": "synthetic (digital twin)" if cohort is None else "user cohort",
            "manifest": str(manifest.relative_to(tmp)) if cohort is None else str(Path(cohort).resolve()),
            "manifest_sha256": checked.sha256,
            "stages_done": done,
            "stages_not_built": [f"{what} ({issue})" for what, issue in NOT_BUILT],
        }
        (tmp / "run.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    final_manifest = out / "cohort" / "manifest.csv" if cohort is None else Path(cohort)
    return RunResult(Path(out), final_manifest, cohort is None, checked, tuple(done),
                     tuple(record["stages_not_built"]))
