"""Calibration of predicted probabilities: CITL, slope, Brier, ICI/E50/E90/Emax, Hosmer-Lemeshow.

- Calibration-in-the-large (CITL) is the intercept a of ``logit P(y) = a + logit(p)``
  (the linear predictor as an offset); the calibration slope is b of
  ``logit P(y) = a + b logit(p)``. Both by maximum likelihood (statsmodels GLM), with
  Wald intervals, as R's ``glm`` and ``confint.default`` give them.
- ICI, E50, E90 and Emax summarise |smoothed observed - predicted| over the sample, with
  the smoother of ``rms::val.prob``: ``lowess(p, y, iter = 0)`` interpolated back at each
  p (Austin & Steyerberg 2019 use loess; val.prob's lowess is what reviewers run).
- The curve is the same local-linear, tricube-weighted smoother evaluated on a grid, with
  a pointwise band from its linear-smoother variance, sum_j l_j(x)^2 p_j (1 - p_j).
- Hosmer-Lemeshow: 10 groups at the deciles of p, chi-square on g - 2 df where the model was
  fitted on the cohort (``ResourceSelection::hoslem.test``'s convention, the default) and on g
  df where nothing was fitted on it (external validation: Hosmer & Lemeshow 2013, 5.2.2;
  the notebooks pass ``fitted_on_cohort=False`` for the test and external cohorts).

References
----------
Austin PC, Steyerberg EW. The Integrated Calibration Index (ICI) and related metrics for
quantifying the calibration of logistic regression models. Stat Med 2019;38:4051-65.

Van Calster B, McLernon DJ, van Smeden M, et al. Calibration: the Achilles heel of
predictive analytics. BMC Med 2019;17:230.

Hosmer DW, Lemeshow S, Sturdivant RX. Applied Logistic Regression. 3rd ed. Wiley; 2013.
Section 5.2.2 (the test's degrees of freedom) and chapter 5 (external validation).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats as sps
from scipy.special import logit
from statsmodels.nonparametric.smoothers_lowess import lowess

from ._checks import check_binary, check_conf_level, check_prob
from .results import CalibrationResult, Estimate, TestResult

__all__ = ["calibration", "hosmer_lemeshow", "smoothed_calibration_errors"]

_SPAN = 2.0 / 3.0  # lowess's default f, as val.prob uses it


def _glm(y: np.ndarray, exog: np.ndarray, offset: np.ndarray | None):
    model = sm.GLM(y.astype(float), exog, family=sm.families.Binomial(), offset=offset)
    return model.fit(tol=1e-12, maxiter=100)


def _wald(fit, index: int, conf_level: float, method: str, n: int, events: int) -> Estimate:
    est, se = float(fit.params[index]), float(fit.bse[index])
    z = float(sps.norm.ppf(1 - (1 - conf_level) / 2))
    return Estimate(est, est - z * se, est + z * se, conf_level, method, n, events, se)


def smoothed_calibration_errors(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """|p - smoothed observed| at each observation, exactly as ``rms::val.prob`` computes it:
    ``Sm <- lowess(p, y, iter = 0); approx(Sm, xout = p, ties = mean)$y``."""
    fit = lowess(y.astype(float), p, frac=_SPAN, it=0, delta=0.01 * float(np.ptp(p)),
                 return_sorted=True)
    xs, inverse = np.unique(fit[:, 0], return_inverse=True)
    ys = np.bincount(inverse, weights=fit[:, 1]) / np.bincount(inverse)
    return np.abs(p - np.interp(p, xs, ys))


def _local_linear_weights(x: np.ndarray, grid: np.ndarray, span: float) -> np.ndarray:
    """Rows: the weights l_j(g) of lowess's local-linear, tricube fit at each grid point g."""
    n = x.size
    q = int(np.floor(n * span + 1e-5))
    dist = np.abs(grid[:, None] - x[None, :])
    h = np.partition(dist, q - 1, axis=1)[:, q - 1]
    h = np.maximum(h, 1e-12)
    u = np.clip(dist / h[:, None], 0.0, 1.0)
    w = (1 - u ** 3) ** 3
    w[dist > h[:, None]] = 0.0
    sw = w.sum(axis=1, keepdims=True)
    xbar = (w * x).sum(axis=1, keepdims=True) / sw
    sxx = (w * (x - xbar) ** 2).sum(axis=1, keepdims=True)
    slope_part = np.where(sxx > 1e-15, (grid[:, None] - xbar) * (x - xbar) / np.where(sxx > 1e-15, sxx, 1), 0.0)
    return w * (1.0 / sw + slope_part)


def _curve(y: np.ndarray, p: np.ndarray, conf_level: float, n_grid: int = 101) -> pd.DataFrame:
    lo, hi = np.quantile(p, [0.01, 0.99]) if p.size >= 100 else (p.min(), p.max())
    grid = np.linspace(lo, hi, n_grid)
    weights = _local_linear_weights(p, grid, _SPAN)
    observed = weights @ y
    # Var(y_j) from the smoothed curve itself, read off the grid (an n x n smoother is too big)
    var_y = np.clip(np.interp(p, grid, observed), 1e-6, 1 - 1e-6)
    var_y = var_y * (1 - var_y)
    se = np.sqrt((weights ** 2) @ var_y)
    z = float(sps.norm.ppf(1 - (1 - conf_level) / 2))
    return pd.DataFrame({"predicted": grid, "observed": observed,
                         "ci_low": np.clip(observed - z * se, 0, 1),
                         "ci_high": np.clip(observed + z * se, 0, 1)})


