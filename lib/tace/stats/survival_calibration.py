"""Calibration of predicted risk at a time horizon, for survival outcomes.

Austin, Harrell & van Klaveren (2020): a flexible Cox model regresses the observed survival
on the complementary log-log of each patient's predicted risk at t, cll = log(-log(1 - F(t))),
entered as a restricted cubic spline with 3 knots. Its predicted risk at t for each patient
is the "observed" risk that patient's prediction corresponds to; the calibration curve plots
it against the prediction, and ICI, E50, E90 and Emax summarise |predicted - observed|. No
grouping, and censoring is handled by the Cox model. Computed as the authors' code does with
``rms::cph(Surv(time, status) ~ rcs(cll, 3), surv = TRUE)`` and ``survest`` (knots from
``Hmisc::rcspline.eval``, Efron ties).

References
----------
Austin PC, Harrell FE Jr, van Klaveren D. Graphical calibration curves and the integrated
calibration index (ICI) for survival models. Stat Med 2020;39:2714-42.
Harrell FE Jr. Regression Modeling Strategies, 2nd ed. Springer, 2015 (section 2.4.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._checks import check_survival
from .results import _Tabular

__all__ = ["SurvivalCalibration", "cross_validated_cox_risk", "rcs_knots", "survival_calibration"]


@dataclass(frozen=True)
class SurvivalCalibration(_Tabular):
    """Calibration of predicted risks at ``time``.

    Attributes
    ----------
    time
        The horizon t.
    ici, e50, e90, emax
        Mean, median, 90th percentile and maximum of |predicted - observed| over the patients.
    mean_predicted, observed_km
        Mean predicted risk at t, and 1 - the Kaplan-Meier estimate at t (calibration in the
        large, before any model).
    curve
        ``predicted`` and ``observed`` risk at t on a grid of predictions (1st to 99th
        percentile), for the calibration plot.
    observed
        Each patient's observed risk at t (in input order).
    knots
        The three spline knots on the cll scale.
    """

    time: float
    ici: float
    e50: float
    e90: float
    emax: float
    mean_predicted: float
    observed_km: float
    n: int
    n_events: int
    curve: pd.DataFrame
    observed: np.ndarray
    knots: tuple[float, float, float]


def rcs_knots(x: np.ndarray, nk: int = 3, fractied: float = 0.05) -> np.ndarray:
    """Knots of a restricted cubic spline as ``Hmisc::rcspline.eval`` places them: quantiles
    at 0.10, 0.50, 0.90 for 3 knots (0.05 ... 0.95 for 4 to 6), the outer ones the 5th
    smallest and largest values when n < 100, and an end value held by a fraction
    ``fractied`` or more of the patients taken as a knot of its own."""
    xx = np.sort(np.asarray(x, dtype=float)[~np.isnan(x)])
    n = xx.size
    if n < 6:
        raise ValueError(f"a restricted cubic spline needs at least 6 values; got {n}")
    xu = np.unique(xx)
    if xu.size - 2 <= nk:
        return xu[1:-1]
    outer = 0.1 if nk == 3 else (0.05 if nk <= 6 else 0.025)
    nke, first, last = nk, [], []
    over_first = over_last = False
    values, counts = np.unique(xx, return_counts=True)
    f = counts / n
    if 0 < fractied < 1 and (f.size <= 2 or f[1:-1].max() < fractied):
        if f[0] >= fractied:
            first = [float(values[values > values[0]].min())]
            xx = xx[xx > first[0]]
            nke, over_first = nke - 1, True
        if f[-1] >= fractied:
            last = [float(values[values < values[-1]].max())]
            xx = xx[xx < last[0]]
            nke, over_last = nke - 1, True
    p = np.linspace(0.5, 1 - outer, nke) if nke == 2 else np.linspace(outer, 1 - outer, nke)
    knots = np.quantile(xx, p)  # type 7, as R's default
    if xx.size < 100:
        if not over_first:
            knots[0] = xx[4]
        if not over_last:
            knots[-1] = xx[-5]
    out = np.unique(np.r_[first, knots, last])
    if out.size < 3:
        raise ValueError("fewer than 3 distinct knots: the predictions take too few values for a spline")
    return out


def _rcs_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """x and its nonlinear terms (``rcspline.eval(..., inclx = TRUE, norm = 2)``)."""
    k = knots
    kd = (k[-1] - k[0]) ** (2 / 3)
    cols = [x]
    for j in range(k.size - 2):
        cols.append(np.maximum((x - k[j]) / kd, 0) ** 3
                    + ((k[-2] - k[j]) * np.maximum((x - k[-1]) / kd, 0) ** 3
                       - (k[-1] - k[j]) * np.maximum((x - k[-2]) / kd, 0) ** 3) / (k[-1] - k[-2]))
    return np.column_stack(cols)


def _efron_cumulative_hazard(time: np.ndarray, event: np.ndarray, lp: np.ndarray, t: float) -> float:
    """Baseline cumulative hazard at t for risk scores exp(lp), Efron's correction for ties
    (survfit.coxph's default after an Efron fit)."""
    w = np.exp(lp)
    h = 0.0
    for u in np.unique(time[event & (time <= t)]):
        s0 = w[time >= u].sum()
        dead = (time == u) & event
        d, d0 = int(dead.sum()), w[dead].sum()
        h += sum(1.0 / (s0 - k / d * d0) for k in range(d))
    return h


def survival_calibration(time, event, risk, t: float, *, n_grid: int = 100) -> SurvivalCalibration:
    """Calibration at horizon ``t`` of predicted risks of death by ``t``.

    Parameters
    ----------
    time, event
        Follow-up time and event indicator (1 = death).
    risk
        Each patient's predicted probability of death by ``t``, strictly between 0 and 1.
    t
        The horizon, in the units of ``time``; at least one death must precede it.

    Returns
    -------
    SurvivalCalibration
    """
    from .survival import cox_regression, kaplan_meier

    tt, e = check_survival(time, event)
    ev = e.astype(bool)
    r = np.asarray(risk, dtype=float)
    if r.shape != tt.shape:
        raise ValueError(f"risk must have one value per patient; got {r.shape} for {tt.shape}")
    if not np.all((r > 0) & (r < 1)):
        raise ValueError("risk must lie strictly between 0 and 1 (its complementary log-log is taken)")
    if not (ev & (tt <= t)).any():
        raise ValueError(f"no death at or before t = {t:g}: calibration at t is undefined")
    cll = np.log(-np.log(1 - r))
    knots = rcs_knots(cll)
    basis = _rcs_basis(cll, knots)
    frame = pd.DataFrame(basis, columns=[f"s{j}" for j in range(basis.shape[1])]).assign(time=tt, event=e)
    beta = cox_regression(frame, "time", "event", list(frame.columns[:-2]))["coef"].to_numpy()
    lp = basis @ beta
    centre = lp.mean()
    h0 = _efron_cumulative_hazard(tt, ev, lp - centre, t)
    observed = 1 - np.exp(-h0 * np.exp(lp - centre))
    err = np.abs(r - observed)
    lo, hi = np.quantile(r, [0.01, 0.99])
    grid = np.linspace(lo, hi, n_grid)
    g_lp = _rcs_basis(np.log(-np.log(1 - grid)), knots) @ beta - centre
    curve = pd.DataFrame({"predicted": grid, "observed": 1 - np.exp(-h0 * np.exp(g_lp))})
    km = kaplan_meier(tt, e)
    before = km[km["time"] <= t]
    observed_km = 1 - (float(before["survival"].iloc[-1]) if len(before) else 1.0)
    return SurvivalCalibration(float(t), float(err.mean()), float(np.median(err)), float(np.quantile(err, 0.9)),
                               float(err.max()), float(r.mean()), observed_km, int(tt.size), int(e.sum()), curve,
                               observed, (float(knots[0]), float(knots[1]), float(knots[2])))


def cross_validated_cox_risk(df: pd.DataFrame, duration_col: str, event_col: str, covariates: list[str],
                             times, *, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold predicted risk of death by each of ``times`` from a Cox model.

    The patients are split into ``folds`` folds stratified by the event indicator; each
    fold's risks come from a Cox model (Efron ties) and its Efron baseline hazard fitted on
    the other folds, so that calibration and Brier scores computed on them are not the
    apparent, optimistic ones.

    Returns
    -------
    numpy.ndarray
        Shape (n patients, n times): 1 - S(t | x).
    """
    from sklearn.model_selection import StratifiedKFold

    from .survival import cox_regression

    horizons = np.atleast_1d(np.asarray(times, dtype=float))
    data = df[[duration_col, event_col, *covariates]].astype(float).reset_index(drop=True)
    if data.isna().any().any():
        raise ValueError("cross_validated_cox_risk needs complete data")
    t_all = data[duration_col].to_numpy()
    e_all = data[event_col].to_numpy() == 1
    x_all = data[covariates].to_numpy()
    out = np.full((len(data), horizons.size), np.nan)
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in split.split(x_all, e_all):
        beta = cox_regression(data.iloc[train], duration_col, event_col, covariates)["coef"].to_numpy()
        lp_train = x_all[train] @ beta
        centre = lp_train.mean()
        lp_test = x_all[test] @ beta - centre
        for k, h in enumerate(horizons):
            h0 = _efron_cumulative_hazard(t_all[train], e_all[train], lp_train - centre, h)
            out[test, k] = 1 - np.exp(-h0 * np.exp(lp_test))
    return out
