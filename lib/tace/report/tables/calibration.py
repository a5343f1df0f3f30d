"""Calibration tables: the measures with their intervals, pooled over imputations, on the
training patients."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...stats import calibration
from ...stats.calibration import calibration_bootstrap
from ..selection import PROBABILITY_FLOOR, assessed, clipped
from ._common import leading

__all__ = ["calibration_bootstrap_table", "calibration_table", "pooled_imputation_table", "training_citl_table"]


def calibration_table(data: pd.DataFrame, cohorts: list[str], models: list[str], *,
                      outcome: str = "nonresponse") -> pd.DataFrame:
    """Calibration of each frozen model in each validation cohort (:func:`tace.stats.calibration`
    with ``fitted_on_cohort=False``: Hosmer-Lemeshow on g df). A model whose measures cannot be
    computed gets a row whose ``note`` says why."""
    rows = []
    for c in cohorts:
        part, y = assessed(data, c, outcome)
        for m in models:
            try:
                frame = calibration(y, clipped(part[m]), fitted_on_cohort=False).to_frame().assign(note="")
            except ValueError as exc:  # said in the table, not hidden
                frame = pd.DataFrame([{"note": f"not computed: {exc}"}])
            rows.append(frame.assign(cohort=c, model=m))
    if not rows:
        return pd.DataFrame(columns=["cohort", "model"])
    return leading(pd.concat(rows, ignore_index=True), ["cohort", "model"])


def calibration_bootstrap_table(data: pd.DataFrame, cohorts: list[str], models: list[str], *, n_boot: int = 1000,
                                seed: int = 0, outcome: str = "nonresponse") -> pd.DataFrame:
    """Percentile bootstrap intervals of the calibration measures that have no closed-form one
    (:func:`tace.stats.calibration.calibration_bootstrap`: patients resampled, the frozen
    models' predictions held fixed). ``replicates_dropped`` counts the replicates with a single
    class or an unfittable smoother."""
    rows = []
    for c in cohorts:
        part, y = assessed(data, c, outcome)
        for m in models:
            try:
                ci = calibration_bootstrap(y, clipped(part[m]), n_boot=n_boot, seed=seed)
            except ValueError as exc:  # said in the table, not hidden
                rows.append(pd.DataFrame([{"cohort": c, "model": m, "note": f"not computed: {exc}"}]))
                continue
            rows.append(ci.to_frame().assign(cohort=c, model=m, replicates_dropped=ci.n_failed, note=""))
    if not rows:
        return pd.DataFrame(columns=["cohort", "model"])
    return leading(pd.concat(rows, ignore_index=True), ["cohort", "model"])


def pooled_imputation_table(data: pd.DataFrame, cohorts: list[str], imputations: pd.DataFrame, *,
                            outcome: str = "nonresponse") -> pd.DataFrame:
    """The clinical model where a validation patient lacked a predictor: each measure in each
    imputed data set pooled by Rubin's rules, beside the complete-case analysis
    (:func:`tace.stats.pooling.imputation_comparison`). Empty when nothing was imputed."""
    from ...models.predict import imputed_score_sets
    from ...stats.pooling import imputation_comparison

    rows = []
    for c in cohorts:
        part, y = assessed(data, c, outcome)
        if not (part["imputed_predictors"] > 0).any():
            continue
        sets = [np.clip(s, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR) for s in imputed_score_sets(part, imputations)]
        rows.append(imputation_comparison(y, sets, (part["imputed_predictors"] == 0).to_numpy())
                    .assign(cohort=c, model="clinical"))
    return leading(pd.concat(rows, ignore_index=True), ["cohort", "model"]) if rows else pd.DataFrame()


def training_citl_table(manifest: dict, models: list[str]) -> pd.DataFrame:
    """Calibration-in-the-large on the training patients from a bundle manifest's development
    summary: the observed rate beside the mean out-of-fold prediction (what the fusion and
    thresholds were fitted on) and the frozen models' mean prediction (in-sample)."""
    citl = manifest["development_summary"].get("calibration_in_the_large", {})
    return pd.DataFrame([{"model": m, "observed_rate": v["observed_rate"], "mean_predicted_oof": v["mean_oof"],
                          "mean_predicted_bundle": v["mean_bundle"],
                          "difference_bundle": round(v["mean_bundle"] - v["observed_rate"], 12)}
                         for m, v in sorted(citl.items(), key=lambda kv: models.index(kv[0]))])
