"""The report pipeline, stage by stage: cohort, cohort check, model development, scores and
AUCs, then (when built) the validation notebooks and rendering.

Until every stage exists, a run does what is built, records it in ``run.json``, and says
plainly which stages are not built yet.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rich.console import Console

from .. import __version__
from ..cohort import Cohort, load_cohort, summarize
from ..cohort.synthetic import generate_twin
from ..io import atomic_directory
from ..models import predict_cohort, train_models
from ..profiles import Profile
from .notebooks import NOTEBOOKS, run_notebook
from .provenance import git_commit

__all__ = ["NOT_BUILT", "RunResult", "run_report"]

#: Stages of the paper report that do not exist yet, and the issue that builds each.
NOT_BUILT: tuple[tuple[str, str], ...] = (
    ("the other validation notebooks (01 cohort, 02 clinical, 03 radiomics, 04 deep learning, "
     "08 the paper side by side)", "issue 5"),
    ("the rendered TRIPOD+AI report (Quarto manuscript or its fallback) and its checklist", "issue 5"),
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
    discrimination: pd.DataFrame


def discrimination_table(scores: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """AUC with DeLong 95% CI of each model in each cohort with outcomes."""
    from ..models import SCORE_COLUMNS
    from ..stats import roc_auc

    merged = scores.merge(table[["patient_id", "nonresponse"]], on="patient_id")
    rows = []
    for cohort_name in ("train", "test", "external"):
        part = merged[(merged["cohort"] == cohort_name) & merged["nonresponse"].notna()]
        y = part["nonresponse"].astype(bool)
        if len(part) < 2 or y.all() or not y.any():
            continue
        for model in SCORE_COLUMNS:
            est = roc_auc(y.to_numpy(), part[model].to_numpy())
            rows.append({"cohort": cohort_name, "model": model, "n": est.n, "events": est.n_events,
                         "auc": est.estimate, "ci_low": est.ci_low, "ci_high": est.ci_high, "method": est.method})
    return pd.DataFrame(rows)


def run_report(profile: Profile, out: Path, *, cohort: Path | None = None, n_jobs: int = -1,
               console: Console | None = None, cache_dir: Path | None = None,
               profile_name: str | None = None) -> RunResult:
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
    """
    console = console or Console(stderr=True)
    profile_name = profile_name or profile.name  # what the notebooks load (a name or a YAML path)
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

        console.rule("[bold]3. Model development (training patients only)")
        trained = train_models(checked, profile, tmp / "models", cache_dir=cache_dir, n_jobs=n_jobs,
                               console=console)
        done.append("model development and frozen bundle")
        console.rule("[bold]4. Scores of every patient from the frozen bundle")
        scores = predict_cohort(trained.bundle, checked, cache_dir=cache_dir, n_jobs=n_jobs, progress=True)
        scores.to_csv(tmp / "scores.csv", index=False, float_format="%.6g")
        auc = discrimination_table(scores, checked.table)
        auc.to_csv(tmp / "discrimination.csv", index=False)
        done.append("scores and AUCs (DeLong)")
        outcomes = checked.table[["patient_id", "cohort", "nonresponse", "os_months", "os_event", "age", "sex",
                                  "bclc", "tumor_number", "tumor_size_cm", "afp_ng_ml", "child_pugh"]]
        outcomes.to_csv(tmp / "outcomes.csv", index=False)
        for i, name in enumerate(NOTEBOOKS, start=5):
            console.rule(f"[bold]{i}. Notebook {name} (papermill)")
            run_notebook(name, tmp, profile_name)
            done.append(f"notebook {name}")
        record = {
            "tace_version": __version__,
            "git_commit": git_commit(),
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
                     tuple(record["stages_not_built"]), auc)
