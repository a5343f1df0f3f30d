"""Survival tables of the follow-up cohort: Cox models of the DLR group, their
proportional-hazards check, the DLR score's discrimination and, as a prognostic model, its
calibration and Brier score at each horizon."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...stats import concordance, cox_regression, time_dependent_auc
from ...stats.proportional_hazards import ProportionalHazardsTest, proportional_hazards_test

__all__ = ["COX_COVARIATES", "PHCheck", "SurvivalCalibration", "cox_table", "ph_table", "survival_calibration_table",
           "survival_discrimination_table", "survival_horizons"]

#: The Cox models' covariates (columns of the follow-up table) and their names in the report.
COX_COVARIATES = {"dlr_high": "DLR high risk", "x_age": "age (years)", "x_bclc": "BCLC B",
                  "x_tumor_number": "tumour number", "x_tumor_size_cm": "tumour size (cm)",
                  "x_afp_ng_ml": "log10(AFP + 1)", "x_child_pugh": "Child-Pugh B"}

#: The horizons (months) at which survival is validated, where the follow-up reaches them.
HORIZONS = (12, 24, 36)


def _varying(follow: pd.DataFrame, covariates: dict[str, str], completed: list[pd.DataFrame]) -> list[str]:
    """The covariates that take two or more values (in the data or its first imputation)."""
    return [c for c in covariates if follow[c].nunique() > 1 or (completed and completed[0][c].nunique() > 1)]


def cox_table(follow: pd.DataFrame, completed: list[pd.DataFrame], *, covariates: dict[str, str] = COX_COVARIATES,
              time: str = "os_months", event: str = "os_event") -> pd.DataFrame:
    """Univariable Cox models of each covariate that varies and the multivariable model of
    them all (Efron ties). With ``completed`` (the imputed data sets, where some patient lacks
    a covariate) each model is fitted in each and pooled by Rubin's rules
    (:func:`tace.stats.pooling.pooled_cox`)."""
    from ...stats.pooling import pooled_cox

    def fit(columns):
        if completed:
            return pooled_cox(completed, time, event, columns)
        return cox_regression(follow, time, event, columns)

    varies = _varying(follow, covariates, completed)
    note = f" (pooled over {len(completed)} imputations)" if completed else ""
    rows = [fit([cov]).assign(stage="univariable" + note) for cov in varies]
    rows.append(fit(varies).assign(stage="multivariable" + note))
    table = pd.concat(rows, ignore_index=True)
    table["covariate"] = table["covariate"].map(covariates)
    return table[["stage", "covariate", "hr", "ci_low", "ci_high", "p", "coef", "se", "z"]]


@dataclass(frozen=True)
class PHCheck:
    """The proportional-hazards tests of the Cox models of :func:`cox_table` (``table``) and
    the multivariable model's full result, with its residuals for the figure."""

    table: pd.DataFrame
    multivariable: ProportionalHazardsTest


def ph_table(follow: pd.DataFrame, completed: list[pd.DataFrame], *, covariates: dict[str, str] = COX_COVARIATES,
             time: str = "os_months", event: str = "os_event") -> PHCheck:
    """Proportional hazards of each Cox model of :func:`cox_table`, as ``survival::cox.zph``
    (score tests of beta(t) = beta + theta g(t), g the Kaplan-Meier transform of time). With
    imputed covariates the check runs on the complete cases."""
    varies = _varying(follow, covariates, completed)
    cases = follow.dropna(subset=varies).reset_index(drop=True)
    rows = []
    for cov in varies:
        if cases[cov].nunique() > 1:
            t = proportional_hazards_test(cases, time, event, [cov]).table
            rows.append(t[t["covariate"] == cov].assign(model="univariable"))
    multi = proportional_hazards_test(cases, time, event, [c for c in varies if cases[c].nunique() > 1])
    rows.append(multi.table.assign(model="multivariable"))
    table = pd.concat(rows, ignore_index=True)
    table["covariate"] = table["covariate"].map(lambda c: covariates.get(c, c))
    return PHCheck(table=table[["model", "covariate", "chisq", "df", "p"]], multivariable=multi)


def survival_horizons(follow: pd.DataFrame, *, time: str = "os_months", event: str = "os_event") -> list[int]:
    """The horizons of :data:`HORIZONS` that lie between the first death and the longest
    follow-up (where a cumulative/dynamic AUC and a calibration at t exist)."""
    first_death = follow.loc[follow[event] == 1, time].min()
    return [h for h in HORIZONS if first_death <= h < follow[time].max()]


