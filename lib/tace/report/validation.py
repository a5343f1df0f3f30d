"""``tace validate``: the frozen models on a new cohort, without retraining and without the
development data.

Stages: open the bundle (every file's sha256 checked), check the cohort against the data
contract (every problem at once), score it, run the validation notebooks (01 cohort, 05
discrimination, 06 calibration, 07 survival where follow-up is present, 09 external
validation: development comparison, case mix, sample size, updating, subgroups), and render
the validation article. Every patient of the cohort is a validation patient: rows labelled
``train``, ``test`` or ``internal`` are analysed as ``external`` (their label is kept as
``source_cohort``); ``followup`` rows stay the survival cohort. As ``tace report``, the run
folder appears only when every stage succeeded; the bundle and the cohort are only read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rich.console import Console

from ..cohort import Cohort, load_cohort, print_warnings
from ..io import atomic_directory, atomic_write_text, check_out_folder, csv_text, sha256_file
from ..io.text import TEXT_CAP, visible
from ..models import read_bundle, score_cohort
from ..profiles import RUN_PROFILE, write_profile
from .render import FORMATS
from .stages import OUTCOME_COLUMNS, publish, run_environment, run_notebooks

__all__ = ["VALIDATION_NOTEBOOKS", "ValidationResult", "run_validation"]

#: The notebooks of a validation run, in order (09 reads the bundle's development summary).
VALIDATION_NOTEBOOKS = ("01_cohort.ipynb", "05_discrimination.ipynb", "06_calibration_utility.ipynb",
                        "07_survival.ipynb", "09_external_validation.ipynb")

@dataclass(frozen=True)
class ValidationResult:
    """What a validation run produced."""

    out: Path
    cohort: Cohort
    n_patients: int
    report: Path
    renderer: str
    stages_done: tuple[str, ...]
    reports: tuple[tuple[str, Path], ...] = ()


def _as_validation(cohort_column: pd.Series) -> pd.Series:
    return cohort_column.where(cohort_column == "followup", "external")


def run_validation(models: Path, manifest: Path, out: Path, *, mask_label: int | None = None, n_jobs: int = -1,
                   console: Console | None = None, cache_dir: Path | None = None, renderer: str = "auto",
                   note: str | None = None, device: str | None = None,
                   formats: tuple[str, ...] = FORMATS) -> ValidationResult:
    """Validate the bundle in ``models`` on the cohort of ``manifest`` into ``out``.

    Parameters
    ----------
    models
        The frozen bundle (or a ``tace train`` output folder holding ``bundle/``).
    manifest
        The validation cohort's manifest; read, never copied or changed.
    out
        The run folder (replaced only when the run succeeds).
    note
        A sentence the report states about the data (e.g. that the outcomes are made up).
    formats
        The article's formats: ``html``, ``pdf``, ``docx`` (default all three).
    """
    console = console or Console(stderr=True)
    # the note is the user's text: shown as its characters, capped, in every output (tace.io.text)
    note = visible(note, TEXT_CAP, one_line=True) or None if note else None
    done: list[str] = []
    console.rule("[bold]1. The frozen bundle (sha256 of every file)")
    bundle = read_bundle(models)
    apart = {"protected": (Path(manifest).resolve().parent,), "sealed": (bundle.folder,)}  # --out keeps off
    check_out_folder(out, **apart)  # before any work
    profile = bundle.profile
    console.print(f"Bundle {bundle.folder}: profile {profile.name}, developed on "
                  f"{bundle.manifest['training_cohort']['n']} patients")
    console.rule("[bold]2. Cohort check (data contract)")
    checked = load_cohort(manifest, mask_label=mask_label, n_jobs=max(n_jobs, 1), progress=True)
    print_warnings(checked, console)
    with atomic_directory(out, overwrite=True, marker="tace validate", **apart) as tmp:
        write_profile(profile, tmp / RUN_PROFILE)  # the bundle's own profile, read by every notebook
        copy = tmp / "models" / "bundle"
        bundle.copy_to(copy)  # the report carries the models it validated: the listed files only
        done += ["bundle verified", "cohort check"]
        console.rule("[bold]3. Scores from the frozen bundle")
        scored = score_cohort(copy, checked, cache_dir=cache_dir, n_jobs=n_jobs, progress=True, device=device)
        scores = scored.scores
        scores["cohort"] = _as_validation(scores["cohort"])
        atomic_write_text(tmp / "scores.csv", csv_text(scores, float_format="%.6g"))
        atomic_write_text(tmp / "imputations.csv", csv_text(scored.imputations, float_format="%.6g"))
        table = checked.table
        outcomes = table[OUTCOME_COLUMNS + [c for c in ("site", "scanner") if c in table]].copy()
        outcomes.insert(2, "source_cohort", outcomes["cohort"])
        outcomes["cohort"] = _as_validation(outcomes["cohort"])
        atomic_write_text(tmp / "outcomes.csv", csv_text(outcomes))
        done.append("scores")
        done += run_notebooks(VALIDATION_NOTEBOOKS, tmp, RUN_PROFILE, console, first_stage=4)
        record = {
            "kind": "external validation (tace validate)",
            **run_environment(),
            "profile": profile.model_dump(mode="json"),
            "data_source": "user cohort" + (f" ({note})" if note else ""),
            "manifest": str(Path(manifest).resolve()),
            "manifest_sha256": checked.sha256,
            "bundle": str(bundle.folder.resolve()),
            "bundle_sha256": sha256_file(bundle.folder / "manifest.json"),
            "bundle_training_n": bundle.manifest["training_cohort"]["n"],
            "stages_done": done,
        }
        console.rule(f"[bold]{len(VALIDATION_NOTEBOOKS) + 4}. The validation article (TRIPOD+AI)")
        rendered = publish(tmp, record, renderer, formats, synthetic=False, article="validation.qmd",
                           notebooks=VALIDATION_NOTEBOOKS, note=note)
    return ValidationResult(Path(out), checked, len(scores), Path(out) / record["report"], rendered.renderer,
                            tuple(record["stages_done"]),
                            tuple((fmt, Path(out) / path.relative_to(tmp)) for fmt, path in rendered.outputs))
