"""Helpers shared by the table builders."""

from __future__ import annotations

import pandas as pd


def leading(table: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    """``table`` with the columns ``first`` moved to the front (those it has)."""
    head = [c for c in first if c in table.columns]
    return table[head + [c for c in table.columns if c not in head]]
