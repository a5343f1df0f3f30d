"""Discrimination tables: AUCs with two intervals, pairwise DeLong tests, threshold metrics."""

from __future__ import annotations

from itertools import combinations

import pandas as pd

from ...stats import delong_test, roc_auc, threshold_metrics
from ..selection import assessed, estimate_kind

__all__ = ["auc_table", "delong_table", "positive_calls_table", "threshold_table"]


def auc_table(data: pd.DataFrame, cohorts: list[str], models: list[str], *, n_boot: int = 2000,
              seed: int = 0, outcome: str = "nonresponse") -> pd.DataFrame:
    """AUC of each model in each cohort with the DeLong interval and the stratified bootstrap
    percentile interval (as ``pROC::ci.auc``). ``data`` holds ``cohort``, ``outcome`` and one
    score column per model; patients without the outcome are left out. ``estimate`` says
    what each row estimates (:func:`tace.report.selection.estimate_kind`: the training
    patients' apparent or cross-validated AUC, or a held-out one)."""
    rows = []
    for c in cohorts:
        part, y = assessed(data, c, outcome)
        for m in models:
            d = roc_auc(y, part[m])
            b = roc_auc(y, part[m], method="bootstrap", n_boot=n_boot, seed=seed)
            rows.append({"cohort": c, "estimate": estimate_kind(c), "model": m, "n": d.n, "events": d.n_events,
                         "auc": d.estimate,
                         "delong_ci_low": d.ci_low, "delong_ci_high": d.ci_high,
                         "bootstrap_ci_low": b.ci_low, "bootstrap_ci_high": b.ci_high})
    return pd.DataFrame(rows)


def delong_table(data: pd.DataFrame, cohorts: list[str], models: list[str], *,
                 outcome: str = "nonresponse") -> pd.DataFrame:
    """Every pair of models compared within each cohort by DeLong's test of correlated AUCs
    (as ``pROC::roc.test``): difference with its 95% CI, Z and p."""
    rows = []
    for c in cohorts:
        part, y = assessed(data, c, outcome)
        for a, b in combinations(models, 2):
            t = delong_test(y, part[a], part[b])
            rows.append({"cohort": c, "model_a": a, "model_b": b, "auc_difference": t.estimate,
                         "ci_low": t.ci_low, "ci_high": t.ci_high, "z": t.statistic, "p": t.p_value})
    return pd.DataFrame(rows)


THRESHOLD_COLUMNS = ["cohort", "model", "threshold", "metric", "estimate", "ci_low", "ci_high", "numerator",
                     "denominator", "note"]


def threshold_table(data: pd.DataFrame, cohorts: list[str], models: list[str], thresholds: dict[str, float], *,
                    outcome: str = "nonresponse") -> pd.DataFrame:
    """Accuracy, sensitivity, specificity, PPV and NPV with Wilson intervals of each model at
    its threshold (fixed on the training data), in each cohort."""
    rows = [threshold_metrics(y, part[m], thresholds[m]).assign(cohort=c, model=m, threshold=thresholds[m])
            for c in cohorts for part, y in [assessed(data, c, outcome)] for m in models]
    return pd.concat(rows, ignore_index=True)[THRESHOLD_COLUMNS] if rows else pd.DataFrame(columns=THRESHOLD_COLUMNS)


def positive_calls_table(data: pd.DataFrame, cohorts: list[str], models: list[str], thresholds: dict[str, float], *,
                         outcome: str = "nonresponse") -> pd.DataFrame:
    """The share of patients each model calls positive (``score >= threshold``) in each cohort,
    with its Wilson 95% interval: a cut-off fixed on the training patients' cross-validated
    predictions should call a like share of new patients from the same population."""
    from statsmodels.stats.proportion import proportion_confint

    rows = []
    for c in cohorts:
        part, _ = assessed(data, c, outcome)
        for m in models:
            k, n = int((part[m] >= thresholds[m]).sum()), len(part)
            low, high = proportion_confint(k, n, alpha=0.05, method="wilson") if n else (float("nan"),) * 2
            rows.append({"cohort": c, "estimate": estimate_kind(c), "model": m, "threshold": thresholds[m],
                         "called_positive": k, "n": n, "share": k / n if n else float("nan"),
                         "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["cohort", "estimate", "model", "threshold", "called_positive", "n", "share",
                                       "ci_low", "ci_high"])
