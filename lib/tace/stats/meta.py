"""Random-effects meta-analysis of a performance measure across sites.

When a validation cohort holds several sites (or several cohorts are validated), a measure
such as the C-statistic, ln(O/E) or the calibration slope is estimated per site and pooled
with a random-effects model, which says both the average performance and how much it varies
between sites: the between-site variance tau^2, I^2, and the 95% prediction interval for the
performance in a new site, on k - 2 degrees of freedom (Higgins et al. 2009; Riley et al.
2011; Debray et al. 2017 recommend it for prediction models).

tau^2 by REML (the default, as ``metafor::rma``), DerSimonian-Laird or Paule-Mandel. DL and
PM come from statsmodels' ``combine_effects``; REML, which statsmodels does not offer, is
computed here by maximising the restricted likelihood over tau^2 >= 0.

The prediction interval is Higgins et al.'s (``prediction="higgins"``, plug-in tau^2) or, as
Debray et al. (2017) recommend when sites are few, Bayesian (``prediction="bayes"``): the
posterior predictive distribution of a new site's true value with a flat prior on the mean
and a weakly informative half-normal prior on tau, computed by quadrature over tau (no
sampling, so it is deterministic). The plug-in interval ignores the uncertainty in tau^2 and
REML's tau^2 is often 0 when heterogeneity is moderate: in
``benchmarks/bench_survival_coverage.py`` it covered 86-87% with 10 or 20 sites, the Bayesian
interval 95-97% (Partlett & Riley 2017 describe the same shortfall).

References
----------
Higgins JPT, Thompson SG, Spiegelhalter DJ. A re-evaluation of random-effects meta-analysis.
J R Stat Soc A 2009;172:137-59.
Debray TPA, Damen JAAG, Snell KIE, et al. A guide to systematic review and meta-analysis of
prediction model performance. BMJ 2017;356:i6460.
IntHout J, Ioannidis JPA, Borm GF. The Hartung-Knapp-Sidik-Jonkman method for random effects
meta-analysis is straightforward and considerably outperforms the standard DerSimonian-Laird
method. BMC Med Res Methodol 2014;14:25.
Partlett C, Riley RD. Random effects meta-analysis: coverage performance of 95% confidence
and prediction intervals following REML estimation. Stat Med 2017;36:301-17.
Viechtbauer W. Conducting meta-analyses in R with the metafor package. J Stat Softw
2010;36(3):1-48.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as sps

from .results import _Tabular

__all__ = ["META_METHODS", "META_PREDICTIONS", "META_TESTS", "SITE_MEASURES", "MetaAnalysisResult",
           "bayes_prediction_interval", "random_effects", "site_heterogeneity"]

META_METHODS = ("REML", "DL", "PM")
META_PREDICTIONS = ("higgins", "bayes")
#: Scale of the half-normal prior on tau in the Bayesian prediction interval: on the logit C,
#: ln O/E and slope scales a between-site SD above 1 is implausible, below 0.5 typical.
TAU_PRIOR_SCALE = 0.5


@dataclass(frozen=True)
class MetaAnalysisResult(_Tabular):
    """A random-effects pooled estimate.

    Attributes
    ----------
    estimate, se, ci_low, ci_high
        Pooled estimate, its standard error and Wald interval (normal quantile, as metafor's
        default ``test = "z"``).
    tau2, i2, q, q_p
        Between-site variance, I^2 (per cent), Cochran's Q and its p-value.
    pi_low, pi_high
        Prediction interval for a new site's true value: estimate +- t_{k-2} sqrt(tau^2 +
        se^2) (Higgins; NaN when k < 3), or the Bayesian posterior predictive interval.
    k, method, conf_level
    prediction
        Which prediction interval: ``"higgins"`` or ``"bayes"``.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    tau2: float
    i2: float
    q: float
    q_p: float
    pi_low: float
    pi_high: float
    k: int
    method: str
    conf_level: float = 0.95
    prediction: str = "higgins"


