"""Survival analysis of the follow-up cohort: Kaplan-Meier, log-rank, Cox, concordance,
time-dependent AUC.

Thin wrappers over lifelines (Kaplan-Meier, log-rank, Cox with Efron ties), returning tidy
tables named as R's survival package names things. The cumulative/dynamic AUC is computed
here, with riskRegression's and timeROC's weights (scikit-survival's differ, see
:func:`time_dependent_auc`). Harrell's C is computed here together with its infinitesimal-jackknife
variance, which neither library provides, so that its interval matches
``survival::concordance``.

References
----------
Kaplan EL, Meier P. Nonparametric estimation from incomplete observations. J Am Stat Assoc
1958;53:457-81.

Harrell FE, Lee KL, Mark DB. Multivariable prognostic models. Stat Med 1996;15:361-87.

Therneau TM, Atkinson EJ. Concordance. Vignette of the R package survival, 2023.

Uno H, Cai T, Tian L, Wei LJ. Evaluating prediction rules for t-year survivors with
censored regression models. J Am Stat Assoc 2007;102:527-37.

Blanche P, Dartigues JF, Jacqmin-Gadda H. Estimating and comparing time-dependent areas
under receiver operating characteristic curves for censored event times with competing
risks. Stat Med 2013;32:5381-97.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from ._checks import check_conf_level, check_scores, check_survival
from .results import Estimate, TestResult

__all__ = ["FollowUp", "concordance", "cox_regression", "follow_up", "kaplan_meier", "logrank_test", "survival_brier",
           "time_dependent_auc", "uno_concordance"]


def _km_table(t: np.ndarray, e: np.ndarray, conf_level: float) -> pd.DataFrame:
    from lifelines import KaplanMeierFitter

    kmf = KaplanMeierFitter(alpha=1 - conf_level).fit(t, e)
    events = kmf.event_table
    ci = kmf.confidence_interval_survival_function_
    table = pd.DataFrame({
        "time": events.index.to_numpy(dtype=float),
        "at_risk": events["at_risk"].to_numpy(dtype=int),
        "n_event": events["observed"].to_numpy(dtype=int),
        "n_censored": events["censored"].to_numpy(dtype=int),
        "survival": kmf.survival_function_.iloc[:, 0].reindex(events.index).to_numpy(),
        "ci_low": ci.iloc[:, 0].reindex(events.index).to_numpy(),
        "ci_high": ci.iloc[:, 1].reindex(events.index).to_numpy(),
    })
    # lifelines adds a time-0 row even when nobody was observed then; R does not.
    table = table[(table["n_event"] + table["n_censored"]) > 0].reset_index(drop=True)
    # the log-log interval is undefined at S = 0 and at S = 1 (log S = 0): survfit gives NA
    # there, lifelines [0, 0] and [1, 1]
    undefined = (table["survival"] <= 0) | (table["survival"] >= 1)
    table.loc[undefined, ["ci_low", "ci_high"]] = np.nan
    return table


def _groups(group, n: int) -> np.ndarray:
    g = np.asarray(group)
    if g.ndim != 1 or g.size != n:
        raise ValueError(f"group has {g.size} values but time has {n}; expected equal lengths")
    if pd.isna(g).any():
        raise ValueError(f"group holds {int(pd.isna(g).sum())} missing values")
    return g


def kaplan_meier(time, event, group=None, *, conf_level: float = 0.95) -> pd.DataFrame:
    """Kaplan-Meier estimate with log-log (exponential Greenwood) intervals.

    As ``summary(survfit(Surv(time, event) ~ group, conf.type = "log-log"), censored = TRUE)``:
    one row per distinct observed time (per group), columns ``time``, ``at_risk``,
    ``n_event``, ``n_censored``, ``survival``, ``ci_low``, ``ci_high`` and ``group`` when
    given. Where the survival estimate reaches 0 its interval is undefined, and left empty.

    Examples
    --------
    >>> from tace.stats import kaplan_meier
    >>> km = kaplan_meier([2, 3, 3, 5, 8], [1, 1, 0, 1, 0])
    >>> km[["time", "at_risk", "survival"]].round(3).to_numpy().tolist()
    [[2.0, 5.0, 0.8], [3.0, 4.0, 0.6], [5.0, 2.0, 0.3], [8.0, 1.0, 0.3]]
    """
    t, e = check_survival(time, event)
    conf_level = check_conf_level(conf_level)
    if group is None:
        return _km_table(t, e, conf_level)
    g = _groups(group, t.size)
    parts = []
    for level in sorted(pd.unique(g), key=str):
        sel = g == level
        part = _km_table(t[sel], e[sel], conf_level) if e[sel].any() else _km_censored_only(t[sel])
        part.insert(0, "group", level)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _km_censored_only(t: np.ndarray) -> pd.DataFrame:
    """A group without events: survival stays 1 (its interval is undefined)."""
    times, counts = np.unique(t, return_counts=True)
    at_risk = t.size - np.concatenate([[0], np.cumsum(counts)[:-1]])
    return pd.DataFrame({"time": times, "at_risk": at_risk, "n_event": 0, "n_censored": counts,
                         "survival": 1.0, "ci_low": np.nan, "ci_high": np.nan})


def _km_quantile(times: np.ndarray, surv: np.ndarray, last_time: float, p: float, tol: float = 1.5e-8) -> float:
    """The ``p`` quantile of a Kaplan-Meier curve (``surv`` after each of ``times``): the first
    time it drops to ``1 - p`` or below; where it sits exactly at ``1 - p`` on a flat stretch,
    the middle of that stretch (ending at the next drop, or at ``last_time``), as
    ``quantile.survfit`` does. NaN when the curve never reaches ``1 - p``."""
    target = 1.0 - p
    below = np.flatnonzero(surv <= target + tol)
    if below.size == 0:
        return float("nan")
    i = int(below[0])
    if abs(surv[i] - target) > tol:
        return float(times[i])
    later = np.flatnonzero(surv[i + 1:] < surv[i] - tol)
    end = float(times[i + 1 + later[0]]) if later.size else float(last_time)
    return (float(times[i]) + end) / 2.0


@dataclass(frozen=True)
class FollowUp:
    """Median follow-up by the reverse Kaplan-Meier method, with its quartiles.

    Attributes
    ----------
    median, q1, q3
        Months (the unit of the times given); NaN where the reverse curve does not reach
        the quantile (too few patients censored late).
    n, n_censored
        Patients and those censored alive (the "events" of the reverse curve).
    """

    median: float
    q1: float
    q3: float
    n: int
    n_censored: int


def follow_up(time, event) -> FollowUp:
    """Median follow-up and its interquartile range by the reverse Kaplan-Meier method.

    The Kaplan-Meier estimate with the roles swapped (being censored is the event, a death
    censors) estimates the distribution of potential follow-up: how long patients would
    have been followed had none died. Its median is the median follow-up; the median of all
    observed times instead mixes follow-up with survival and falls as mortality rises.
    As ``quantile(survfit(Surv(time, 1 - status) ~ 1), c(0.25, 0.5, 0.75))`` in R.

    References
    ----------
    Schemper M, Smith TL. A note on quantifying follow-up in studies of failure time.
    Control Clin Trials 1996;17:343-6.

    Examples
    --------
    >>> f = follow_up([5, 10, 20, 30, 40], [1, 0, 1, 0, 0])
    >>> (f.q1, f.median, f.q3, f.n_censored)
    (20.0, 30.0, 40.0, 3)
    """
    t, e = check_survival(time, event)
    censored = ~e.astype(bool)
    if not censored.any():
        return FollowUp(float("nan"), float("nan"), float("nan"), int(t.size), 0)
    table = _km_table(t, censored.astype(int), 0.95)
    times, surv = table["time"].to_numpy(float), table["survival"].to_numpy(float)
    q1, median, q3 = (_km_quantile(times, surv, float(t.max()), p) for p in (0.25, 0.5, 0.75))
    return FollowUp(median, q1, q3, int(t.size), int(censored.sum()))


def logrank_test(time, event, group) -> TestResult:
    """Log-rank test of equal survival across groups (chi-square on k - 1 df).

    As ``survdiff(Surv(time, event) ~ group)``.

    Examples
    --------
    >>> from tace.stats import logrank_test
    >>> r = logrank_test([2, 3, 4, 6, 8, 9, 12, 15], [1, 1, 1, 0, 1, 1, 0, 1], ["a"] * 4 + ["b"] * 4)
    >>> r.statistic_name, r.df, round(r.p_value, 3)
    ('chisq', 1.0, 0.04)
    """
    from lifelines.statistics import multivariate_logrank_test

    t, e = check_survival(time, event)
    g = _groups(group, t.size)
    k = pd.unique(g).size
    if k < 2:
        raise ValueError("group holds a single level; the log-rank test compares two or more groups")
    res = multivariate_logrank_test(t, g, e)
    return TestResult(float(res.test_statistic), float(res.p_value), None, None, None,
                      f"Log-rank test ({k} groups)", "chisq", float(k - 1))


def cox_regression(df: pd.DataFrame, duration_col: str, event_col: str, covariates: list[str], *,
                   conf_level: float = 0.95) -> pd.DataFrame:
    """Cox proportional-hazards regression, Efron's method for ties.

    As ``summary(coxph(Surv(duration, event) ~ covariates, ties = "efron"))``.

    Parameters
    ----------
    df
        One row per patient.
    duration_col, event_col
        Survival time and event indicator (1 = death).
    covariates
        Numeric columns (code categories as 0/1 indicators beforehand).
    conf_level
        Level of the hazard ratios' Wald intervals.

    Returns
    -------
    pandas.DataFrame
        One row per covariate: ``covariate``, ``coef``, ``se``, ``hr``, ``ci_low``,
        ``ci_high`` (of the HR), ``z``, ``p``.

    Examples
    --------
    >>> import pandas as pd
    >>> from tace.stats import cox_regression
    >>> df = pd.DataFrame({"t": [5, 8, 3, 10, 2, 12, 7, 4], "dead": [1, 0, 1, 1, 1, 0, 1, 1],
    ...                    "dlr": [0.4, 0.2, 0.9, 0.1, 0.8, 0.3, 0.6, 0.5]})
    >>> table = cox_regression(df, "t", "dead", ["dlr"])
    >>> table["covariate"].tolist(), bool(table["hr"].iloc[0] > 1)
    (['dlr'], True)
    """
    from lifelines import CoxPHFitter

    conf_level = check_conf_level(conf_level)
    covariates = list(covariates)
    missing = [c for c in [duration_col, event_col, *covariates] if c not in df.columns]
    if missing:
        raise ValueError(f"columns not in the data: {', '.join(missing)}")
    if not covariates:
        raise ValueError("covariates is empty; expected one or more column names")
    data = df[[duration_col, event_col, *covariates]].copy()
    for c in covariates:
        if not pd.api.types.is_numeric_dtype(data[c]) or pd.api.types.is_bool_dtype(data[c]):
            if pd.api.types.is_bool_dtype(data[c]):
                data[c] = data[c].astype(float)
            else:
                raise ValueError(f"covariate {c!r} is not numeric ({data[c].dtype}); code it as numbers")
        if data[c].isna().any():
            raise ValueError(f"covariate {c!r} holds {int(data[c].isna().sum())} missing values")
        if data[c].nunique() < 2:
            raise ValueError(f"covariate {c!r} is constant; it cannot be estimated")
    t, e = check_survival(data[duration_col], data[event_col])
    data[duration_col], data[event_col] = t, e.astype(int)
    cph = CoxPHFitter(alpha=1 - conf_level)
    cph.fit(data, duration_col=duration_col, event_col=event_col,
            fit_options={"precision": 1e-12, "max_steps": 200})
    s = cph.summary
    z = float(sps.norm.ppf(1 - (1 - conf_level) / 2))
    coef, se = s["coef"].to_numpy(), s["se(coef)"].to_numpy()
    return pd.DataFrame({
        "covariate": list(s.index), "coef": coef, "se": se, "hr": np.exp(coef),
        "ci_low": np.exp(coef - z * se), "ci_high": np.exp(coef + z * se),
        "z": coef / se, "p": 2 * sps.norm.sf(np.abs(coef / se)),
    })


def _pair_sums(t: np.ndarray, e: np.ndarray, r: np.ndarray, chunk: int = 2048):
    """Per observation: its comparable pairs and their scores (1 concordant, 1/2 tied risk).

    A pair (i, j) is comparable when i died first: e_i = 1 and t_i < t_j, or t_i = t_j with
    j censored (a censored time tied with a death counts as the longer). Pairs tied in time
    with both dead are not comparable (survival's ``tied.y``).
    """
    n = t.size
    pairs = np.zeros(n)
    score = np.zeros(n)
    for start in range(0, n, chunk):
        i = np.arange(start, min(start + chunk, n))
        ti, ei, ri = t[i, None], e[i, None], r[i, None]
        comparable = ei & ((ti < t[None, :]) | ((ti == t[None, :]) & ~e[None, :]))
        s = np.where(ri > r[None, :], 1.0, np.where(ri == r[None, :], 0.5, 0.0)) * comparable
        # pair (i, j) counts for both i and j
        pairs[i] += comparable.sum(axis=1)
        score[i] += s.sum(axis=1)
        pairs += comparable.sum(axis=0)
        score += s.sum(axis=0)
    return pairs, score


def concordance(time, event, risk, *, conf_level: float = 0.95) -> Estimate:
    """Harrell's concordance index: higher risk means shorter survival.

    C = (concordant + tied risk / 2) / comparable pairs, with the infinitesimal-jackknife
    variance sum_i U_i^2, U_i = sum over i's pairs of (score - C) / pairs, as
    ``survival::concordance(Surv(time, event) ~ risk, reverse = TRUE)`` computes them.
    The interval is C +/- z sqrt(var), clipped to [0, 1].

    Examples
    --------
    >>> from tace.stats import concordance
    >>> round(concordance([5, 8, 3, 10, 2], [1, 0, 1, 1, 1], [0.4, 0.2, 0.9, 0.1, 0.8]).estimate, 3)
    0.889
    """
    t, e = check_survival(time, event)
    r = check_scores(risk, t.size, "risk")
    conf_level = check_conf_level(conf_level)
    pairs, score = _pair_sums(t, e, r)
    total = pairs.sum() / 2.0
    if total == 0:
        raise ValueError("no comparable pairs (every death is tied in time with every longer survivor)")
    c = float(score.sum() / 2.0 / total)
    influence = (score - c * pairs) / total
    var = float(np.sum(influence ** 2))
    se = float(np.sqrt(var))
    z = float(sps.norm.ppf(1 - (1 - conf_level) / 2))
    return Estimate(c, max(0.0, c - z * se), min(1.0, c + z * se), conf_level,
                    "Harrell's C, infinitesimal jackknife", int(t.size), int(e.sum()), se)


def _censoring_survival(t: np.ndarray, e: np.ndarray):
    """Reverse Kaplan-Meier estimate G of the censoring distribution: a function giving
    G(x) (``left=False``) or G(x-) (``left=True``) at the times x. A death at the time of a
    censoring counts as before it (it leaves the censoring risk set), as prodlim's
    ``reverse = TRUE`` and so riskRegression: with both in one risk set the AUC of R's veteran
    data differs from Score's by up to 1e-4."""
    times, inverse = np.unique(t, return_inverse=True)
    censored = np.bincount(inverse, weights=(~e).astype(float), minlength=times.size)
    deaths = np.bincount(inverse, weights=e.astype(float), minlength=times.size)
    at_risk = t.size - np.r_[0, np.cumsum(np.bincount(inverse, minlength=times.size))[:-1]] - deaths
    g = np.cumprod(1.0 - np.divide(censored, at_risk, out=np.zeros_like(censored), where=at_risk > 0))

    def at(x: np.ndarray, left: bool = False) -> np.ndarray:
        k = np.searchsorted(times, x, side="left" if left else "right")  # steps up to x (or before x)
        return np.where(k > 0, g[np.maximum(k - 1, 0)], 1.0)

    return at


def _ipcw_auc(t: np.ndarray, e: np.ndarray, r: np.ndarray, horizon: float, g_at) -> float:
    """Cumulative/dynamic AUC at ``horizon``: cases died by then (weight 1/G(T-)), controls
    still at risk after it (weight 1/G(t)); ties in the marker count one half."""
    case = (t <= horizon) & e
    control = t > horizon
    if not case.any() or not control.any():
        return float("nan")
    w1 = 1.0 / g_at(t[case], left=True)
    w0 = 1.0 / float(g_at(np.array([horizon]))[0])
    rc, r0 = r[case], np.sort(r[control])
    below = np.searchsorted(r0, rc, side="left")
    ties = np.searchsorted(r0, rc, side="right") - below
    # the controls' weights are all 1/G(t), so they cancel from the ratio
    return float(np.sum(w1 * (below + 0.5 * ties)) / (np.sum(w1) * r0.size)) if w0 > 0 else float("nan")


#: Bootstrap intervals :func:`time_dependent_auc` offers.
TD_AUC_INTERVALS = ("logit", "percentile")


def time_dependent_auc(time, event, risk, times, *, train_time=None, train_event=None, conf_level: float = 0.95,
                       n_boot: int = 0, seed: int | None = None, interval: str = "logit") -> pd.DataFrame:
    """Cumulative/dynamic time-dependent AUC with inverse-probability-of-censoring weights.

    At each horizon t, cases are patients who died by t and controls those still alive after
    t. As ``riskRegression::Score(..., metrics = "auc", cens.model = "km")`` and ``timeROC``
    (Blanche et al. 2013), a case is weighted by 1/G(T_i-), the reverse Kaplan-Meier estimate
    of the censoring distribution just before its death, and a control by 1/G(t); ties in the
    marker count one half. (scikit-survival's ``cumulative_dynamic_auc``, which tace used
    before, weights cases by 1/G(T_i) and differs where a censoring shares a death's time.)
    The censoring distribution is that of the training data when given (Uno et al. 2007),
    by default the data themselves.

    With ``n_boot`` > 0 a bootstrap interval: patients resampled, G refitted in each resample
    (its variability included). ``interval="logit"`` (default) is the Wald interval on the
    logit scale, expit(logit AUC +- z SD*), SD* the bootstrap SD of logit AUC*; ``"percentile"``
    the percentile interval. The logit interval is the default because an AUC near 1 with few
    controls has a skewed, bounded sampling distribution: in simulation (Weibull, n = 300,
    ``benchmarks/bench_survival_coverage.py``) the percentile interval covered 91.7% at an AUC
    of 0.86, the logit interval 94-95%. riskRegression's asymptotic interval (influence
    function, Wald on the AUC scale) is of the same quantity; its SE agrees with ``se`` here.

    Returns
    -------
    pandas.DataFrame
        One row per horizon: ``time``, ``auc``, ``n_cases`` (deaths by t), ``n_controls``
        (alive beyond t), and with ``n_boot`` ``ci_low``, ``ci_high``, ``se`` (bootstrap SD).

    Examples
    --------
    >>> from tace.stats import time_dependent_auc
    >>> t = [2, 5, 7, 9, 12, 15, 20, 24, 30, 36]
    >>> e = [1, 1, 0, 1, 1, 0, 1, 0, 1, 0]
    >>> risk = [0.9, 0.8, 0.3, 0.7, 0.4, 0.2, 0.5, 0.1, 0.3, 0.2]
    >>> time_dependent_auc(t, e, risk, [10, 20])[["time", "n_cases", "n_controls"]].to_numpy().tolist()
    [[10.0, 3.0, 6.0], [20.0, 5.0, 3.0]]
    """
    t, e = check_survival(time, event)
    r = check_scores(risk, t.size, "risk")
    conf_level = check_conf_level(conf_level)
    if interval not in TD_AUC_INTERVALS:
        raise ValueError(f"interval must be one of {TD_AUC_INTERVALS}; got {interval!r}")
    horizons = np.atleast_1d(np.asarray(times, dtype=float))
    separate = train_time is not None
    tt, te = check_survival(train_time, train_event) if separate else (t, e)
    lo, hi = t[e].min(), min(t.max(), tt.max())
    bad = horizons[(horizons < lo) | (horizons >= hi)]
    if bad.size:
        raise ValueError(f"horizons {bad.tolist()} lie outside the follow-up: expected times from "
                         f"the first death ({lo:g}) to before the last follow-up ({hi:g})")
    g_at = _censoring_survival(tt, te)
    table = pd.DataFrame({"time": horizons, "auc": [_ipcw_auc(t, e, r, h, g_at) for h in horizons],
                          "n_cases": [int(np.sum((t <= h) & e)) for h in horizons],
                          "n_controls": [int(np.sum(t > h)) for h in horizons]})
    if n_boot:
        rng = np.random.default_rng(seed)
        boot = np.full((n_boot, horizons.size), np.nan)
        for b in range(n_boot):
            i = rng.integers(0, t.size, t.size)
            g_b = g_at if separate else _censoring_survival(t[i], e[i])
            boot[b] = [_ipcw_auc(t[i], e[i], r[i], h, g_b) for h in horizons]
        if interval == "percentile":
            q = [(1 - conf_level) / 2, 1 - (1 - conf_level) / 2]
            table["ci_low"], table["ci_high"] = np.nanquantile(boot, q, axis=0)
        else:
            table["ci_low"], table["ci_high"] = _logit_wald(table["auc"].to_numpy(), boot, conf_level)
        table["se"] = np.nanstd(boot, axis=0, ddof=1)
    return table


def _logit_wald(estimate: np.ndarray, boot: np.ndarray, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """expit(logit(estimate) +- z SD(logit boot)); an estimate of 0 or 1 (no spread on the logit
    scale) gets the percentile bounds, which the logit interval would collapse onto it."""
    z = float(sps.norm.ppf(1 - (1 - conf_level) / 2))
    inner = (estimate > 0) & (estimate < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        lb = np.where((boot > 0) & (boot < 1), np.log(boot / (1 - boot)), np.nan)
        sd = np.nanstd(lb, axis=0, ddof=1)
        centre = np.log(estimate / (1 - estimate))
    low, high = 1 / (1 + np.exp(-(centre - z * sd))), 1 / (1 + np.exp(-(centre + z * sd)))
    q = np.nanquantile(boot, [(1 - conf_level) / 2, 1 - (1 - conf_level) / 2], axis=0)
    return np.where(inner, low, q[0]), np.where(inner, high, q[1])


def survival_brier(time, event, risk, times) -> pd.DataFrame:
    """Brier score of predicted risks at horizons, with inverse-probability-of-censoring
    weights, and the index of prediction accuracy (IPA).

    ``risk[:, k]`` is each patient's predicted probability of the event by ``times[k]``. As
    ``riskRegression::Score(..., metrics = "brier", cens.model = "km", summary = "ipa")``
    (Graf et al. 1999): a patient who died by t contributes (1 - risk)^2 / G(T-), one still
    alive after t contributes risk^2 / G(t), one censored before t nothing (weight 0); the
    mean is over all patients. IPA = 1 - Brier / Brier of the null model, which gives every
    patient the Kaplan-Meier risk by t (Kattan & Gerds 2018).

    Returns
    -------
    pandas.DataFrame
        One row per horizon: ``time``, ``brier``, ``null_brier``, ``ipa``.

    References
    ----------
    Graf E, Schmoor C, Sauerbrei W, Schumacher M. Assessment and comparison of prognostic
    classification schemes for survival data. Stat Med 1999;18:2529-45.
    Kattan MW, Gerds TA. The index of prediction accuracy: an intuitive measure useful for
    evaluating risk prediction models. Diagn Progn Res 2018;2:7.
    """
    t, e = check_survival(time, event)
    horizons = np.atleast_1d(np.asarray(times, dtype=float))
    r = np.asarray(risk, dtype=float).reshape(t.size, -1) if np.ndim(risk) > 1 else \
        np.asarray(risk, dtype=float)[:, None]
    if r.shape != (t.size, horizons.size):
        raise ValueError(f"risk has shape {r.shape}; expected ({t.size}, {horizons.size}): one column per horizon")
    if not np.isfinite(r).all() or (r < 0).any() or (r > 1).any():
        raise ValueError("risk must hold probabilities in [0, 1], without missing values")
    too_late = horizons[horizons >= t.max()]
    if too_late.size:
        raise ValueError(f"horizons {too_late.tolist()} are not before the last follow-up ({t.max():g})")
    g_at = _censoring_survival(t, e)
    km = _km_table(t, e, 0.95)
    rows = []
    for k, h in enumerate(horizons):
        died, alive = (t <= h) & e, t > h
        w = np.zeros(t.size)
        w[died] = 1.0 / g_at(t[died], left=True)
        w[alive] = 1.0 / float(g_at(np.array([h]))[0])
        y = died.astype(float)
        surv = km.loc[km["time"] <= h, "survival"]
        null_risk = 1.0 - (float(surv.iloc[-1]) if len(surv) else 1.0)
        brier = float(np.mean(w * (y - r[:, k]) ** 2))
        null = float(np.mean(w * (y - null_risk) ** 2))
        rows.append({"time": h, "brier": brier, "null_brier": null, "ipa": 1.0 - brier / null if null > 0 else np.nan})
    return pd.DataFrame(rows)


def _uno_c(t: np.ndarray, e: np.ndarray, m: np.ndarray, tau: float, g_at) -> float:
    deaths = np.flatnonzero(e & (t <= tau))
    if deaths.size == 0:
        return float("nan")
    ti, mi = t[deaths, None], m[deaths, None]
    comparable = (t[None, :] > ti) | ((t[None, :] == ti) & ~e[None, :])  # censored at T_i: still at risk
    concordant = (mi > m[None, :]) + 0.5 * (mi == m[None, :])
    w = 1.0 / g_at(t[deaths], left=True) ** 2
    den = float(np.sum(w * comparable.sum(axis=1)))
    return float(np.sum(w * (comparable * concordant).sum(axis=1)) / den) if den > 0 else float("nan")


def uno_concordance(time, event, risk, tau: float, *, conf_level: float = 0.95, n_boot: int = 1000,
                    seed: int | None = None) -> Estimate:
    """Uno's C-statistic truncated at ``tau``, with a percentile bootstrap interval.

    As ``survival::concordance(Surv(time, status) ~ risk, timewt = "n/G2", ymax = tau,
    reverse = TRUE)``: comparable pairs are a death at T_i <= tau and a patient still at risk
    after it (a censoring at T_i counts as at risk), weighted by 1/G(T_i-)^2 with G the reverse
    Kaplan-Meier estimate of censoring; ties in the risk count one half. Unlike Harrell's C it
    does not depend on the censoring distribution (Uno et al. 2011). The interval resamples
    patients and refits G (survival's infinitesimal-jackknife SE is of the same quantity).

    References
    ----------
    Uno H, Cai T, Pencina MJ, D'Agostino RB, Wei LJ. On the C-statistics for evaluating overall
    adequacy of risk prediction procedures with censored survival data. Stat Med
    2011;30:1105-17.
    """
    t, e = check_survival(time, event)
    r = check_scores(risk, t.size, "risk")
    conf_level = check_conf_level(conf_level)
    if not t[e].min() <= tau:
        raise ValueError(f"tau = {tau:g} is before the first death ({t[e].min():g}); no pair is comparable")
    estimate = _uno_c(t, e, r, tau, _censoring_survival(t, e))
    nan = float("nan")
    if n_boot <= 0:
        return Estimate(estimate, nan, nan, conf_level, f"Uno's C, tau = {tau:g}", int(t.size), int(e.sum()), nan)
    rng = np.random.default_rng(seed)
    boot = np.empty(n_boot)
    for b in range(n_boot):
        i = rng.integers(0, t.size, t.size)
        boot[b] = _uno_c(t[i], e[i], r[i], tau, _censoring_survival(t[i], e[i]))
    lo, hi = np.nanquantile(boot, [(1 - conf_level) / 2, 1 - (1 - conf_level) / 2])
    return Estimate(estimate, float(lo), float(hi), conf_level,
                    f"Uno's C, tau = {tau:g}; bootstrap ({n_boot} resamples, percentile)", int(t.size), int(e.sum()),
                    float(np.nanstd(boot, ddof=1)))
