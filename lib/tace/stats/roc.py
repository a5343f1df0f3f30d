"""ROC AUC with DeLong and bootstrap intervals, and tests comparing two AUCs.

The conventions are pROC's (Robin et al. 2011), so that every number can be checked
against ``pROC::ci.auc`` and ``pROC::roc.test``: the AUC is the Mann-Whitney probability
that a case outscores a control, ties counting one half; the direction is fixed (a higher
score means the positive class, pROC's ``direction = "<"``) and never detected from the data.

DeLong's variance uses the placement values of DeLong et al. (1988), computed with
mid-ranks in O(n log n) as Sun & Xu (2014) show. The stratified bootstrap is vectorised:
each replicate is a pair of count vectors over cases and controls, and its AUC is read off
cumulative sums in O(n), so 2000 replicates cost a few array passes instead of a loop.

References
----------
DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more correlated
receiver operating characteristic curves: a nonparametric approach. Biometrics 1988;44:837-45.

Sun X, Xu W. Fast implementation of DeLong's algorithm for comparing the areas under
correlated receiver operating characteristic curves. IEEE Signal Process Lett 2014;21:1389-93.

Robin X, Turck N, Hainard A, et al. pROC: an open-source package for R and S+ to analyze and
compare ROC curves. BMC Bioinformatics 2011;12:77.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats as sps

from ._checks import check_binary, check_conf_level, check_scores
from .results import Estimate, TestResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["bootstrap_auc_test", "delong_test", "delong_test_unpaired", "roc_auc", "roc_curve"]

_CHUNK = 2_000_000  # bootstrap cells (replicates x observations) held in memory at once


@dataclass(frozen=True)
class _Placements:
    """DeLong's structural components of one or more scores over the same cases/controls."""

    auc: np.ndarray  # (k,)
    v10: np.ndarray  # (k, m): for each case, the share of controls it outscores
    v01: np.ndarray  # (k, n): for each control, the share of cases that outscore it

    @property
    def m(self) -> int:
        return self.v10.shape[1]

    @property
    def n(self) -> int:
        return self.v01.shape[1]

    def covariance(self) -> np.ndarray:
        """DeLong's covariance matrix of the AUCs: S10/m + S01/n (pROC's S)."""
        s10 = np.atleast_2d(np.cov(self.v10, ddof=1))
        s01 = np.atleast_2d(np.cov(self.v01, ddof=1))
        return s10 / self.m + s01 / self.n


def _placements(cases: np.ndarray, controls: np.ndarray) -> _Placements:
    """Placement values from one sort per score: ``cases`` (k, m) and ``controls`` (k, n).

    Sun & Xu (2014) read them off three mid-rankings (all, cases, controls); the same values
    follow from a single sort of all scores: for each tie group, the controls below it
    and the cases above it, each tie counting one half. A third of the sorting work, which is
    most of DeLong's cost at large n (checked equal to the mid-rank version to the last bit in
    tests/test_stats_roc.py).
    """
    k, m = cases.shape
    n = controls.shape[1]
    v10 = np.empty((k, m))
    v01 = np.empty((k, n))
    is_case = np.r_[np.ones(m, dtype=bool), np.zeros(n, dtype=bool)]
    for r in range(k):
        z = np.concatenate([cases[r], controls[r]])
        order = np.argsort(z)  # any order within ties: only tie groups are used
        zs, cs = z[order], is_case[order]
        new_value = np.empty(zs.size, dtype=bool)
        new_value[0] = True
        np.not_equal(zs[1:], zs[:-1], out=new_value[1:])
        group = np.cumsum(new_value) - 1
        g_case, g_ctrl = group[cs], group[~cs]
        n_groups = int(group[-1]) + 1
        case_g = np.bincount(g_case, minlength=n_groups)
        ctrl_g = np.bincount(g_ctrl, minlength=n_groups)
        ctrl_below = np.cumsum(ctrl_g) - ctrl_g
        case_above = m - np.cumsum(case_g)
        v10[r, order[cs]] = ((ctrl_below + 0.5 * ctrl_g) / n)[g_case]
        v01[r, order[~cs] - m] = ((case_above + 0.5 * case_g) / m)[g_ctrl]
    return _Placements(v10.mean(axis=1), v10, v01)


def _placements_midrank(cases: np.ndarray, controls: np.ndarray) -> _Placements:
    """Sun & Xu's mid-rank algorithm (the reference for :func:`_placements`)."""
    m, n = cases.shape[1], controls.shape[1]
    tz = sps.rankdata(np.hstack([cases, controls]), axis=1)
    tx = sps.rankdata(cases, axis=1)
    ty = sps.rankdata(controls, axis=1)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    auc = v10.mean(axis=1)
    return _Placements(auc, v10, v01)