def _reml_tau2(y: np.ndarray, v: np.ndarray) -> float:
    def neg_restricted_loglik(tau2: float) -> float:
        w = 1.0 / (v + tau2)
        mu = np.sum(w * y) / np.sum(w)
        return float(np.sum(np.log(v + tau2)) + np.log(np.sum(w)) + np.sum(w * (y - mu) ** 2))

    upper = max(10.0 * float(np.var(y, ddof=1)) + 10.0 * float(v.max()), 1e-8)
    fit = optimize.minimize_scalar(neg_restricted_loglik, bounds=(0.0, upper), method="bounded",
                                   options={"xatol": 1e-14, "maxiter": 1000})
    tau2 = float(fit.x)
    return 0.0 if neg_restricted_loglik(0.0) <= neg_restricted_loglik(tau2) else tau2


META_TESTS = ("z", "knha")


def bayes_prediction_interval(estimates, variances, *, tau_prior_scale: float = TAU_PRIOR_SCALE,
                              conf_level: float = 0.95, grid: int = 2000) -> tuple[float, float]:
    """Bayesian prediction interval for a new site's true value (Debray et al. 2017).

    Model: y_i ~ N(theta_i, v_i), theta_i ~ N(mu, tau^2), flat prior on mu, tau ~ half-normal
    (``tau_prior_scale``). Given tau, mu has the normal posterior N(mu_tau, 1 / sum w) with
    w = 1 / (v + tau^2), and a new site's theta ~ N(mu_tau, 1 / sum w + tau^2); the marginal
    posterior of tau (the restricted likelihood times the prior) is computed on a grid up to
    8 prior SDs, and the interval's ends are the quantiles of the resulting normal mixture.

    >>> lo, hi = bayes_prediction_interval([0.9, 1.2, 1.0, 1.4, 1.1], [0.05, 0.08, 0.04, 0.1, 0.06])
    >>> bool(lo < 1.1 < hi)
    True
    """
    y = np.asarray(estimates, dtype=float)
    v = np.asarray(variances, dtype=float)
    if not tau_prior_scale > 0:
        raise ValueError(f"tau_prior_scale must be positive; got {tau_prior_scale}")
    tau = np.linspace(0.0, 8.0 * tau_prior_scale, grid + 1)
    w = 1.0 / (v[None, :] + tau[:, None] ** 2)
    sw = w.sum(axis=1)
    mu = (w * y).sum(axis=1) / sw
    log_post = (0.5 * np.log(w).sum(axis=1) - 0.5 * np.log(sw) - 0.5 * (w * (y - mu[:, None]) ** 2).sum(axis=1)
                - 0.5 * (tau / tau_prior_scale) ** 2)
    weight = np.exp(log_post - log_post.max())
    weight[[0, -1]] *= 0.5  # trapezoid rule on the even grid
    weight /= weight.sum()
    sd = np.sqrt(1.0 / sw + tau ** 2)

    def cdf(x: float) -> float:
        return float(np.sum(weight * sps.norm.cdf((x - mu) / sd)))

    alpha = (1 - conf_level) / 2
    span = 10.0 * float(sd.max()) + float(np.ptp(y))
    lo_b, hi_b = float(y.min()) - span, float(y.max()) + span
    return (float(optimize.brentq(lambda x: cdf(x) - alpha, lo_b, hi_b, xtol=1e-10)),
            float(optimize.brentq(lambda x: cdf(x) - (1 - alpha), lo_b, hi_b, xtol=1e-10)))


