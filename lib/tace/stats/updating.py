"""Model updating on a validation cohort: the model as is, recalibration-in-the-large, and
logistic recalibration (intercept and slope), side by side.

Each update is fitted on the validation cohort and its performance is then assessed on the
same cohort, so the updated figures are apparent (optimistic) and say what a recalibration
*could* do; none is applied to the scores silently. Recalibration-in-the-large leaves the
AUC as it is; so does logistic recalibration while its slope is positive. A negative slope
reverses the ranking (the AUC becomes 1 - AUC): the model orders this cohort's patients the
wrong way round, which no recalibration repairs; the table's ``auc`` column shows it and a
warning says it.

References
----------
Steyerberg EW. Clinical Prediction Models. 2nd ed. Springer; 2019. Chapter 20.
Van Calster B, et al. Calibration: the Achilles heel of predictive analytics. BMC Med 2019;17:230.
Harrell FE, Lee KL, Mark DB. Multivariable prognostic models: issues in developing models,
evaluating assumptions and adequacy, and measuring and reducing errors. Stat Med
1996;15:361-87 (the optimism bootstrap, as ``rms::validate``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.special import expit, logit

from ._checks import check_binary, check_prob
from .calibration import calibration
from .roc import _placements, _split

__all__ = ["OPTIMISM_MEASURES", "UPDATES", "Update", "fit_update", "updating_optimism", "updating_table"]

#: The updates compared, in the order of the table.
UPDATES = ("as is", "recalibration-in-the-large", "logistic recalibration")


@dataclass(frozen=True)
class Update:
    """``logit(p_new) = intercept + slope * logit(p)``, fitted on a validation cohort."""

    method: str
    intercept: float
    slope: float

    def apply(self, prob) -> np.ndarray:
        """Updated probabilities."""
        p = np.asarray(prob, dtype=float)
        return expit(self.intercept + self.slope * logit(p))


def fit_update(y_true, prob, method: str) -> Update:
    """Fit one of :data:`UPDATES` by maximum likelihood.

    >>> import numpy as np
    >>> p = np.array([0.2, 0.4, 0.6, 0.8, 0.3, 0.7])
    >>> y = np.array([0, 1, 1, 1, 0, 0])
    >>> fit_update(y, p, "as is")
    Update(method='as is', intercept=0.0, slope=1.0)
    """
    y = check_binary(y_true)
    p = check_prob(prob, y.size, open_interval=True)
    lp = logit(p)
    if method == "as is":
        return Update(method, 0.0, 1.0)
    if method == "recalibration-in-the-large":
        fit = sm.GLM(y.astype(float), np.ones((y.size, 1)), family=sm.families.Binomial(), offset=lp).fit(tol=1e-12)
        return Update(method, float(fit.params[0]), 1.0)
    if method == "logistic recalibration":
        design = sm.add_constant(lp, has_constant="add")
        fit = sm.GLM(y.astype(float), design, family=sm.families.Binomial()).fit(tol=1e-12)
        return Update(method, float(fit.params[0]), float(fit.params[1]))
    raise ValueError(f"unknown update {method!r}; expected one of {', '.join(UPDATES)}")


def _auc(y: np.ndarray, q: np.ndarray) -> float:
    """The AUC of :func:`tace.stats.roc_auc` without its interval (the bootstrap calls it often)."""
    return float(_placements(*_split(y, q)).auc[0])


def updating_table(y_true, prob) -> pd.DataFrame:
    """Each update's coefficients and the performance of the updated probabilities on the
    same cohort (apparent): AUC, CITL, slope, Brier, ICI, and the mean predicted risk."""
    y = check_binary(y_true)
    p = check_prob(prob, y.size, open_interval=True)
    rows = []
    for method in UPDATES:
        upd = fit_update(y, p, method)
        if upd.slope < 0:
            warnings.warn(f"{method}: the fitted slope is {upd.slope:.3g} < 0: the model ranks this "
                          "cohort's patients the wrong way round, and the recalibrated score reverses "
                          "its order (AUC -> 1 - AUC)", UserWarning, stacklevel=2)
        q = np.clip(upd.apply(p), 1e-9, 1 - 1e-9)
        cal = calibration(y, q)
        rows.append({"update": method, "intercept": upd.intercept, "slope": upd.slope,
                     "mean_predicted": float(q.mean()), "observed_rate": float(y.mean()),
                     "auc": _auc(y, q), "citl": cal.citl.estimate,
                     "calibration_slope": cal.slope.estimate, "brier": cal.brier,
                     "ici": cal.ici, "assessed_on": "as is: independent" if method == "as is" else
                     "apparent (fitted and assessed on this cohort)"})
    return pd.DataFrame(rows)


#: The measures whose optimism :func:`updating_optimism` estimates, as ``rms::validate``
#: names them: AUC (Dxy / 2 + 0.5), the intercept and slope of ``logit P(y) = a + b LP`` of the
#: updated model, and the Brier score.
OPTIMISM_MEASURES = ("auc", "intercept", "slope", "brier")


def _logistic(y: np.ndarray, lp: np.ndarray, slope: bool, max_iter: int = 100) -> tuple[float, float]:
    """ML intercept (and slope) of ``logit P(y) = a + b lp`` (b fixed at 1 when not ``slope``)
    by Newton-Raphson with step halving (as R's glm.fit does when the deviance rises): a
    bootstrap of a few hundred refits would spend most of its time in statsmodels' per-call
    set-up. (nan, nan) when it does not converge (separation)."""
    yf = y.astype(float)

    def loglik(a: float, b: float) -> float:
        eta = a + b * lp
        return float(np.sum(yf * eta - np.logaddexp(0.0, eta)))

    a, b = 0.0, 1.0
    current = loglik(a, b)
    for _ in range(max_iter):
        mu = expit(a + b * lp)
        w = mu * (1 - mu)
        r = yf - mu
        if slope:
            h = np.array([[w.sum(), (w * lp).sum()], [(w * lp).sum(), (w * lp * lp).sum()]])
            try:
                step = np.linalg.solve(h, np.array([r.sum(), (r * lp).sum()]))
            except np.linalg.LinAlgError:
                return float("nan"), float("nan")
        else:
            step = np.array([r.sum() / max(w.sum(), 1e-300), 0.0])
        for _halving in range(40):
            trial = loglik(a + step[0], b + step[1])
            if trial >= current - 1e-12:
                break
            step = step / 2
        a, b, current = a + step[0], b + step[1], trial
        if np.max(np.abs(step)) < 1e-10:
            return float(a), float(b)
        if not np.isfinite(current) or abs(a) > 1e3 or abs(b) > 1e3:
            break
    return float("nan"), float("nan")


def _update_lp(y: np.ndarray, lp: np.ndarray, method: str) -> tuple[float, float]:
    if method == "recalibration-in-the-large":
        return _logistic(y, lp, slope=False)
    if method == "logistic recalibration":
        return _logistic(y, lp, slope=True)
    raise ValueError(f"updating_optimism needs an update that is fitted: 'recalibration-in-the-large' or "
                     f"'logistic recalibration', not {method!r}")


def _performance(y: np.ndarray, lp: np.ndarray) -> np.ndarray:
    q = expit(lp)
    a, b = _logistic(y, lp, slope=True)
    return np.array([_auc(y, q), a, b, float(np.mean((q - y) ** 2))])


def updating_optimism(y_true, prob, method: str = "logistic recalibration", *, n_boot: int = 200,
                      seed: int | None = None) -> pd.DataFrame:
    """Out-of-sample performance of an update fitted on this cohort, by the optimism bootstrap.

    The apparent performance of an update fitted and assessed on the same patients is
    optimistic. As ``rms::validate(lrm(y ~ lp, x = TRUE, y = TRUE), B = n_boot)`` does for
    logistic recalibration: in each bootstrap sample the update is refitted and assessed
    there (training) and on the original patients (test); optimism = mean(training - test),
    and the corrected index is apparent - optimism. A replicate whose refit does not
    converge (separation) or holds one class is dropped and counted.

    Returns
    -------
    pandas.DataFrame
        One row per measure of :data:`OPTIMISM_MEASURES`: ``apparent``, ``training`` and
        ``test`` (means over replicates), ``optimism``, ``corrected``, ``optimism_mc_se``
        (the Monte-Carlo error of the optimism, SD / sqrt(replicates)), ``n_boot`` used and
        ``n_dropped``.
    """
    y = check_binary(y_true)
    p = check_prob(prob, y.size, open_interval=True)
    if n_boot < 10:
        raise ValueError(f"n_boot is {n_boot}; the optimism bootstrap needs at least 10 replicates (200 or more)")
    lp = logit(p)
    a, b = _update_lp(y, lp, method)
    if not np.isfinite(a + b):
        raise ValueError(f"{method}: the update could not be fitted on this cohort (separation?)")
    apparent = _performance(y, a + b * lp)
    rng = np.random.default_rng(seed)
    train, test, dropped = [], [], 0
    for _ in range(n_boot):
        idx = rng.integers(0, y.size, y.size)
        yb, lpb = y[idx], lp[idx]
        if yb.all() or not yb.any():
            dropped += 1
            continue
        ab, bb = _update_lp(yb, lpb, method)
        perf_b = _performance(yb, ab + bb * lpb) if np.isfinite(ab + bb) else np.full(4, np.nan)
        perf_o = _performance(y, ab + bb * lp) if np.isfinite(ab + bb) else np.full(4, np.nan)
        if not (np.isfinite(perf_b).all() and np.isfinite(perf_o).all()):
            dropped += 1
            continue
        train.append(perf_b)
        test.append(perf_o)
    if len(train) < 10:
        raise ValueError(f"only {len(train)} of {n_boot} bootstrap refits of {method!r} converged")
    tr, te = np.vstack(train), np.vstack(test)
    opt = tr - te
    return pd.DataFrame({"update": method, "measure": OPTIMISM_MEASURES, "apparent": apparent,
                         "training": tr.mean(axis=0), "test": te.mean(axis=0), "optimism": opt.mean(axis=0),
                         "corrected": apparent - opt.mean(axis=0),
                         "optimism_mc_se": opt.std(axis=0, ddof=1) / np.sqrt(len(train)),
                         "n_boot": len(train), "n_dropped": dropped})