def _delong_naive(cases: np.ndarray, controls: np.ndarray) -> tuple[float, float]:
    """AUC and DeLong variance by the O(m n) definition; a check for the fast version."""
    psi = (cases[:, None] > controls[None, :]) + 0.5 * (cases[:, None] == controls[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(psi.mean()), float(v10.var(ddof=1) / len(cases) + v01.var(ddof=1) / len(controls))


def _split(y: np.ndarray, *scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k = np.vstack(scores)
    return k[:, y], k[:, ~y]


def _z(conf_level: float) -> float:
    return float(sps.norm.ppf(1 - (1 - conf_level) / 2))


def _delong_defined(m: int, n: int, what: str) -> bool:
    """DeLong's variance is a sample variance over the cases and one over the controls: with
    a single case or a single control it does not exist. pROC then gives NA (``ci.auc``) and
    NaN (``roc.test``); so does tace, with a warning, rather than a confident interval."""
    if m >= 2 and n >= 2:
        return True
    warnings.warn(f"{what}: DeLong's variance needs at least two cases and two controls, got {m} "
                  f"case(s) and {n} control(s); the interval and test are NaN (pROC gives NA)",
                  UserWarning, stacklevel=3)
    return False


class _StratifiedBootstrap:
    """Stratified bootstrap AUCs of one or more scores, without a loop over replicates.

    A replicate draws m cases and n controls with replacement: count vectors w (over
    cases) and u (over controls). Its AUC is sum_j u_j [sum_i w_i psi(x_i, y_j)] / (m n);
    with the cases sorted by score, the inner sum is read from the cumulative sum of w at
    each control's insertion points (cases above it, plus half the ties).
    """

    def __init__(self, cases: np.ndarray, controls: np.ndarray):
        self.cases, self.controls = cases, controls
        self.m, self.n = cases.shape[1], controls.shape[1]
        self.order = np.argsort(cases, axis=1, kind="stable")
        sorted_cases = np.take_along_axis(cases, self.order, axis=1)
        self.lo = np.stack([np.searchsorted(s, c, side="left") for s, c in zip(sorted_cases, controls, strict=True)])
        self.hi = np.stack([np.searchsorted(s, c, side="right") for s, c in zip(sorted_cases, controls, strict=True)])

    @staticmethod
    def _counts(rng: np.random.Generator, b: int, size: int) -> np.ndarray:
        draws = rng.integers(0, size, size=(b, size), dtype=np.int32)
        draws += (np.arange(b, dtype=np.int32) * size)[:, None]
        return np.bincount(draws.ravel(), minlength=b * size).reshape(b, size).astype(np.int32)

    def aucs(self, n_boot: int, rng: np.random.Generator) -> np.ndarray:
        """(n_boot, k) AUCs; the same resamples for every score (paired)."""
        k = self.cases.shape[0]
        out = np.empty((n_boot, k))
        step = max(1, _CHUNK // max(self.m + self.n, 1))
        for start in range(0, n_boot, step):
            b = min(step, n_boot - start)
            w = self._counts(rng, b, self.m)
            u = self._counts(rng, b, self.n).astype(np.float64)
            for s in range(k):
                cum = np.zeros((b, self.m + 1), dtype=np.int32)
                np.cumsum(w[:, self.order[s]], axis=1, out=cum[:, 1:])
                # weighted cases at or below each control, ties counted half:
                # cum[hi] - (cum[hi] - cum[lo]) / 2 = (cum[hi] + cum[lo]) / 2
                below = cum[:, self.hi[s]] + cum[:, self.lo[s]]
                out[start:start + b, s] = 1.0 - np.einsum("bj,bj->b", u, below) / (2.0 * self.m * self.n)
        return out


def _bootstrap_method(n_boot: int, stratified: bool) -> str:
    return f"bootstrap ({n_boot} {'stratified ' if stratified else ''}replicates, percentile)"


def roc_auc(y_true, y_score, *, conf_level: float = 0.95, method: str = "delong",
            n_boot: int = 2000, stratified: bool = True, seed: int | None = None) -> Estimate:
    """Area under the ROC curve with a confidence interval.

    Parameters
    ----------
    y_true
        Binary outcome (1 = the positive class, e.g. non-response).
    y_score
        Scores; a higher score means the positive class (never auto-detected).
    conf_level
        Level of the two-sided interval.
    method
        ``"delong"`` (DeLong et al. 1988, as ``pROC::ci.auc(method = "delong")``, bounds
        clipped to [0, 1]) or ``"bootstrap"`` (percentile interval of ``n_boot`` resamples,
        as ``pROC::ci.auc(method = "bootstrap")``).
    n_boot
        Bootstrap replicates.
    stratified
        Resample cases and controls separately (keeps their numbers fixed, as pROC's default).
    seed
        Seed of the bootstrap.

    Returns
    -------
    Estimate

    Examples
    --------
    >>> from tace.stats import roc_auc
    >>> est = roc_auc([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.7])
    >>> round(est.estimate, 4), est.method
    (0.8889, 'DeLong')
    """
    y = check_binary(y_true)
    s = check_scores(y_score, y.size)
    conf_level = check_conf_level(conf_level)
    cases, controls = _split(y, s)
    if method == "delong":
        p = _placements(cases, controls)
        if not _delong_defined(p.m, p.n, "roc_auc"):
            nan = float("nan")
            return Estimate(float(p.auc[0]), nan, nan, conf_level, "DeLong", int(y.size), int(y.sum()), nan)
        auc, var = float(p.auc[0]), float(p.covariance()[0, 0])
        if var == 0:
            warnings.warn(f"AUC is {auc:g} with zero DeLong variance (complete separation): its "
                          f"interval is {auc:g}-{auc:g} and can be misleading; consider the "
                          "bootstrap", UserWarning, stacklevel=2)
        se = float(np.sqrt(var))
        half = _z(conf_level) * se
        return Estimate(auc, max(0.0, auc - half), min(1.0, auc + half), conf_level, "DeLong",
                        int(y.size), int(y.sum()), se)
    if method == "bootstrap":
        rng = np.random.default_rng(seed)
        auc = float(_placements(cases, controls).auc[0])
        if stratified:
            boot = _StratifiedBootstrap(cases, controls).aucs(n_boot, rng)[:, 0]
        else:
            boot = _unstratified_aucs(y, s[None, :], n_boot, rng)[:, 0]
        lo, hi = np.quantile(boot, [(1 - conf_level) / 2, 1 - (1 - conf_level) / 2])
        return Estimate(auc, float(lo), float(hi), conf_level, _bootstrap_method(n_boot, stratified),
                        int(y.size), int(y.sum()), float(np.std(boot, ddof=1)))
    raise ValueError(f"method must be 'delong' or 'bootstrap'; got {method!r}")


def _unstratified_aucs(y: np.ndarray, scores: np.ndarray, n_boot: int,
                       rng: np.random.Generator) -> np.ndarray:
    """Resample patients regardless of class; replicates with one class are redrawn."""
    out = np.empty((n_boot, scores.shape[0]))
    i = 0
    while i < n_boot:
        idx = rng.integers(0, y.size, y.size)
        yb = y[idx]
        if yb.all() or not yb.any():
            continue
        out[i] = _placements(*_split(yb, *scores[:, idx])).auc
        i += 1
    return out


def roc_curve(y_true, y_score) -> pd.DataFrame:
    """The empirical ROC curve: one row per distinct threshold, from (0, 0) to (1, 1).

    Wraps ``sklearn.metrics.roc_curve`` (every threshold kept); a patient is called
    positive when ``score >= threshold``.

    Returns
    -------
    pandas.DataFrame
        ``threshold``, ``fpr`` (1 - specificity), ``tpr`` (sensitivity).

    Examples
    --------
    >>> from tace.stats import roc_curve
    >>> roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])[["fpr", "tpr"]].to_numpy().tolist()
    [[0.0, 0.0], [0.0, 0.5], [0.5, 0.5], [0.5, 1.0], [1.0, 1.0]]
    """
    import pandas as pd
    from sklearn.metrics import roc_curve as _sk_roc_curve

    y = check_binary(y_true)
    s = check_scores(y_score, y.size)
    fpr, tpr, thr = _sk_roc_curve(y, s, drop_intermediate=False)
    return pd.DataFrame({"threshold": thr, "fpr": fpr, "tpr": tpr})


def delong_test(y_true, score_a, score_b, *, conf_level: float = 0.95) -> TestResult:
    """DeLong's test of two correlated AUCs (two scores on the same patients).

    As ``pROC::roc.test(roc_a, roc_b, method = "delong", paired = TRUE)``: Z statistic,
    two-sided normal p-value, and the difference AUC_a - AUC_b with its Wald interval.

    Examples
    --------
    >>> from tace.stats import delong_test
    >>> y = [0, 0, 0, 1, 1, 1, 0, 1]
    >>> r = delong_test(y, [.1, .3, .2, .8, .6, .9, .4, .7], [.2, .1, .5, .6, .3, .7, .4, .9])
    >>> round(r.estimate, 4), r.statistic_name
    (0.125, 'Z')
    """
    y = check_binary(y_true)
    a = check_scores(score_a, y.size, "score_a")
    b = check_scores(score_b, y.size, "score_b")
    conf_level = check_conf_level(conf_level)
    p = _placements(*_split(y, a, b))
    d = float(p.auc[0] - p.auc[1])
    if not _delong_defined(p.m, p.n, "delong_test"):
        nan = float("nan")
        return TestResult(nan, nan, d, nan, nan, "DeLong's test for two correlated ROC curves", "Z", None,
                          conf_level)
    cov = p.covariance()
    sig = float(np.sqrt(max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0.0)))
    z = 0.0 if sig == 0 and d == 0 else (d / sig if sig > 0 else float(np.sign(d) * np.inf))
    half = _z(conf_level) * sig
    return TestResult(z, float(2 * sps.norm.sf(abs(z))), d, d - half, d + half,
                      "DeLong's test for two correlated ROC curves", "Z", None, conf_level)


def delong_test_unpaired(y_a, score_a, y_b, score_b, *, conf_level: float = 0.95) -> TestResult:
    """DeLong's test of two AUCs from different patients (e.g. test vs external cohort).

    As ``pROC::roc.test(roc_a, roc_b, method = "delong", paired = FALSE)``: statistic D =
    (AUC_a - AUC_b) / sqrt(V_a + V_b) against a t distribution with Welch-Satterthwaite
    degrees of freedom. The interval of the difference uses the same t quantile.

    Examples
    --------
    >>> from tace.stats import delong_test_unpaired
    >>> r = delong_test_unpaired([0, 0, 1, 1, 0, 1], [.1, .4, .35, .8, .2, .7],
    ...                          [0, 1, 0, 1, 1, 0, 0], [.3, .6, .2, .9, .4, .5, .1])
    >>> r.statistic_name, round(r.estimate, 4)
    ('D', -0.0278)
    """
    ya, yb = check_binary(y_a, "y_a"), check_binary(y_b, "y_b")
    sa, sb = check_scores(score_a, ya.size, "score_a"), check_scores(score_b, yb.size, "score_b")
    conf_level = check_conf_level(conf_level)
    pa, pb = _placements(*_split(ya, sa)), _placements(*_split(yb, sb))
    d = float(pa.auc[0] - pb.auc[0])
    if not (_delong_defined(pa.m, pa.n, "delong_test_unpaired (first ROC curve)")
            and _delong_defined(pb.m, pb.n, "delong_test_unpaired (second ROC curve)")):
        nan = float("nan")
        return TestResult(nan, nan, d, nan, nan, "DeLong's test for two ROC curves", "D", nan, conf_level)
    va, vb = float(pa.covariance()[0, 0]), float(pb.covariance()[0, 0])
    se = float(np.sqrt(va + vb))
    stat = d / se if se > 0 else (0.0 if d == 0 else float(np.sign(d) * np.inf))
    df = (va + vb) ** 2 / (va ** 2 / (ya.size - 1) + vb ** 2 / (yb.size - 1)) if se > 0 else float("inf")
    half = float(sps.t.ppf(1 - (1 - conf_level) / 2, df)) * se
    return TestResult(stat, float(2 * sps.t.sf(abs(stat), df)), d, d - half, d + half,
                      "DeLong's test for two ROC curves", "D", float(df), conf_level)


def bootstrap_auc_test(y_true, score_a, score_b, *, n_boot: int = 2000, seed: int | None = None,
                       conf_level: float = 0.95) -> TestResult:
    """Paired bootstrap test of two AUCs on the same patients.

    As ``pROC::roc.test(roc_a, roc_b, method = "bootstrap", paired = TRUE)``: stratified
    resamples, D = (AUC_a - AUC_b) / sd(bootstrap differences), two-sided normal p-value.
    The interval is the percentile interval of the bootstrap differences.

    Examples
    --------
    >>> from tace.stats import bootstrap_auc_test
    >>> y = [0, 0, 0, 1, 1, 1, 0, 1]
    >>> r = bootstrap_auc_test(y, [.1, .3, .2, .8, .6, .9, .4, .7], [.2, .1, .5, .6, .3, .7, .4, .9],
    ...                        n_boot=500, seed=1)
    >>> round(r.estimate, 4), r.ci_low <= r.estimate <= r.ci_high
    (0.125, True)
    """
    y = check_binary(y_true)
    a = check_scores(score_a, y.size, "score_a")
    b = check_scores(score_b, y.size, "score_b")
    conf_level = check_conf_level(conf_level)
    cases, controls = _split(y, a, b)
    auc = _placements(cases, controls).auc
    boot = _StratifiedBootstrap(cases, controls).aucs(n_boot, np.random.default_rng(seed))
    diffs = boot[:, 0] - boot[:, 1]
    d = float(auc[0] - auc[1])
    sd = float(np.std(diffs, ddof=1))
    stat = d / sd if sd > 0 else (0.0 if d == 0 else float(np.sign(d) * np.inf))
    lo, hi = np.quantile(diffs, [(1 - conf_level) / 2, 1 - (1 - conf_level) / 2])
    return TestResult(stat, float(2 * sps.norm.sf(abs(stat))), d, float(lo), float(hi),
                      f"Bootstrap test for two correlated ROC curves ({n_boot} stratified replicates)",
                      "D", None, conf_level)