def hosmer_lemeshow(y_true, prob, *, groups: int = 10, fitted_on_cohort: bool = True) -> TestResult:
    """Hosmer-Lemeshow goodness-of-fit test over groups at the quantiles of ``prob``.

    As ``ResourceSelection::hoslem.test``: breaks at ``quantile(prob, seq(0, 1, 1/g))``,
    ``cut(..., include.lowest = TRUE)``, chi-square of observed against expected events
    and non-events. Degrees of freedom: g - 2 when the model was fitted on this cohort
    (``fitted_on_cohort=True``, hoslem.test's and the default), g when it was not, as in an
    external validation, where no parameter was estimated from the data tested (Hosmer,
    Lemeshow & Sturdivant 2013, section 5.2.2). Tied breaks merge groups and empty groups are
    dropped, with a warning, and g counts the groups left (hoslem.test stops with an error
    on tied breaks).
    """
    y = check_binary(y_true, need_both=False)
    p = check_prob(prob, y.size)
    quantiles = np.quantile(p, np.linspace(0, 1, groups + 1))
    breaks = np.unique(quantiles)
    nb = breaks.size - 1
    group = np.clip(np.searchsorted(breaks, p, side="left"), 1, max(nb, 1)) - 1
    count = np.bincount(group, minlength=nb).astype(float)
    keep = count > 0  # interpolated breaks between tied values can leave a group empty
    g = int(keep.sum())
    if g < 3:
        raise ValueError(f"the predicted probabilities take too few distinct values for a "
                         f"Hosmer-Lemeshow test ({g} non-empty groups); expected at least 3")
    if g < groups:
        warnings.warn(f"Hosmer-Lemeshow: the predicted probabilities have tied quantiles, so "
                      f"{groups} groups became {g} ({quantiles.size - breaks.size} tied breaks, "
                      f"{int((~keep).sum())} empty groups); the test runs on the {g} groups left",
                      UserWarning, stacklevel=2)
    obs1 = np.bincount(group, weights=y.astype(float), minlength=nb)[keep]
    exp1 = np.bincount(group, weights=p, minlength=nb)[keep]
    count = count[keep]
    obs0, exp0 = count - obs1, count - exp1
    chisq = float(np.sum((obs1 - exp1) ** 2 / exp1) + np.sum((obs0 - exp0) ** 2 / exp0))
    df = g - 2 if fitted_on_cohort else g
    on = "fitted on this cohort" if fitted_on_cohort else "not fitted on this cohort"
    return TestResult(chisq, float(sps.chi2.sf(chisq, df)), None, None, None,
                      f"Hosmer and Lemeshow goodness of fit (GOF) test, {g} groups, {df} df (model {on})",
                      "X-squared", float(df))


def calibration(y_true, prob, *, conf_level: float = 0.95, fitted_on_cohort: bool = True) -> CalibrationResult:
    """Calibration of predicted probabilities against observed binary outcomes.

    Parameters
    ----------
    y_true
        Observed outcome (1 = event).
    prob
        Predicted probabilities, strictly between 0 and 1 (a logit is taken).
    conf_level
        Level of the CITL and slope intervals and of the curve's band.
    fitted_on_cohort
        Whether the model was fitted on these patients: the Hosmer-Lemeshow test's degrees of
        freedom (g - 2 if so, g if not; see :func:`hosmer_lemeshow`).

    Returns
    -------
    CalibrationResult

    Examples
    --------
    >>> import numpy as np
    >>> from tace.stats import calibration
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 500)
    >>> y = rng.random(500) < p
    >>> cal = calibration(y, p)
    >>> bool(abs(cal.citl.estimate) < 0.3 and abs(cal.slope.estimate - 1) < 0.3)
    True
    """
    y = check_binary(y_true)
    p = check_prob(prob, y.size, open_interval=True)
    conf_level = check_conf_level(conf_level)
    lp = logit(p)
    n, events = int(y.size), int(y.sum())
    citl_fit = _glm(y, np.ones((n, 1)), offset=lp)
    slope_fit = _glm(y, sm.add_constant(lp, has_constant="add"), offset=None)
    citl = _wald(citl_fit, 0, conf_level, "intercept of glm(y ~ offset(logit(p))), Wald", n, events)
    slope = _wald(slope_fit, 1, conf_level, "slope of glm(y ~ logit(p)), Wald", n, events)
    errors = smoothed_calibration_errors(y, p)
    return CalibrationResult(
        citl=citl, slope=slope, brier=float(np.mean((p - y) ** 2)),
        ici=float(errors.mean()), e50=float(np.quantile(errors, 0.5)),
        e90=float(np.quantile(errors, 0.9)), emax=float(errors.max()),
        hosmer_lemeshow=hosmer_lemeshow(y, p, fitted_on_cohort=fitted_on_cohort),
        curve=_curve(y.astype(float), p, conf_level),
        n=n, n_events=events)
