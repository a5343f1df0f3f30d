"""What a cohort holds: patients, outcome and survival per cohort, and missing values."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .schema import COLUMNS, CohortName

__all__ = ["CohortSummary", "summarize"]

_ORDER = [c.value for c in CohortName]


@dataclass(frozen=True)
class CohortSummary:
    """Summary of a :class:`tace.cohort.Cohort`.

    Attributes
    ----------
    by_cohort
        One row per cohort present: ``patients``, ``with_mrecist``, ``nonresponders``,
        ``nonresponse_rate`` (of those with mRECIST), ``with_survival``, ``deaths``,
        ``median_os_months`` (median observed time, censored or not), ``median_tumour_ml``.
    missing
        One row per manifest column: ``column``, ``required`` (when it is required),
        ``missing`` (count) and ``missing_pct``.
    """

    by_cohort: pd.DataFrame
    missing: pd.DataFrame


def summarize(table: pd.DataFrame) -> CohortSummary:
    """Summarise a cohort table (:attr:`tace.cohort.Cohort.table`)."""
    rows = []
    present = [c for c in _ORDER if (table["cohort"] == c).any()]
    for name in present:
        part = table[table["cohort"] == name]
        known = part["nonresponse"].dropna()
        surv = part.dropna(subset=["os_months", "os_event"])
        rows.append({
            "cohort": name,
            "patients": len(part),
            "with_mrecist": len(known),
            "nonresponders": int(known.sum()),
            "nonresponse_rate": float(known.mean()) if len(known) else float("nan"),
            "with_survival": len(surv),
            "deaths": int(surv["os_event"].sum()) if len(surv) else 0,
            "median_os_months": float(surv["os_months"].median()) if len(surv) else float("nan"),
            "median_tumour_ml": float(part["roi_volume_ml"].median()),
        })
    by_cohort = pd.DataFrame(rows)
    missing = pd.DataFrame([
        {"column": c.name, "required": c.required,
         "missing": int(table[c.name].isna().sum()),
         "missing_pct": 100.0 * float(table[c.name].isna().mean())}
        for c in COLUMNS
    ])
    return CohortSummary(by_cohort, missing)
