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
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.special import expit, logit
from scipy.stats import rankdata

from ._checks import check_binary, check_prob
from .calibration import calibration

__all__ = ["UPDATES", "Update", "fit_update", "updating_table"]

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
    """Mann-Whitney AUC, ties counting one half (as :func:`tace.stats.roc_auc`)."""
    ranks = rankdata(q)
    m = int(y.sum())
    return float((ranks[y].sum() - m * (m + 1) / 2) / (m * (y.size - m)))


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
