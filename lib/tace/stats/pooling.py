"""Rubin's rules: one performance estimate from the m analyses of multiply imputed data.

Where a validation patient lacks a predictor, the clinical model's score is computed in each
of m imputed data sets (:mod:`tace.models.imputation`); every performance measure is then
estimated in each and pooled with Rubin's rules on a scale where it is roughly normal
(Marshall et al. 2009; Wood, Royston & White 2015): the C-statistic on the logit scale, O/E
on the log scale, calibration intercept, slope and the Brier score as they are. The pooled
interval uses the t distribution on Barnard & Rubin's (1999) degrees of freedom, as
``mice::pool`` does.

References
----------
Rubin DB. Multiple Imputation for Nonresponse in Surveys. Wiley, 1987.
Barnard J, Rubin DB. Small-sample degrees of freedom with multiple imputation. Biometrika
1999;86:948-55.
Marshall A, Altman DG, Holder RL, Royston P. Combining estimates of interest in prognostic
modelling studies after multiple imputation: current practice and guidelines. BMC Med Res
Methodol 2009;9:57.
Wood AM, Royston P, White IR. The estimation and use of predictions for the assessment of
model performance using large samples with multiply imputed data. Biom J 2015;57:614-32.
van Buuren S. Flexible Imputation of Missing Data, 2nd ed. CRC Press, 2018 (section 5.2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from ._checks import check_conf_level
from .results import _Tabular

__all__ = ["POOLED_MEASURES", "PooledEstimate", "imputation_comparison", "performance_with_ci", "pooled_cox",
           "pooled_performance", "pooling_scale_measures", "rubin_pool"]


@dataclass(frozen=True)
class PooledEstimate(_Tabular):
    """An estimate pooled over m imputations by Rubin's rules (``mice::pool.scalar``).

    Attributes
    ----------
    estimate
        Mean of the m estimates (qbar).
    ci_low, ci_high
        estimate +- t_{df, 1 - alpha/2} sqrt(total_variance).
    within, between, total_variance
        Mean of the m variances (ubar), variance of the m estimates (b), and
        t = ubar + (1 + 1/m) b.
    df
        Barnard-Rubin degrees of freedom (Rubin's (m - 1) / lambda^2 when ``dfcom`` is
        infinite).
    riv, fmi
        Relative increase in variance (1 + 1/m) b / ubar and the fraction of missing
        information (r + 2 / (df + 3)) / (r + 1).
    m
        Imputations pooled.
    """

    estimate: float
    ci_low: float
    ci_high: float
    within: float
    between: float
    total_variance: float
    df: float
    riv: float
    fmi: float
    m: int
    conf_level: float


def _barnard_rubin(m: int, b: float, t: float, dfcom: float) -> float:
    lam = max((1 + 1 / m) * b / t, 1e-4)  # mice's floor: no information lost is not infinite df
    dfold = (m - 1) / lam ** 2
    if math.isinf(dfcom):
        return dfold
    dfobs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam)
    return dfold * dfobs / (dfold + dfobs)


def rubin_pool(estimates, variances, *, dfcom: float = math.inf, conf_level: float = 0.95) -> PooledEstimate:
    """Pool m estimates and their variances by Rubin's rules.

    Parameters
    ----------
    estimates, variances
        One estimate and its squared standard error per imputed data set (m >= 2).
    dfcom
        Degrees of freedom of the complete-data analysis (``n - k`` for a regression);
        infinite (the default) for large-sample statistics such as an AUC.
    conf_level
        Level of the interval.

    Returns
    -------
    PooledEstimate

    Examples
    --------
    >>> r = rubin_pool([1.0, 1.2, 0.8], [0.04, 0.05, 0.03])
    >>> round(r.estimate, 6), round(r.total_variance, 6)
    (1.0, 0.093333)
    """
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    if q.ndim != 1 or q.shape != u.shape:
        raise ValueError(f"estimates and variances must be 1-D of one length; got {q.shape} and {u.shape}")
    if q.size < 2:
        raise ValueError(f"Rubin's rules need at least 2 imputations; got {q.size}")
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(u)) and np.all(u >= 0)):
        raise ValueError("every estimate must be finite and every variance finite and >= 0")
    if not dfcom > 0:
        raise ValueError(f"dfcom must be > 0; got {dfcom}")
    conf_level = check_conf_level(conf_level)
    m = int(q.size)
    qbar, ubar, b = float(q.mean()), float(u.mean()), float(q.var(ddof=1))
    t = ubar + (1 + 1 / m) * b
    if t == 0:
        raise ValueError("every variance is 0 and the estimates agree: there is no uncertainty to pool")
    df = _barnard_rubin(m, b, t, dfcom)
    riv = (1 + 1 / m) * b / ubar if ubar > 0 else math.inf
    fmi = (riv + 2 / (df + 3)) / (riv + 1) if math.isfinite(riv) else 1.0
    half = float(sps.t.ppf(0.5 + conf_level / 2, df)) * math.sqrt(t)
    return PooledEstimate(qbar, qbar - half, qbar + half, ubar, b, t, df, riv, fmi, m, conf_level)


#: The measures :func:`pooled_performance` reports, with their pooling scale and back-transform.
POOLED_MEASURES: dict[str, tuple[str, Callable[[float], float]]] = {
    "C-statistic": ("logit", lambda v: float(1 / (1 + np.exp(-v)))),
    "O/E": ("log", lambda v: float(np.exp(v))),
    "calibration intercept": ("identity", lambda v: v),
    "calibration slope": ("identity", lambda v: v),
    "Brier score": ("identity", lambda v: v),
}


def pooling_scale_measures(y: np.ndarray, p: np.ndarray, measures: Sequence[str] = tuple(POOLED_MEASURES)
                           ) -> list[dict]:
    """Each measure on its pooling scale with its variance: logit C (DeLong variance by the
    delta method), ln(O/E) (variance (1 - O/N) / O), calibration intercept and slope (Wald,
    the external-validation convention: the intercept with the slope fixed at 1), and the
    Brier score (variance of the squared errors / n). Shared by Rubin's rules and the
    meta-analysis across sites.

    Returns
    -------
    list of dict
        ``measure``, ``estimate``, ``variance``, ``note`` (why a measure is NaN).
    """
    from .calibration import calibration_intercept_slope, observed_expected
    from .roc import roc_auc

    rows = []
    for m in measures:
        if m == "C-statistic":
            auc = roc_auc(y, p)
            c = auc.estimate
            if 0 < c < 1 and auc.se:
                rows.append({"measure": m, "estimate": float(np.log(c / (1 - c))),
                             "variance": float(auc.se ** 2 / (c * (1 - c)) ** 2), "note": ""})
            else:
                rows.append({"measure": m, "estimate": np.nan, "variance": np.nan,
                             "note": f"left out: C = {c:g} (complete separation)"})
        elif m == "O/E":
            oe = observed_expected(y, p)
            rows.append({"measure": m, "estimate": float(np.log(oe.estimate)),
                         "variance": float((oe.se or np.nan) ** 2), "note": ""})
        elif m in ("calibration intercept", "calibration slope"):
            citl, slope = calibration_intercept_slope(y, np.clip(p, 1e-9, 1 - 1e-9))
            est = citl if m == "calibration intercept" else slope
            rows.append({"measure": m, "estimate": est.estimate, "variance": float((est.se or np.nan) ** 2),
                         "note": ""})
        elif m == "Brier score":
            sq = (p - y) ** 2
            rows.append({"measure": m, "estimate": float(sq.mean()), "variance": float(sq.var(ddof=1) / sq.size),
                         "note": ""})
        else:
            raise ValueError(f"unknown measure {m!r}; expected one of {tuple(POOLED_MEASURES)}")
    return rows


def pooled_performance(y_true, prob_sets, *, conf_level: float = 0.95) -> pd.DataFrame:
    """Performance of one model's scores in each of m imputed data sets, pooled by Rubin's rules.

    Parameters
    ----------
    y_true
        Observed outcome (1 = event), the same patients in every set.
    prob_sets
        m arrays of predicted probabilities (m >= 2), one per imputation.
    conf_level
        Level of the pooled intervals.

    Returns
    -------
    pandas.DataFrame
        One row per measure of :data:`POOLED_MEASURES`: ``estimate`` (back-transformed),
        ``ci_low``, ``ci_high``, ``scale``, ``df``, ``fmi``, ``m``, ``note``.
    """
    y = np.asarray(y_true).astype(float)
    sets = [np.asarray(p, dtype=float) for p in prob_sets]
    if len(sets) < 2:
        raise ValueError(f"pooled_performance needs at least 2 imputations; got {len(sets)}")
    if any(p.shape != y.shape for p in sets):
        raise ValueError("every set of probabilities must have one value per patient")
    per = [pooling_scale_measures(y, p) for p in sets]
    rows = []
    for i, (name, (scale, back)) in enumerate(POOLED_MEASURES.items()):
        est = np.array([r[i]["estimate"] for r in per])
        var = np.array([r[i]["variance"] for r in per])
        notes = {r[i]["note"] for r in per if r[i]["note"]}
        row = {"measure": name, "scale": scale, "m": len(sets)}
        if notes or not (np.all(np.isfinite(est)) and np.all(np.isfinite(var))):
            rows.append({**row, "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan, "df": np.nan,
                         "fmi": np.nan, "note": "; ".join(sorted(notes)) or "not estimable in every imputation"})
            continue
        pooled = rubin_pool(est, var, conf_level=conf_level)
        rows.append({**row, "estimate": back(pooled.estimate), "ci_low": back(pooled.ci_low),
                     "ci_high": back(pooled.ci_high), "df": pooled.df, "fmi": pooled.fmi, "note": ""})
    return pd.DataFrame(rows)[["measure", "estimate", "ci_low", "ci_high", "scale", "df", "fmi", "m", "note"]]


def performance_with_ci(y_true, prob, *, conf_level: float = 0.95) -> pd.DataFrame:
    """The measures of :func:`pooled_performance` in one data set (no imputation), each with
    its Wald interval on the pooling scale, back-transformed: the complete-case analysis
    reported beside the pooled one, in the same form."""
    y = np.asarray(y_true).astype(float)
    p = np.asarray(prob, dtype=float)
    z = float(sps.norm.ppf(0.5 + check_conf_level(conf_level) / 2))
    rows = []
    for r, (name, (scale, back)) in zip(pooling_scale_measures(y, p), POOLED_MEASURES.items(), strict=True):
        est, se = r["estimate"], math.sqrt(r["variance"]) if np.isfinite(r["variance"]) else np.nan
        rows.append({"measure": name, "estimate": back(est) if np.isfinite(est) else np.nan,
                     "ci_low": back(est - z * se) if np.isfinite(se) else np.nan,
                     "ci_high": back(est + z * se) if np.isfinite(se) else np.nan,
                     "scale": scale, "df": np.inf, "fmi": np.nan, "m": 1, "note": r["note"]})
    return pd.DataFrame(rows)[["measure", "estimate", "ci_low", "ci_high", "scale", "df", "fmi", "m", "note"]]


def imputation_comparison(y_true, prob_sets, complete, *, conf_level: float = 0.95) -> pd.DataFrame:
    """Pooled (Rubin's rules over the imputations) beside complete-case performance.

    Parameters
    ----------
    y_true
        Observed outcomes of every patient.
    prob_sets
        m arrays of every patient's predicted probability, one per imputation (a patient
        with complete predictors has the same value in each).
    complete
        True for the patients whose predictors were all observed: the complete-case analysis.

    Returns
    -------
    pandas.DataFrame
        :func:`pooled_performance`'s columns with ``analysis`` ("pooled over m imputations
        (Rubin's rules)" or "complete cases") and ``n``, ``events`` first.
    """
    y = np.asarray(y_true).astype(bool)
    keep = np.asarray(complete, dtype=bool)
    sets = [np.asarray(p, dtype=float) for p in prob_sets]
    pooled = pooled_performance(y, sets, conf_level=conf_level).assign(
        analysis=f"pooled over {len(sets)} imputations (Rubin's rules)", n=int(y.size), events=int(y.sum()))
    parts = [pooled]
    yc = y[keep]
    if keep.sum() >= 2 and 0 < yc.sum() < yc.size:
        parts.append(performance_with_ci(yc, sets[0][keep], conf_level=conf_level).assign(
            analysis="complete cases", n=int(keep.sum()), events=int(yc.sum())))
    else:
        parts.append(pd.DataFrame([{"measure": m, "analysis": "complete cases", "n": int(keep.sum()),
                                    "events": int(yc.sum()), "m": 1,
                                    "note": "not estimable: fewer than two complete cases of each outcome"}
                                   for m in POOLED_MEASURES]))
    out = pd.concat(parts, ignore_index=True)
    return out[["analysis", "n", "events", *[c for c in out.columns if c not in ("analysis", "n", "events")]]]


def pooled_cox(frames: Sequence[pd.DataFrame], duration_col: str, event_col: str, covariates: list[str], *,
               conf_level: float = 0.95) -> pd.DataFrame:
    """A Cox regression fitted in each completed data set, its coefficients pooled by Rubin's
    rules (large-sample df, as ``mice::pool`` for a ``coxph`` fit).

    Returns
    -------
    pandas.DataFrame
        As :func:`tace.stats.cox_regression`: ``covariate``, ``coef``, ``se`` (sqrt of the
        total variance), ``hr``, ``ci_low``, ``ci_high`` (of the HR), ``z`` (coef / se), ``p``
        (t on the Barnard-Rubin df), with ``fmi`` and ``m``.
    """
    from .survival import cox_regression

    fits = [cox_regression(f, duration_col, event_col, covariates, conf_level=conf_level) for f in frames]
    rows = []
    for cov in covariates:
        est = np.array([f.set_index("covariate").loc[cov, "coef"] for f in fits], dtype=float)
        var = np.array([f.set_index("covariate").loc[cov, "se"] for f in fits], dtype=float) ** 2
        r = rubin_pool(est, var, conf_level=conf_level)
        se = math.sqrt(r.total_variance)
        rows.append({"covariate": cov, "coef": r.estimate, "se": se, "hr": math.exp(r.estimate),
                     "ci_low": math.exp(r.ci_low), "ci_high": math.exp(r.ci_high), "z": r.estimate / se,
                     "p": float(2 * sps.t.sf(abs(r.estimate / se), r.df)), "fmi": r.fmi, "m": r.m})
    return pd.DataFrame(rows)
