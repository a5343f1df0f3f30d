"""The proportional-hazards check of a Cox model, as ``survival::cox.zph`` (survival >= 3.0).

For each covariate, the score test of adding ``x * g(t)`` to the model at (beta_hat, 0),
with g the transformed time centred on its mean over the deaths (Grambsch & Therneau 1994):
U = sum over deaths of g(t) (x_i - xbar(t)), tested against the 2p x 2p information matrix
of the extended model, Efron's approximation for tied deaths. The global test adds all p
terms at once. The scaled Schoenfeld residuals (Schoenfeld residual times the inverse of
the average information, plus beta_hat) estimate beta(t): a trend in them against time is
what a small p-value means, so the report draws them.

lifelines offers ``proportional_hazard_test``, but it computes the older per-variable
approximation (survival < 3.0), whose statistics differ from what R users get today; this
module follows survival 3.5's ``zph1.c`` (one stratum, unit case weights).

References
----------
Grambsch PM, Therneau TM. Proportional hazards tests and diagnostics based on weighted
residuals. Biometrika 1994;81:515-26.
Therneau TM, Grambsch PM. Modeling Survival Data: Extending the Cox Model. Springer, 2000
(section 6.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from .results import _Tabular

__all__ = ["PH_TRANSFORMS", "ProportionalHazardsTest", "proportional_hazards_test"]

PH_TRANSFORMS = ("km", "identity", "rank", "log")


@dataclass(frozen=True)
class ProportionalHazardsTest(_Tabular):
    """``cox.zph``: the tests and the residuals behind them.

    Attributes
    ----------
    table
        One row per covariate and a ``GLOBAL`` row: ``covariate``, ``chisq``, ``df``, ``p``.
    residuals
        One row per death, in time order: ``time``, ``g`` (the transformed time, ``$x`` in
        R), then each covariate's scaled Schoenfeld residual (``$y``).
    coef
        beta_hat of the Cox model (Efron ties).
    transform
        The time transform: ``km`` (1 - the Kaplan-Meier estimate just before t, R's
        default), ``identity``, ``rank`` or ``log``.
    """

    table: pd.DataFrame
    residuals: pd.DataFrame
    coef: dict
    transform: str
    n: int
    n_events: int


def _km_transform(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """1 - S(t-) for each observation, S the Kaplan-Meier estimate of all patients."""
    from .survival import kaplan_meier

    km = kaplan_meier(time, event.astype(int))
    before = np.searchsorted(km["time"].to_numpy(), time, side="left")  # distinct times strictly before t
    return 1 - np.r_[1.0, km["survival"].to_numpy()][before]


def _transformed_time(time: np.ndarray, event: np.ndarray, transform: str) -> np.ndarray:
    if transform == "km":
        return _km_transform(time, event)
    if transform == "identity":
        return time.astype(float)
    if transform == "rank":
        return sps.rankdata(time)  # average ranks, as R's rank()
    if transform == "log":
        return np.log(time)
    raise ValueError(f"transform must be one of {PH_TRANSFORMS}; got {transform!r}")


def _score_and_information(time, event, x, eta, gt):
    """U (2p) and the 2p x 2p information of the extended model, and the unscaled
    Schoenfeld residuals of the deaths (time order), as zph1.c with Efron ties."""
    n, p = x.shape
    x = x - x.mean(axis=0)  # as zph1.c: centring steadies the variance sums
    w = np.exp(eta - eta.max())
    u = np.zeros(2 * p)
    imat = np.zeros((2 * p, 2 * p))
    schoen_t, schoen = [], []
    for t in np.unique(time[event]):
        risk = time >= t
        dead = (time == t) & event
        d = int(dead.sum())
        s0, s1 = w[risk].sum(), w[risk] @ x[risk]
        s2 = (x[risk] * w[risk, None]).T @ x[risk]
        d0, d1 = w[dead].sum(), w[dead] @ x[dead]
        d2 = (x[dead] * w[dead, None]).T @ x[dead]
        g = float(gt[dead][0])
        xsum = x[dead].sum(axis=0)
        xbars = []
        v = np.zeros((p, p))
        for k in range(d):  # Efron: the deaths' weight reduced by k/d in the k-th term
            f = k / d
            a0, a1, a2 = s0 - f * d0, s1 - f * d1, s2 - f * d2
            xbar = a1 / a0
            xbars.append(xbar)
            v += a2 / a0 - np.outer(xbar, xbar)
        score = xsum - np.sum(xbars, axis=0)
        u[:p] += score
        u[p:] += g * score
        imat[:p, :p] += v
        imat[:p, p:] += g * v
        imat[p:, p:] += g * g * v
        mean_xbar = np.mean(xbars, axis=0)
        for row in x[dead]:
            schoen_t.append(t)
            schoen.append(row - mean_xbar)
    imat[p:, :p] = imat[:p, p:].T
    return u, imat, np.array(schoen_t), np.array(schoen).reshape(-1, p)


def proportional_hazards_test(df: pd.DataFrame, duration_col: str, event_col: str, covariates: list[str], *,
                              transform: str = "km") -> ProportionalHazardsTest:
    """Test each covariate of a Cox model for proportional hazards, as ``cox.zph(fit)``.

    Parameters
    ----------
    df
        One row per patient, no missing value in the columns used.
    duration_col, event_col
        Survival time (> 0) and event indicator (1 = death).
    covariates
        Numeric columns of the Cox model (fitted here, Efron ties).
    transform
        Time transform: ``km`` (default, as R), ``identity``, ``rank`` or ``log``.

    Returns
    -------
    ProportionalHazardsTest

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"t": [5, 8, 3, 10, 2, 12, 7, 4, 9, 6], "dead": [1, 0, 1, 1, 1, 0, 1, 1, 0, 1],
    ...                    "x": [0.4, 0.2, 0.9, 0.1, 0.8, 0.3, 0.6, 0.5, 0.2, 0.7]})
    >>> ph = proportional_hazards_test(df, "t", "dead", ["x"])
    >>> ph.table["covariate"].tolist()
    ['x', 'GLOBAL']
    """
    from .survival import cox_regression

    if transform not in PH_TRANSFORMS:
        raise ValueError(f"transform must be one of {PH_TRANSFORMS}; got {transform!r}")
    covariates = list(covariates)
    missing = [c for c in [duration_col, event_col, *covariates] if c not in df.columns]
    if missing:
        raise ValueError(f"columns not in the data: {', '.join(missing)}")
    data = df[[duration_col, event_col, *covariates]].astype(float)
    if data.isna().any().any():
        raise ValueError("the proportional-hazards test needs complete data; missing values in "
                         + ", ".join(data.columns[data.isna().any()]))
    time = data[duration_col].to_numpy()
    event = data[event_col].to_numpy() == 1
    if event.sum() < 2:
        raise ValueError(f"the proportional-hazards test needs at least 2 deaths; got {int(event.sum())}")
    if transform == "log" and (time <= 0).any():
        raise ValueError("the log transform needs every time > 0")
    beta = cox_regression(data, duration_col, event_col, covariates)["coef"].to_numpy()  # Efron, as coxph
    x = data[covariates].to_numpy()
    tt = _transformed_time(time, event, transform)
    gt = tt - tt[event].mean()
    u, imat, schoen_t, schoen = _score_and_information(time, event, x, x @ beta, gt)
    p = len(covariates)
    rows = []
    for j, name in enumerate(covariates):
        kk = [*range(p), p + j]
        uu = np.r_[np.zeros(p), u[p + j]]
        chisq = float(np.linalg.solve(imat[np.ix_(kk, kk)], uu) @ uu)
        rows.append({"covariate": name, "chisq": chisq, "df": 1, "p": float(sps.chi2.sf(chisq, 1))})
    ug = np.r_[np.zeros(p), u[p:]]
    chisq = float(np.linalg.solve(imat, ug) @ ug)
    rows.append({"covariate": "GLOBAL", "chisq": chisq, "df": p, "p": float(sps.chi2.sf(chisq, p))})
    # scaled Schoenfeld residuals: r V^-1 + beta, V the information averaged over the deaths
    # (a covariate constant among the patients has no residual, as in R)
    n_events = int(event.sum())
    vmean = imat[:p, :p] / n_events
    scaled = np.linalg.solve(vmean, schoen.T).T + beta
    order = np.argsort(schoen_t, kind="stable")
    g_of_death = np.array([tt[(time == t) & event][0] for t in schoen_t])
    residuals = pd.DataFrame(scaled[order], columns=covariates)
    residuals.insert(0, "g", g_of_death[order])
    residuals.insert(0, "time", schoen_t[order])
    return ProportionalHazardsTest(pd.DataFrame(rows), residuals, dict(zip(covariates, map(float, beta), strict=True)),
                                   transform, int(len(data)), n_events)
