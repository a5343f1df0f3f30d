"""Which patients and scores a report figure or table uses: those of one cohort with a known
outcome, and probabilities moved off 0 and 1. Shared by :mod:`tace.report.figures` and
:mod:`tace.report.tables`, so that a figure and the table beside it select alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["CROSS_VALIDATED", "CROSS_VALIDATED_FILE", "ESTIMATE_KIND", "PROBABILITY_FLOOR", "as_bool", "assessed",
           "clipped", "cohort_title", "cross_validated_scores", "estimate_kind"]

#: Probabilities of exactly 0 or 1 have no logit: they are moved this far inside (0, 1).
PROBABILITY_FLOOR = 1e-6

#: The cohort key of the training patients' cross-validated predictions (the whole pipeline
#: refitted without each fold: ``models/training/oof_predictions.csv``), beside ``train``,
#: which holds the frozen models' in-sample (apparent) predictions.
CROSS_VALIDATED = "train-cv"

#: What a cohort's estimates are (TRIPOD+AI 12e, 23): the training patients' apparent
#: (in-sample, optimistic) and cross-validated estimates, and held-out ones.
ESTIMATE_KIND = {"train": "apparent", CROSS_VALIDATED: "cross-validated", "test": "held-out test",
                 "external": "external"}

#: Where the training record keeps the cross-validated predictions, relative to a run folder.
CROSS_VALIDATED_FILE = "models/training/oof_predictions.csv"


def estimate_kind(cohort: str) -> str:
    """``apparent``, ``cross-validated``, ``held-out test`` or ``external`` (any other cohort
    of a validation run: ``external``)."""
    return ESTIMATE_KIND.get(cohort, "external")


def cohort_title(cohort: str) -> str:
    """How a figure names a cohort and the kind of its estimate.

    >>> cohort_title("train"), cohort_title("train-cv"), cohort_title("test")
    ('train cohort, apparent', 'train cohort, cross-validated', 'test cohort')
    """
    if cohort == CROSS_VALIDATED:
        return "train cohort, cross-validated"
    return f"{cohort} cohort, apparent" if cohort == "train" else f"{cohort} cohort"


def cross_validated_scores(run: Path, models) -> pd.DataFrame | None:
    """The training patients' cross-validated predictions of a report run, as rows of cohort
    :data:`CROSS_VALIDATED` (``patient_id``, ``cohort``, ``nonresponse`` and one column per
    model), or None where the run has no training record (a validation run)."""
    path = Path(run) / CROSS_VALIDATED_FILE
    if not path.is_file():
        return None
    oof = pd.read_csv(path)
    missing = [m for m in models if m not in oof.columns]
    if missing:
        raise ValueError(f"{path}: no cross-validated {', '.join(missing)} column; expected the training record "
                         "of this version of tace (retrain with tace report)")
    return oof[["patient_id", "nonresponse", *models]].assign(cohort=CROSS_VALIDATED)


def as_bool(values: pd.Series) -> np.ndarray:
    """An outcome column read from CSV (True/False, 1/0 or 1.0/0.0) as booleans."""
    return values.astype(str).isin(["True", "1", "1.0"]).to_numpy()


def assessed(data: pd.DataFrame, cohort: str, outcome: str = "nonresponse") -> tuple[pd.DataFrame, np.ndarray]:
    """The patients of ``cohort`` with a known ``outcome``, and that outcome as booleans."""
    part = data[(data["cohort"] == cohort) & data[outcome].notna()].reset_index(drop=True)
    return part, as_bool(part[outcome])


def clipped(values: pd.Series) -> np.ndarray:
    """Probabilities moved :data:`PROBABILITY_FLOOR` inside (0, 1), as floats."""
    return values.clip(PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR).to_numpy(dtype=float)
