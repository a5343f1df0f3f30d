"""ROC AUC, DeLong and bootstrap intervals and tests agree with pROC.

Reference values: tests/reference/roc_reference.R (pROC 1.18.0, R 4.2.2) on the inputs it
wrote to tests/reference/data/roc_data.csv. Deterministic quantities agree to a relative
1e-6; bootstrap quantities within Monte-Carlo error of two independent 2000-replicate runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from tace.stats import bootstrap_auc_test, delong_test, delong_test_unpaired, roc_auc
from tace.stats.roc import _delong_naive, _placements, _split

REF = Path(__file__).parent / "reference" / "data"
DATA = pd.read_csv(REF / "roc_data.csv")
VALUES = json.loads((REF / "roc_reference.json").read_text())
NAMES = ["moderate_ties", "small", "ratings", "large"]


def _data(name):
    d = DATA[DATA["dataset"] == name]
    return d["y"].to_numpy(), d["a"].to_numpy(), d["b"].to_numpy()


def _quantile_mc_tol(boot_sd: float, q: float = 0.025, b: int = 2000, k: float = 5.0) -> float:
    """k standard errors of the difference of two independent bootstrap percentile bounds."""
    return k * np.sqrt(2) * boot_sd * np.sqrt(q * (1 - q) / b) / sps.norm.pdf(sps.norm.ppf(q))


@pytest.mark.parametrize("name", NAMES + ["separated"])
def test_auc_and_delong_interval_match_pROC(name):
    """R: ci.auc(roc(y, a, levels = c(0, 1), direction = "<"), method = "delong")."""
    y, a, b = _data(name)
    ref = VALUES["datasets"][name]
    if name == "separated":
        with pytest.warns(UserWarning, match="zero DeLong variance"):
            est = roc_auc(y, a)
    else:
        est = roc_auc(y, a)
        est90 = roc_auc(y, a, conf_level=0.90)
        np.testing.assert_allclose([est90.ci_low, est90.ci_high], ref["delong_ci90_a"], rtol=1e-6)
    np.testing.assert_allclose(est.estimate, ref["auc_a"], rtol=1e-6)
    np.testing.assert_allclose(est.se ** 2, ref["var_a"], rtol=1e-6, atol=1e-15)
    np.testing.assert_allclose([est.ci_low, est.ci_high], ref["delong_ci_a"], rtol=1e-6)
    np.testing.assert_allclose(roc_auc(y, b).estimate, ref["auc_b"], rtol=1e-6)
    assert est.n == len(y) and est.n_events == int(y.sum())


@pytest.mark.parametrize("name", NAMES)
def test_paired_delong_test_matches_pROC(name):
    """R: roc.test(roc_a, roc_b, method = "delong", paired = TRUE)."""
    y, a, b = _data(name)
    ref = VALUES["datasets"][name]["delong_paired"]
    r = delong_test(y, a, b)
    np.testing.assert_allclose([r.statistic, r.p_value, r.estimate],
                               [ref["statistic"], ref["p_value"], ref["estimate"]], rtol=1e-6)
    np.testing.assert_allclose([r.ci_low, r.ci_high], ref["conf_int"], rtol=1e-6)
    assert r.method == "DeLong's test for two correlated ROC curves"


@pytest.mark.parametrize("other", ["small", "ratings"])
def test_unpaired_delong_test_matches_pROC(other):
    """R: roc.test(roc_moderate_ties_a, roc_other_a, method = "delong", paired = FALSE)."""
    ya, a, _ = _data("moderate_ties")
    yb, b, _ = _data(other)
    ref = VALUES[f"unpaired_moderate_ties_vs_{other}"]
    r = delong_test_unpaired(ya, a, yb, b)
    np.testing.assert_allclose([r.statistic, r.df, r.p_value], [ref["statistic"], ref["df"], ref["p_value"]], rtol=1e-6)
    assert r.statistic_name == "D"


@pytest.mark.parametrize("name", NAMES)
def test_bootstrap_interval_matches_pROC_within_monte_carlo_error(name):
    """R: set.seed(1); ci.auc(roc_a, method = "bootstrap", boot.n = 2000, boot.stratified = TRUE)."""
    y, a, _ = _data(name)
    ref = VALUES["datasets"][name]["bootstrap_ci_a"]
    est = roc_auc(y, a, method="bootstrap", n_boot=2000, seed=7)
    tol = _quantile_mc_tol(est.se)
    assert abs(est.ci_low - ref[0]) < tol and abs(est.ci_high - ref[1]) < tol, (est, ref, tol)
    assert est.estimate == pytest.approx(VALUES["datasets"][name]["auc_a"], rel=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_bootstrap_test_matches_pROC_within_monte_carlo_error(name):
    """R: set.seed(2); roc.test(roc_a, roc_b, method = "bootstrap", paired = TRUE, boot.n = 2000)."""
    y, a, b = _data(name)
    ref = VALUES["datasets"][name]["bootstrap_paired"]
    r = bootstrap_auc_test(y, a, b, n_boot=2000, seed=3)
    # D = d / sd(diffs): the sd of 2000 replicates has a relative SE of about 1/sqrt(2 * 2000)
    assert r.statistic == pytest.approx(ref["statistic"], rel=5 * np.sqrt(2) / np.sqrt(4000))


def test_fast_delong_equals_the_naive_quadratic_version_on_data_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(5, 300))
        y = rng.random(n) < rng.uniform(0.1, 0.9)
        if y.all() or not y.any():
            continue
        s = np.round(rng.normal(size=n) + y * rng.uniform(0, 2), int(rng.integers(0, 2)))
        auc, var = _delong_naive(s[y], s[~y])
        est = roc_auc(y, s)
        np.testing.assert_allclose([est.estimate, est.se ** 2], [auc, var], rtol=1e-10)


def test_fast_delong_covariance_equals_the_naive_one():
    rng = np.random.default_rng(1)
    y = rng.random(150) < 0.4
    a, b = np.round(rng.normal(size=(2, 150)) + y, 1)
    p = _placements(*_split(y, a, b))
    psi = [(x[y][:, None] > x[~y][None, :]) + 0.5 * (x[y][:, None] == x[~y][None, :]) for x in (a, b)]
    v10 = np.vstack([q.mean(axis=1) for q in psi])
    v01 = np.vstack([q.mean(axis=0) for q in psi])
    naive = np.cov(v10) / y.sum() + np.cov(v01) / (~y).sum()
    np.testing.assert_allclose(p.covariance(), naive, rtol=1e-10)


def test_one_sort_placements_equal_sun_and_xus_mid_ranks_on_ties_and_large_n():
    from tace.stats.roc import _placements_midrank

    rng = np.random.default_rng(3)
    for n, digits in ((40, 0), (1000, 1), (50_000, 2)):
        y = rng.random(n) < 0.35
        a, b = np.round(rng.normal(size=(2, n)) + y, digits)
        fast, ref = _placements(*_split(y, a, b)), _placements_midrank(*_split(y, a, b))
        np.testing.assert_allclose(fast.v10, ref.v10, rtol=0, atol=1e-12)
        np.testing.assert_allclose(fast.v01, ref.v01, rtol=0, atol=1e-12)
        np.testing.assert_allclose(fast.auc, ref.auc, rtol=0, atol=1e-12)


def test_bootstrap_is_reproducible_by_seed_and_unstratified_resampling_works():
    y, a, _ = _data("moderate_ties")
    one = roc_auc(y, a, method="bootstrap", seed=5)
    assert one == roc_auc(y, a, method="bootstrap", seed=5)
    assert one != roc_auc(y, a, method="bootstrap", seed=6)
    loose = roc_auc(y, a, method="bootstrap", stratified=False, n_boot=500, seed=5)
    assert loose.ci_low < loose.estimate < loose.ci_high
    assert "500 replicates" in loose.method


def test_direction_is_never_flipped():
    y = np.array([0, 0, 0, 1, 1, 1, 0, 1])
    est = roc_auc(y, [3, 2, 1.5, 1, 0.5, 0, 0.7, 2.5])  # scores point mostly the wrong way
    assert est.estimate == pytest.approx(4 / 16)  # 2.5 beats three controls, 1 beats one


@pytest.mark.parametrize(("y", "s", "message"), [
    ([1, 1, 1], [0.1, 0.2, 0.3], "only positive"),
    ([0, 0, 0], [0.1, 0.2, 0.3], "only negative"),
    ([1], [0.5], "at least 2"),
    ([0, 1, 1], [0.1, 0.2], "expected equal lengths"),
    ([0, 1, np.nan], [0.1, 0.2, 0.3], "missing \\(NaN\\) labels"),
    ([0, 1, 2], [0.1, 0.2, 0.3], "must be binary"),
    ([0, 1, 1], [0.1, np.nan, 0.3], "NaN or infinite"),
    (["a", "b", "a"], [0.1, 0.2, 0.3], "0/1 or True/False"),
])
def test_degenerate_input_raises_a_named_error(y, s, message):
    with pytest.raises(ValueError, match=message):
        roc_auc(y, s)


def test_unknown_method_and_bad_conf_level_are_refused():
    y, a, _ = _data("small")
    with pytest.raises(ValueError, match="method must be 'delong' or 'bootstrap'"):
        roc_auc(y, a, method="hanley")
    with pytest.raises(ValueError, match="conf_level must lie strictly between 0 and 1"):
        roc_auc(y, a, conf_level=95)


def test_results_render_as_tables():
    y, a, b = _data("small")
    frame = roc_auc(y, a).to_frame()
    assert list(frame.columns[:5]) == ["estimate", "ci_low", "ci_high", "conf_level", "method"]
    assert "<table" in delong_test(y, a, b)._repr_html_()


@pytest.mark.parametrize("call", [
    lambda: delong_test([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2]),
    lambda: bootstrap_auc_test([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, np.nan, 0.4]),
    lambda: delong_test_unpaired([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], [1, 1, 1], [0.1, 0.2, 0.3]),
])
def test_comparisons_refuse_degenerate_input(call):
    with pytest.raises(ValueError, match=r"score_b has 2 values|score_b holds 1 NaN|y_b holds only positive"):
        call()


@pytest.mark.parametrize(("y", "s"), [
    ([0, 0, 0, 1], [0.1, 0.4, 0.3, 0.2]),  # one case
    ([1, 1, 0, 1, 1], [0.9, 0.4, 0.5, 0.7, 0.2]),  # one control
])
def test_delong_with_a_single_case_or_control_gives_nan_not_a_confident_interval(y, s):
    """DeLong's variance is a sample variance over cases and one over controls; with one of
    either it does not exist. pROC's ``ci.auc(roc(y, s), method = "delong")`` then returns NA
    and ``roc.test(..., method = "delong")`` a NaN statistic (issue 12, checked as a reviewer
    would in R); tace returned a 0-1 interval and Z = -inf, p = 0."""
    case_auc = {4: 1 / 3, 5: 0.5}[len(y)]
    with pytest.warns(UserWarning, match="at least two cases and two controls"):
        est = roc_auc(y, s)
    assert est.estimate == pytest.approx(case_auc)  # the AUC itself is defined
    assert np.isnan(est.ci_low) and np.isnan(est.ci_high) and np.isnan(est.se)
    other = [0.3, 0.1, 0.2, 0.6, 0.8][:len(y)]
    with pytest.warns(UserWarning, match="delong_test: DeLong's variance needs"):
        paired = delong_test(y, s, other)
    assert np.isnan(paired.statistic) and np.isnan(paired.p_value) and np.isnan(paired.ci_low)
    assert np.isfinite(paired.estimate)
    with pytest.warns(UserWarning, match=r"first ROC curve"):
        unpaired = delong_test_unpaired(y, s, [0, 1, 0, 1], [0.1, 0.7, 0.4, 0.5])
    assert np.isnan(unpaired.statistic) and np.isnan(unpaired.p_value)
