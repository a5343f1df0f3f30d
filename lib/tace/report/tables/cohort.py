"""Cohort tables: the analysis flow, Table 1 and the outcomes by cohort."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..selection import as_bool

__all__ = ["analysis_flow", "outcomes_by_cohort", "table_one"]

#: Table 1's variables, their display names, and which are categorical or skewed.
TABLE_ONE_COLUMNS = ("age", "sex", "bclc", "tumor_number", "tumor_size_cm", "afp_ng_ml", "child_pugh")
TABLE_ONE_CATEGORICAL = ("sex", "bclc", "child_pugh")
TABLE_ONE_NONNORMAL = ("afp_ng_ml", "tumor_number")
TABLE_ONE_NAMES = {"tumor_number": "tumour number", "tumor_size_cm": "tumour size, cm", "afp_ng_ml": "AFP, ng/mL",
                   "child_pugh": "Child-Pugh", "bclc": "BCLC stage"}


def analysis_flow(data: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Patients of each cohort, those analysed and those left out with the reason
    (TRIPOD+AI item 20a): response cohorts need an mRECIST outcome, the follow-up cohort a
    follow-up time."""
    rows = []
    for c in order:
        part = data[data["cohort"] == c]
        if c == "followup":
            usable, analysis, reason = int(part["os_months"].notna().sum()), "overall survival", "no follow-up time"
        else:
            usable = int(part["nonresponse"].notna().sum())
            analysis, reason = "response (mRECIST)", "no mRECIST assessment"
        rows.append({"cohort": c, "patients": len(part), "analysed": usable, "left_out": len(part) - usable,
                     "analysis": analysis, "reason": reason})
    return pd.DataFrame(rows)


def table_one(data: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Patient characteristics by cohort with ``tableone`` (Pollard et al. 2018): mean (SD),
    median [Q1,Q3] or n (%), missing counts, and where there are two or more cohorts the
    p-values across them, the tests used and pairwise standardised mean differences.
    Outcomes are not in it (:func:`outcomes_by_cohort`): the follow-up cohort has no mRECIST
    by design."""
    from tableone import TableOne

    compare = len(order) > 1  # tests and SMDs need two cohorts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tableone's advice on small cells is in the table's notes
        t1 = TableOne(data, columns=list(TABLE_ONE_COLUMNS), categorical=list(TABLE_ONE_CATEGORICAL),
                      nonnormal=list(TABLE_ONE_NONNORMAL), groupby="cohort", pval=compare, smd=compare,
                      htest_name=compare, missing=True, rename=TABLE_ONE_NAMES)
    table = t1.tableone.copy()
    table.columns = [" ".join(str(x) for x in col if str(x) and not str(x).startswith("Grouped")).strip() or "value"
                     for col in table.columns]
    table = table.reset_index().rename(columns={"level_0": "variable", "level_1": "level"})
    smd = sorted(c for c in table.columns if c.startswith("SMD"))
    return table[[c for c in ["variable", "level", "Missing", "Overall", *order, "P-Value", "Test", *smd]
                  if c in table.columns]]


def outcomes_by_cohort(data: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Non-response (mRECIST SD or PD; rate of those assessed) and deaths by cohort, with the
    median follow-up and its quartiles by the reverse Kaplan-Meier method
    (:func:`tace.stats.follow_up`; not the median of all observed times, which counts a death
    as the end of follow-up and so falls as mortality rises)."""
    from ...stats import follow_up

    rows = []
    for c in order:
        part = data[data["cohort"] == c]
        known = pd.Series(as_bool(part["nonresponse"].dropna()))
        timed = part[part["os_months"].notna() & part["os_event"].notna()]
        fu = follow_up(timed["os_months"], timed["os_event"].astype(int)) if len(timed) else None
        rows.append({"cohort": c, "patients": len(part), "with_mrecist": int(part["nonresponse"].notna().sum()),
                     "nonresponders": int(known.sum()),
                     "nonresponse_rate": known.mean() if len(known) else np.nan,
                     "with_survival": int(part["os_months"].notna().sum()),
                     "deaths": int(part["os_event"].fillna(0).sum()),
                     "median_follow_up_months": fu.median if fu else np.nan,
                     "follow_up_q1_months": fu.q1 if fu else np.nan,
                     "follow_up_q3_months": fu.q3 if fu else np.nan})
    return pd.DataFrame(rows)
