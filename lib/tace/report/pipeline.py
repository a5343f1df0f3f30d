"""The report pipeline, stage by stage: cohort (the digital twin unless one is given), cohort
check, model development, scores, the eight validation notebooks (papermill), and the
rendered article. Everything is written into a temporary folder that replaces the run folder
only when every stage succeeded, so a failed run never leaves a report looking complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rich.console import Console

from ..cohort import Cohort, load_cohort, print_warnings, summarize
from ..cohort.synthetic import generate_twin
from ..io import atomic_directory, atomic_write_text, csv_text
from ..models import score_cohort, train_models
from ..profiles import RUN_PROFILE, Profile, write_profile
from .notebooks import NOTEBOOKS
from .render import FORMATS
from .stages import OUTCOME_COLUMNS, publish, read_auc_table, run_environment, run_notebooks

__all__ = ["RunResult", "run_report"]


@dataclass(frozen=True)
class RunResult:
    """What a report run produced."""

    out: Path
    manifest: Path
    synthetic: bool
    cohort: Cohort
    stages_done: tuple[str, ...]
    discrimination: pd.DataFrame  # notebook 05's AUCs (DeLong), as the report shows them
    report: Path
    renderer: str
    reports: tuple[tuple[str, Path], ...] = ()


def run_report(profile: Profile, out: Path, *, cohort: Path | None = None, n_jobs: int = -1,
               console: Console | None = None, cache_dir: Path | None = None,
               renderer: str = "auto", formats: tuple[str, ...] = FORMATS) -> RunResult:
    """Run every stage that exists, into ``out`` (replaced only once the run succeeds).

    Parameters
    ----------
    profile
        The run profile.
    out
        The run folder, e.g. ``reports/default``.
    cohort
        A manifest to use instead of the digital twin. It is read, never copied or changed.
        Its ``train`` rows (or ``internal``, split by the profile's seed) develop the models.
    n_jobs
        Parallel workers.
    console
        Where progress is printed.
    cache_dir
        Radiomics cache (default: :func:`tace.features.default_cache_dir`).
    renderer
        ``auto`` (Quarto when on PATH, else the fallback), ``quarto`` or ``fallback``.
    formats
        The article's formats: ``html``, ``pdf``, ``docx`` (default all three).
    """
    console = console or Console(stderr=True)
    done = []
    protected = (Path(cohort).resolve().parent,) if cohort is not None else ()
    with atomic_directory(out, overwrite=True, marker="tace report", protected=protected) as tmp:
        write_profile(profile, tmp / RUN_PROFILE)  # what every later step reads
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
        print_warnings(checked, console)
        summary = summarize(checked.table)
        (tmp / "cohort_check").mkdir()
        atomic_write_text(tmp / "cohort_check" / "by_cohort.csv", csv_text(summary.by_cohort))
        atomic_write_text(tmp / "cohort_check" / "missing.csv", csv_text(summary.missing))
        done.append("cohort check")

        console.rule("[bold]3. Model development (training patients only)")
        trained = train_models(checked, profile, tmp / "models", cache_dir=cache_dir, n_jobs=n_jobs,
                               console=console)
        done.append("model development and frozen bundle")
        console.rule("[bold]4. Scores of every patient from the frozen bundle")
        scored = score_cohort(trained.bundle, checked, cache_dir=cache_dir, n_jobs=n_jobs, progress=True)
        atomic_write_text(tmp / "scores.csv", csv_text(scored.scores, float_format="%.6g"))
        atomic_write_text(tmp / "imputations.csv", csv_text(scored.imputations, float_format="%.6g"))
        atomic_write_text(tmp / "outcomes.csv", csv_text(checked.table[OUTCOME_COLUMNS]))
        done.append("scores")
        done += run_notebooks(NOTEBOOKS, tmp, RUN_PROFILE, console, first_stage=5)
        auc = read_auc_table(tmp)
        record = {
            **run_environment(),
            "profile": profile.model_dump(mode="json"),
            "data_source": "synthetic (digital twin)" if cohort is None else "user cohort",
            "manifest": str(manifest.relative_to(tmp)) if cohort is None else str(Path(cohort).resolve()),
            "manifest_sha256": checked.sha256,
            "stages_done": done,
        }
        console.rule(f"[bold]{len(NOTEBOOKS) + 5}. The article (TRIPOD+AI report)")
        rendered = publish(tmp, record, renderer, formats, synthetic=cohort is None)
    final_manifest = out / "cohort" / "manifest.csv" if cohort is None else Path(cohort)
    return RunResult(Path(out), final_manifest, cohort is None, checked, tuple(record["stages_done"]), auc,
                     Path(out) / record["report"], rendered.renderer,
                     tuple((fmt, Path(out) / path.relative_to(tmp)) for fmt, path in rendered.outputs))