def random_effects(estimates, variances, *, method: str = "REML", test: str = "z",
                   conf_level: float = 0.95, prediction: str = "higgins") -> MetaAnalysisResult:
    """Pool per-site estimates with a random-effects model.

    Parameters
    ----------
    estimates, variances
        Each site's estimate (on a scale where it is roughly normal: logit C, ln O/E, slope)
        and its sampling variance.
    method
        How tau^2 is estimated: ``"REML"`` (metafor's default), ``"DL"`` or ``"PM"``.
    test
        The interval of the pooled estimate: ``"z"`` (normal, metafor's default) or
        ``"knha"`` (Hartung-Knapp-Sidik-Jonkman: the SE rescaled by the weighted residual
        variance, t on k - 1 df; ``rma(test = "knha")``), which keeps its coverage with few
        sites where the normal interval falls short (IntHout et al. 2014).
    prediction
        ``"higgins"`` (default, comparable with metafor's ``predict`` on k - 2 df): the
        plug-in interval with the model-based SE; ``"bayes"``: the Bayesian posterior
        predictive interval of :func:`bayes_prediction_interval`, which keeps its coverage
        when tau^2 is estimated as 0 (see the module notes).

    Examples
    --------
    >>> r = random_effects([0.1, 0.3, 0.5, 0.2], [0.01, 0.02, 0.015, 0.03], method="DL")
    >>> round(r.estimate, 4), round(r.tau2, 5)
    (0.2724, 0.02025)
    """
    from statsmodels.stats.meta_analysis import combine_effects

    y = np.asarray(estimates, dtype=float)
    v = np.asarray(variances, dtype=float)
    if y.ndim != 1 or y.shape != v.shape:
        raise ValueError(f"estimates and variances must be 1-D of one length; got {y.shape} and {v.shape}")
    if y.size < 2:
        raise ValueError(f"a meta-analysis needs at least 2 sites; got {y.size}")
    if not (np.isfinite(y).all() and np.isfinite(v).all() and (v > 0).all()):
        raise ValueError("every estimate must be finite and every variance finite and positive")
    if method not in META_METHODS:
        raise ValueError(f"method must be one of {META_METHODS}; got {method!r}")
    if test not in META_TESTS:
        raise ValueError(f"test must be one of {META_TESTS}; got {test!r}")
    if prediction not in META_PREDICTIONS:
        raise ValueError(f"prediction must be one of {META_PREDICTIONS}; got {prediction!r}")
    if not 0 < conf_level < 1:
        raise ValueError(f"conf_level must lie strictly between 0 and 1; got {conf_level}")
    w_fe = 1.0 / v
    mu_fe = np.sum(w_fe * y) / np.sum(w_fe)
    q = float(np.sum(w_fe * (y - mu_fe) ** 2))
    k = int(y.size)
    if method == "REML":
        tau2 = _reml_tau2(y, v)
    else:
        tau2 = float(combine_effects(y, v, method_re="chi2" if method == "DL" else "iterated").tau2)
    w = 1.0 / (v + tau2)
    mu = float(np.sum(w * y) / np.sum(w))
    se_model = se = float(np.sqrt(1.0 / np.sum(w)))
    z = float(sps.norm.ppf(0.5 + conf_level / 2))
    if test == "knha":
        se = float(np.sqrt(np.sum(w * (y - mu) ** 2) / ((k - 1) * np.sum(w))))
        z = float(sps.t.ppf(0.5 + conf_level / 2, k - 1))
    # I^2 as metafor computes it: tau^2 over tau^2 plus the "typical" within-site variance
    typical = (k - 1) * np.sum(w_fe) / (np.sum(w_fe) ** 2 - np.sum(w_fe ** 2))
    i2 = float(100.0 * tau2 / (tau2 + typical))
    if prediction == "bayes":
        pi_low, pi_high = bayes_prediction_interval(y, v, conf_level=conf_level)
    elif k >= 3:
        # Higgins et al.'s interval with the model-based SE: the Knapp-Hartung SE, which may
        # be smaller, left it at 84-90% coverage in benchmarks/bench_survival_coverage.py
        half = float(sps.t.ppf(0.5 + conf_level / 2, k - 2)) * np.sqrt(tau2 + se_model ** 2)
        pi_low, pi_high = mu - half, mu + half
    else:
        pi_low = pi_high = float("nan")
    return MetaAnalysisResult(mu, se, mu - z * se, mu + z * se, tau2, i2, q, float(sps.chi2.sf(q, k - 1)),
                              float(pi_low), float(pi_high), k,
                              method if test == "z" else f"{method} + Knapp-Hartung", conf_level, prediction)