def survival_discrimination_table(follow: pd.DataFrame, score: str = "dlr", *, n_boot: int = 1000, seed: int = 0,
                                  time: str = "os_months", event: str = "os_event") -> pd.DataFrame:
    """Discrimination of ``score`` for survival: Harrell's C, Uno's C truncated at the last
    horizon and the time-dependent AUC at each horizon (cumulative/dynamic, IPCW 1/G(T-) as
    ``riskRegression::Score``), with bootstrap intervals (logit scale for the AUC)."""
    from ...stats.survival import uno_concordance

    c = concordance(follow[time], follow[event], follow[score])
    rows = [{"measure": "Harrell's C", "time": np.nan, "estimate": c.estimate, "ci_low": c.ci_low,
             "ci_high": c.ci_high, "method": c.method}]
    horizons = survival_horizons(follow, time=time, event=event)
    if horizons:
        u = uno_concordance(follow[time], follow[event], follow[score], max(horizons), n_boot=n_boot, seed=seed)
        rows.append({"measure": "Uno's C", "time": max(horizons), "estimate": u.estimate, "ci_low": u.ci_low,
                     "ci_high": u.ci_high, "method": u.method})
        td = time_dependent_auc(follow[time], follow[event], follow[score], horizons, n_boot=n_boot, seed=seed)
        for r in td.itertuples():
            rows.append({"measure": "time-dependent AUC", "time": r.time, "estimate": r.auc, "ci_low": r.ci_low,
                         "ci_high": r.ci_high, "method": f"cumulative/dynamic, IPCW 1/G(T-) as riskRegression::Score "
                                                          f"({r.n_cases} deaths by t); bootstrap CI, logit scale"})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SurvivalCalibration:
    """The DLR prognostic model at each horizon (``table``), its calibration curves
    (``curves``, one frame per horizon with a ``time`` column), the number of folds of its
    cross-validated predictions, and ``note``: why nothing was computed, else None."""

    table: pd.DataFrame
    curves: tuple[pd.DataFrame, ...]
    folds: int
    note: str | None


def survival_calibration_table(follow: pd.DataFrame, score: str = "dlr", *, seed: int = 0,
                               time: str = "os_months", event: str = "os_event") -> SurvivalCalibration:
    """``score`` as a prognostic model: a Cox model of survival on its logit, whose predicted
    risk of death by each horizon is taken out of fold (cross-validation stratified by death,
    seeded, :func:`tace.stats.survival_calibration.cross_validated_cox_risk`), so that its
    calibration at t (Austin et al. 2020) and its IPCW Brier score and IPA (as
    ``riskRegression::Score``) are not the apparent ones."""
    from lifelines.exceptions import ConvergenceError
    from scipy.special import logit

    from ...stats import survival_brier
    from ...stats.survival_calibration import cross_validated_cox_risk, survival_calibration

    horizons = survival_horizons(follow, time=time, event=event)
    n_dead = int(follow[event].sum())
    folds = int(min(5, n_dead, len(follow) - n_dead))

    def nothing(note: str) -> SurvivalCalibration:
        return SurvivalCalibration(table=pd.DataFrame(), curves=(), folds=folds, note=note)

    if not horizons:
        return nothing("no horizon of 12, 24 or 36 months lies within the follow-up")
    if follow[score].nunique() < 3:
        return nothing(f"the {score.upper()} score takes fewer than 3 distinct values in the follow-up cohort: "
                       "no Cox model of it")
    if folds < 2:
        return nothing("too few deaths or survivors for cross-validated predictions")
    frame = follow.assign(**{f"lp_{score}": logit(follow[score].clip(1e-6, 1 - 1e-6))})
    try:
        risk = cross_validated_cox_risk(frame, time, event, [f"lp_{score}"], horizons, folds=folds, seed=seed)
    except ConvergenceError as exc:  # said, not hidden
        return nothing(f"the Cox model of the {score.upper()} score did not converge in a fold "
                       f"({str(exc).splitlines()[0]})")
    brier = survival_brier(follow[time], follow[event], risk, horizons).set_index("time")
    rows, curves = [], []
    for k, h in enumerate(horizons):
        row = {"time": h, "brier": brier.loc[h, "brier"], "null_brier": brier.loc[h, "null_brier"],
               "ipa": brier.loc[h, "ipa"]}
        try:
            sc = survival_calibration(follow[time], follow[event], np.clip(risk[:, k], 1e-9, 1 - 1e-9), h)
        except ValueError as exc:  # e.g. predictions too alike for a spline
            rows.append({**row, "note": f"calibration not computed: {exc}"})
            continue
        rows.append({**row, "mean_predicted": sc.mean_predicted, "observed_km": sc.observed_km, "ici": sc.ici,
                     "e50": sc.e50, "e90": sc.e90, "emax": sc.emax, "note": ""})
        curves.append(sc.curve.assign(time=h))
    table = pd.DataFrame(rows)
    table = table[["time", *[c for c in ("mean_predicted", "observed_km", "ici", "e50", "e90", "emax") if c in table],
                   "brier", "null_brier", "ipa", "note"]]
    return SurvivalCalibration(table=table, curves=tuple(curves), folds=folds, note=None)
