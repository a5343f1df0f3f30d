"""Calibration of predicted probabilities: CITL, slope, Brier, ICI/E50/E90/Emax, Hosmer-Lemeshow.

- Calibration-in-the-large (CITL) is the intercept a of ``logit P(y) = a + logit(p)``
  (the linear predictor as an offset); the calibration slope is b of
  ``logit P(y) = a + b logit(p)``. Both by maximum likelihood (statsmodels GLM), with
  Wald intervals, as R's ``glm`` and ``confint.default`` give them.
- ICI, E50, E90 and Emax summarise |smoothed observed - predicted| over the sample. By
  default on the smoother their definition names, Austin & Steyerberg's (2019)
  ``loess(y ~ p)`` with R's defaults (span 0.75, degree 2, gaussian), computed by R's own
  loess code through scikit-misc; ``smoother="lowess"`` gives ``rms::val.prob``'s Eavg, E90
  and Emax instead (``lowess(p, y, iter = 0)``, interpolated back at each p), which differ
  by a few per cent (ICI 4% lower, E90 11% lower on R's colon data: issue 12).
- O/E: observed over expected events, with the log-normal interval of Debray et al. (2017),
  SE(ln O/E) = sqrt((1 - O/N) / O); E/O is its reciprocal. Scaled Brier: 1 - Brier / (o (1 - o)).
- :func:`calibration_bootstrap`: percentile bootstrap intervals of Brier, scaled Brier, ICI,
  E50, E90 and Emax (patients resampled, the predictions held fixed).
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

Debray TPA, Damen JAAG, Snell KIE, et al. A guide to systematic review and meta-analysis of
prediction model performance. BMJ 2017;356:i6460.

Steyerberg EW, Vickers AJ, Cook NR, et al. Assessing the performance of prediction models: a
framework for traditional and novel measures. Epidemiology 2010;21:128-38.

Hosmer DW, Lemeshow S, Sturdivant RX. Applied Logistic Regression. 3rd ed. Wiley; 2013.
Section 5.2.2 (the test's degrees of freedom) and chapter 5 (external validation).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats as sps
from scipy.special import logit
from statsmodels.nonparametric.smoothers_lowess import lowess

from ._checks import check_binary, check_conf_level, check_prob
from .results import CalibrationResult, Estimate, TestResult, _Tabular

__all__ = ["SMOOTHERS", "CalibrationIntervals", "calibration", "calibration_bootstrap", "calibration_intercept_slope",
           "hosmer_lemeshow",
           "observed_expected", "smoothed_calibration_errors"]

_SPAN = 2.0 / 3.0  # lowess's default f, as val.prob uses it
#: Smoothers for ICI, E50, E90 and Emax: Austin & Steyerberg's loess (default), val.prob's lowess.
SMOOTHERS = ("loess", "lowess")


def _glm(y: np.ndarray, exog: np.ndarray, offset: np.ndarray | None):
    model = sm.GLM(y.astype(float), exog, family=sm.families.Binomial(), offset=offset)
    return model.fit(tol=1e-12, maxiter=100)


def _wald(fit, index: int, conf_level: float, method: str, n: int, events: int) -> Estimate:
    est, se = float(fit.params[index]), float(fit.bse[index])
    z = float(sps.norm.ppf(1 - (1 - conf_level) / 2))
    return Estimate(est, est - z * se, est + z * se, conf_level, method, n, events, se)


def _intercept_and_slope(y: np.ndarray, p: np.ndarray, conf_level: float) -> tuple[Estimate, Estimate]:
    if np.ptp(p) == 0:  # glm(y ~ logit(p)) has no slope to estimate (R: a singular fit)
        raise ValueError(f"every patient has the same predicted probability ({p[0]:.4g}): the calibration slope "
                         "and curve are undefined")
    lp = logit(p)
    n, events = int(y.size), int(y.sum())
    citl_fit = _glm(y, np.ones((n, 1)), offset=lp)
    slope_fit = _glm(y, sm.add_constant(lp, has_constant="add"), offset=None)
    return (_wald(citl_fit, 0, conf_level, "intercept of glm(y ~ offset(logit(p))), Wald", n, events),
            _wald(slope_fit, 1, conf_level, "slope of glm(y ~ logit(p)), Wald", n, events))


def calibration_intercept_slope(y_true, prob, *, conf_level: float = 0.95) -> tuple[Estimate, Estimate]:
    """Calibration-in-the-large (the intercept with the slope fixed at 1) and the calibration
    slope with their Wald intervals: the two regressions of :func:`calibration`, without its
    smoother and tests (for repeated use, e.g. in every imputed data set)."""
    y = check_binary(y_true)
    p = check_prob(prob, y.size, open_interval=True)
    return _intercept_and_slope(y, p, check_conf_level(conf_level))


def smoothed_calibration_errors(y: np.ndarray, p: np.ndarray, smoother: str = "loess") -> np.ndarray:
    """|p - smoothed observed| at each observation.

    ``"loess"``: as Austin & Steyerberg (2019), ``cal <- loess(y ~ p)`` (R's defaults: span
    0.75, degree 2, gaussian family, interpolated surface) and ``predict(cal, newdata = p)``,
    by R's own loess code (scikit-misc). ``"lowess"``: exactly as ``rms::val.prob``,
    ``Sm <- lowess(p, y, iter = 0); approx(Sm, xout = p, ties = mean)$y``.
    """
    if smoother == "loess":
        from skmisc.loess import loess

        model = loess(p, y.astype(float), span=0.75, degree=2, family="gaussian")
        try:
            model.fit()
            smooth = np.asarray(model.predict(p).values, dtype=float)
        except ValueError as exc:  # e.g. too few distinct predictions for a local quadratic
            raise ValueError(f"loess calibration curve could not be fitted ({exc}); "
                             f"{np.unique(p).size} distinct predicted probabilities") from None
        return np.abs(smooth - p)
    if smoother != "lowess":
        raise ValueError(f"smoother must be one of {SMOOTHERS}; got {smoother!r}")
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


def observed_expected(y_true, prob, *, conf_level: float = 0.95) -> Estimate:
    """Observed over expected events, O/E = sum(y) / sum(prob), with the log-normal interval
    exp(ln(O/E) +- z SE), SE = sqrt((1 - O/N) / O) (Debray et al. 2017). O/E > 1: the model
    predicts too few events. NaN interval, with a warning, when no event was observed.

    >>> round(observed_expected([0, 1, 1, 0, 1], [0.2, 0.5, 0.6, 0.3, 0.4]).estimate, 4)
    1.5
    """
    y = check_binary(y_true, need_both=False)
    p = check_prob(prob, y.size)
    conf_level = check_conf_level(conf_level)
    o, e, n = float(y.sum()), float(p.sum()), int(y.size)
    if e <= 0:
        raise ValueError("the predicted probabilities sum to 0: no expected events, O/E is undefined")
    ratio = o / e
    method = "O/E, log-normal interval, SE(ln O/E) = sqrt((1 - O/N) / O)"
    if o == 0:
        warnings.warn("O/E: no event observed, so ln(O/E) and its interval are undefined", UserWarning,
                      stacklevel=2)
        return Estimate(ratio, float("nan"), float("nan"), conf_level, method, n, 0, float("nan"))
    se = float(np.sqrt((1 - o / n) / o))
    z = float(sps.norm.ppf(1 - (1 - conf_level) / 2))
    return Estimate(ratio, ratio * float(np.exp(-z * se)), ratio * float(np.exp(z * se)), conf_level, method, n,
                    int(o), se)


def calibration(y_true, prob, *, conf_level: float = 0.95, fitted_on_cohort: bool = True,
                smoother: str = "loess") -> CalibrationResult:
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
    smoother
        The smoother of ICI, E50, E90 and Emax: ``"loess"`` (Austin & Steyerberg 2019, the
        default) or ``"lowess"`` (``rms::val.prob``).

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
    n, events = int(y.size), int(y.sum())
    citl, slope = _intercept_and_slope(y, p, conf_level)
    if smoother not in SMOOTHERS:
        raise ValueError(f"smoother must be one of {SMOOTHERS}; got {smoother!r}")
    try:
        errors = smoothed_calibration_errors(y, p, smoother)
    except ValueError as exc:  # e.g. a handful of patients: the rest of calibration still stands
        warnings.warn(f"ICI, E50, E90 and Emax not computed: {exc}", UserWarning, stacklevel=2)
        errors = np.full(y.size, np.nan)
    brier = float(np.mean((p - y) ** 2))
    return CalibrationResult(
        citl=citl, slope=slope, brier=brier,
        ici=float(np.mean(errors)), e50=float(np.quantile(errors, 0.5)),
        e90=float(np.quantile(errors, 0.9)), emax=float(np.max(errors)),
        hosmer_lemeshow=hosmer_lemeshow(y, p, fitted_on_cohort=fitted_on_cohort),
        curve=_curve(y.astype(float), p, conf_level),
        n=n, n_events=events, oe=observed_expected(y, p, conf_level=conf_level),
        scaled_brier=_scaled_brier(brier, y), smoother=smoother)


def _scaled_brier(brier: float, y: np.ndarray) -> float:
    o = float(y.mean())
    return 1.0 - brier / (o * (1.0 - o)) if 0 < o < 1 else float("nan")


#: The measures :func:`calibration_bootstrap` gives intervals for.
BOOTSTRAP_MEASURES = ("brier", "scaled_brier", "ici", "e50", "e90", "emax")


@dataclass(frozen=True)
class CalibrationIntervals(_Tabular):
    """Percentile bootstrap intervals of the calibration measures (see
    :func:`calibration_bootstrap`): one :class:`Estimate` per measure."""

    brier: Estimate
    scaled_brier: Estimate
    ici: Estimate
    e50: Estimate
    e90: Estimate
    emax: Estimate
    n_boot: int
    n_failed: int

    def to_frame(self) -> pd.DataFrame:
        """One row per measure: estimate, interval, bootstrap SE."""
        return pd.DataFrame([{"measure": m, "estimate": getattr(self, m).estimate, "ci_low": getattr(self, m).ci_low,
                              "ci_high": getattr(self, m).ci_high, "se": getattr(self, m).se}
                             for m in BOOTSTRAP_MEASURES])


def _measures(y: np.ndarray, p: np.ndarray, smoother: str) -> np.ndarray:
    errors = smoothed_calibration_errors(y, p, smoother)
    brier = float(np.mean((p - y) ** 2))
    return np.array([brier, _scaled_brier(brier, y), errors.mean(), np.quantile(errors, 0.5),
                     np.quantile(errors, 0.9), errors.max()])


def calibration_bootstrap(y_true, prob, *, n_boot: int = 1000, seed: int | None = None,
                          conf_level: float = 0.95, smoother: str = "loess") -> CalibrationIntervals:
    """Percentile bootstrap intervals of Brier, scaled Brier, ICI, E50, E90 and Emax.

    Patients are resampled with replacement (the predictions are those of a frozen model,
    so nothing is refitted but the calibration smoother), as ``boot::boot`` with
    ``boot.ci(type = "perc")`` would. A replicate whose smoother cannot be fitted (too few
    distinct predictions) or that holds a single class is dropped and counted in ``n_failed``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 200); y = rng.random(200) < p
    >>> ci = calibration_bootstrap(y, p, n_boot=200, seed=1)
    >>> bool(ci.ici.ci_low <= ci.ici.estimate <= ci.ici.ci_high), ci.n_failed
    (True, 0)
    """
    y = check_binary(y_true)
    p = check_prob(prob, y.size, open_interval=True)
    conf_level = check_conf_level(conf_level)
    if n_boot < 10:
        raise ValueError(f"n_boot is {n_boot}; a percentile interval needs at least 10 replicates (1000 or more)")
    point = _measures(y, p, smoother)
    rng = np.random.default_rng(seed)
    reps, failed = [], 0
    for _ in range(n_boot):
        idx = rng.integers(0, y.size, y.size)
        yb = y[idx]
        if yb.all() or not yb.any():
            failed += 1
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # loess's near-singularity notes, per replicate
                reps.append(_measures(yb, p[idx], smoother))
        except ValueError:
            failed += 1
    if len(reps) < 10:
        raise ValueError(f"only {len(reps)} of {n_boot} bootstrap replicates could be computed")
    boot = np.vstack(reps)
    lo, hi = np.quantile(boot, [(1 - conf_level) / 2, 1 - (1 - conf_level) / 2], axis=0)
    sd = boot.std(axis=0, ddof=1)
    method = f"bootstrap ({len(reps)} replicates, percentile; smoother {smoother})"
    n, events = int(y.size), int(y.sum())
    est = {m: Estimate(float(point[k]), float(lo[k]), float(hi[k]), conf_level, method, n, events, float(sd[k]))
           for k, m in enumerate(BOOTSTRAP_MEASURES)}
    return CalibrationIntervals(**est, n_boot=n_boot, n_failed=failed)