#: The per-site measures :func:`site_heterogeneity` pools, each on the scale it is pooled on.
SITE_MEASURES = ("logit C", "ln O/E", "calibration slope")


def site_heterogeneity(y_true, prob, site, *, method: str = "REML", test: str = "knha",
                       conf_level: float = 0.95, prediction: str = "bayes") -> pd.DataFrame:
    """Per-site C-statistic, O/E and calibration slope, and their random-effects pooling.

    As Debray et al. (2017) recommend: the C-statistic pooled on the logit scale, var(logit C)
    = var(C) / (C (1 - C))^2 with DeLong's var(C); ln(O/E) with var (1 - O/N) / O; the
    calibration slope with its Wald variance. A site with fewer than two events or two
    non-events contributes to no measure (its row says so). The pooled interval is
    Hartung-Knapp-Sidik-Jonkman's by default (``test``; the normal one covered 92% with 5 or
    10 sites in ``benchmarks/bench_survival_coverage.py``, this one 93-96%). The prediction
    interval is Bayesian by default (``prediction``; half-normal(0.5) prior on tau), which
    Debray et al. recommend and which kept 95-99% coverage where Higgins' plug-in interval
    fell to 86% (see :mod:`tace.stats.meta`).

    Returns
    -------
    pandas.DataFrame
        One row per site and measure (``level`` = the site) with ``estimate`` and
        ``variance``, then one row per measure with ``level`` = ``"pooled (<method>)"``:
        estimate, CI, prediction interval, tau^2, I^2 and k; estimates on the pooling scale,
        back-transformed in ``estimate_natural`` (C, O/E, slope).
    """
    from .pooling import pooling_scale_measures

    y = np.asarray(y_true).astype(bool)
    p = np.asarray(prob, dtype=float)
    s = np.asarray(site)
    if not (y.shape == p.shape == s.shape):
        raise ValueError(f"y_true, prob and site must have one length; got {y.shape}, {p.shape}, {s.shape}")
    rows = []
    for level in pd.unique(s):
        mask = s == level
        yy, pp = y[mask], p[mask]
        events = int(yy.sum())
        base = {"level": level, "n": int(mask.sum()), "events": events}
        if events < 2 or mask.sum() - events < 2:
            rows += [{**base, "measure": m, "estimate": np.nan, "variance": np.nan,
                      "note": "left out: fewer than two events or non-events"} for m in SITE_MEASURES]
            continue
        scale_rows = pooling_scale_measures(yy, pp, ("C-statistic", "O/E", "calibration slope"))
        rows += [{**base, **r, "measure": name} for name, r in zip(SITE_MEASURES, scale_rows, strict=True)]
    table = pd.DataFrame(rows)
    natural: dict[str, Callable[[float], float]] = {"logit C": lambda v: float(1 / (1 + np.exp(-v))),
                                                    "ln O/E": lambda v: float(np.exp(v)),
                                                    "calibration slope": lambda v: v}
    pooled = []
    for m in SITE_MEASURES:
        part = table[(table["measure"] == m) & table["estimate"].notna()]
        if len(part) < 2:
            pooled.append({"level": f"pooled ({method})", "measure": m, "k": len(part),
                           "note": "not pooled: fewer than two sites with an estimate"})
            continue
        r = random_effects(part["estimate"], part["variance"], method=method, test=test, conf_level=conf_level,
                           prediction=prediction)
        pooled.append({"level": f"pooled ({method})", "measure": m, "k": r.k, "estimate": r.estimate,
                       "ci_low": r.ci_low, "ci_high": r.ci_high, "pi_low": r.pi_low, "pi_high": r.pi_high,
                       "tau2": r.tau2, "i2": r.i2, "note": ""})
    out = pd.concat([table, pd.DataFrame(pooled)], ignore_index=True)
    out["estimate_natural"] = [natural[m](v) if pd.notna(v) else np.nan
                               for m, v in zip(out["measure"], out["estimate"], strict=True)]
    return out
