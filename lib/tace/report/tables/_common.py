"""Helpers shared by the table builders."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..figures import PROBABILITY_FLOOR  # one floor for the figures and the tables


def assessed(data: pd.DataFrame, cohort: str, outcome: str = "nonresponse") -> tuple[pd.DataFrame, np.ndarray]:
    """The patients of ``cohort`` with a known ``outcome``, and that outcome as booleans."""
    part = data[(data["cohort"] == cohort) & data[outcome].notna()].reset_index(drop=True)
    return part, as_bool(part[outcome])


def as_bool(values: pd.Series) -> np.ndarray:
    """An outcome column read from CSV (True/False, 1/0 or 1.0/0.0) as booleans."""
    return values.astype(str).isin(["True", "1", "1.0"]).to_numpy()


def clipped(values: pd.Series) -> np.ndarray:
    """Probabilities moved :data:`PROBABILITY_FLOOR` inside (0, 1), as floats."""
    return values.clip(PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR).to_numpy(dtype=float)


def leading(table: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    """``table`` with the columns ``first`` moved to the front (those it has)."""
    head = [c for c in first if c in table.columns]
    return table[head + [c for c in table.columns if c not in head]]
