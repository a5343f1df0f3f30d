"""Which patients and scores a report figure or table uses: those of one cohort with a known
outcome, and probabilities moved off 0 and 1. Shared by :mod:`tace.report.figures` and
:mod:`tace.report.tables`, so that a figure and the table beside it select alike."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["PROBABILITY_FLOOR", "as_bool", "assessed", "clipped"]

#: Probabilities of exactly 0 or 1 have no logit: they are moved this far inside (0, 1).
PROBABILITY_FLOOR = 1e-6


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
