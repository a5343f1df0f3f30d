"""What a cohort holds: patients, outcome and survival per cohort, and missing values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .schema import COLUMNS, CohortName

__all__ = ["CohortSummary", "missing_by_cohort", "missing_patterns", "print_warnings", "summarize"]

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
        ``missing`` (count, all rows), ``missing_pct``, ``missing_where_required`` (rows in
        which the contract requires the column; for a predictor, the train and internal rows
        that may develop the models) and ``missing_where_optional`` (the others, e.g. mRECIST
        in the follow-up cohort, or a predictor to be imputed in a validation patient).
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
    followup = (table["cohort"] == CohortName.FOLLOWUP.value).to_numpy()
    training = table["cohort"].isin([CohortName.TRAIN.value, CohortName.INTERNAL.value]).to_numpy()
    required_rows = {"always": np.ones(len(table), dtype=bool), "except followup": ~followup,
                     "followup": followup, "predictor": training, "optional": np.zeros(len(table), dtype=bool)}
    rows = []
    for c in COLUMNS:
        isna = table[c.name].isna().to_numpy()
        where = required_rows[c.required]
        rows.append({"column": c.name, "required": c.required, "missing": int(isna.sum()),
                     "missing_pct": 100.0 * float(isna.mean()) if len(isna) else 0.0,
                     "missing_where_required": int((isna & where).sum()),
                     "missing_where_optional": int((isna & ~where).sum())})
    missing = pd.DataFrame(rows)
    return CohortSummary(by_cohort, missing)


def print_warnings(cohort, console) -> None:
    """Print what the cohort check allowed but a person should look at (``Cohort.warnings``)
    on a rich ``console``."""
    for text in cohort.warnings:
        console.print(f"[bold yellow]Warning[/]: {text}", highlight=False)



def missing_by_cohort(table: pd.DataFrame, columns, order) -> pd.DataFrame:
    """Missing values of each column by cohort (TRIPOD+AI item 9): one row per column, per
    cohort of ``order`` the count and the percentage of its patients, and the total."""
    rows = []
    for col in columns:
        row: dict = {"predictor": col}
        for c in order:
            part = table.loc[table["cohort"] == c, col]
            row[f"{c}_missing"] = int(part.isna().sum())
            row[f"{c}_pct"] = 100.0 * float(part.isna().mean()) if len(part) else float("nan")
        row["total_missing"] = int(table[col].isna().sum())
        rows.append(row)
    return pd.DataFrame(rows)


def missing_patterns(table: pd.DataFrame, columns, order) -> pd.DataFrame:
    """The patterns of missing values (as ``mice::md.pattern``): each combination of missing
    columns that occurs, how many columns it lacks, and how many patients of each cohort of
    ``order`` have it; the complete pattern first, then by frequency."""
    columns = list(columns)
    isna = table[columns].isna()
    label = isna.apply(lambda r: " + ".join(c for c, m in r.items() if m) or "none missing", axis=1)
    rows = []
    for pattern, idx in label.groupby(label).groups.items():
        part = table.loc[idx]
        row: dict = {"pattern": pattern, "n_missing_columns": int(isna.loc[idx[0]].sum())}
        row.update({c: int((part["cohort"] == c).sum()) for c in order})
        row["total"] = len(idx)
        rows.append(row)
    out = pd.DataFrame(rows)
    out = out.sort_values(["n_missing_columns", "total"], ascending=[True, False], kind="stable")
    return out.reset_index(drop=True)
