"""Calibration, operating points and net benefit agree with R.

Reference values: tests/reference/calibration_reference.R (rms 6.5.0, pROC 1.18.0,
R 4.2.2) on the inputs in tests/reference/data/calibration_data.csv.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from tace.stats import calibration, net_benefit, threshold_metrics, youden_threshold
from tace.stats.calibration import hosmer_lemeshow

REF = Path(__file__).parent / "reference" / "data"
DATA = pd.read_csv(REF / "calibration_data.csv")
VALUES = json.loads((REF / "calibration_reference.json").read_text())["datasets"]
NAMES = list(VALUES)


def _data(name):
    d = DATA[DATA["dataset"] == name]
    return d["y"].to_numpy(), d["p"].to_numpy()


@pytest.mark.parametrize("name", NAMES)
def test_citl_and_slope_match_glm(name):
    """R: glm(y ~ offset(qlogis(p)), binomial) and glm(y ~ qlogis(p), binomial), confint.default
    (glm.control(epsilon = 1e-14))."""
    y, p = _data(name)
    ref = VALUES[name]
    cal = calibration(y, p)
    np.testing.assert_allclose([cal.citl.estimate, *[cal.citl.ci_low, cal.citl.ci_high]],
                               [ref["citl"], *ref["citl_ci"]], rtol=1e-6)
    np.testing.assert_allclose([cal.slope.estimate, cal.slope.ci_low, cal.slope.ci_high],
                               [ref["slope"], *ref["slope_ci"]], rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_brier_and_smoothed_errors_match_rms_val_prob(name):
    """R: val.prob(p, y)[c("Brier", "Eavg", "E90", "Emax")]; E50 from val.prob's own smoother,
    quantile(abs(p - approx(lowess(p, y, iter = 0), xout = p, ties = mean)$y), 0.5)."""
    y, p = _data(name)
    ref = VALUES[name]
    cal = calibration(y, p, smoother="lowess")
    np.testing.assert_allclose([cal.brier, cal.ici, cal.e50, cal.e90, cal.emax],
                               [ref["brier"], ref["eavg"], ref["e50"], ref["e90"], ref["emax"]], rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_hosmer_lemeshow_matches_the_resourceselection_algorithm(name):
    """R: the hoslem.test algorithm (10 groups at quantile breaks), written out in the script."""
    y, p = _data(name)
    ref = VALUES[name]["hosmer_lemeshow"]
    hl = calibration(y, p).hosmer_lemeshow
    np.testing.assert_allclose([hl.statistic, hl.df, hl.p_value], [ref["statistic"], ref["df"], ref["p_value"]],
                               rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_hosmer_lemeshow_has_g_degrees_of_freedom_where_the_model_was_not_fitted(name):
    """External validation: no parameter was estimated from the cohort tested, so the
    chi-square has g df, not g - 2 (Hosmer, Lemeshow & Sturdivant 2013, section 5.2.2). Same
    statistic as the R reference; p = pchisq(statistic, g, lower.tail = FALSE)."""
    y, p = _data(name)
    ref = VALUES[name]["hosmer_lemeshow"]
    hl = calibration(y, p, fitted_on_cohort=False).hosmer_lemeshow
    assert hl.statistic == pytest.approx(ref["statistic"], rel=1e-6)
    assert hl.df == ref["df"] + 2
    assert hl.p_value == pytest.approx(sps.chi2.sf(ref["statistic"], ref["df"] + 2), rel=1e-6)
    assert "not fitted on this cohort" in hl.method


def test_hosmer_lemeshow_says_when_tied_probabilities_merge_groups():
    rng = np.random.default_rng(2)
    p = np.r_[np.full(60, 0.2), np.full(40, 0.5), rng.uniform(0.05, 0.95, 100)]
    y = rng.random(p.size) < p
    with pytest.warns(UserWarning, match=r"10 groups became \d"):
        hl = hosmer_lemeshow(y, p)
    assert hl.df < 8


def test_calibration_curve_has_a_band_around_the_smoothed_curve():
    y, p = _data("well")
    curve = calibration(y, p).curve
    assert list(curve.columns) == ["predicted", "observed", "ci_low", "ci_high"]
    assert (curve["ci_low"] <= curve["observed"]).all() and (curve["observed"] <= curve["ci_high"]).all()
    assert curve["predicted"].is_monotonic_increasing
    # a well-calibrated model's curve stays close to the diagonal
    assert np.mean(np.abs(curve["observed"] - curve["predicted"])) < 0.1


def test_calibration_detects_overconfident_predictions():
    rng = np.random.default_rng(4)
    lp = rng.normal(0, 1, 4000)
    y = rng.random(4000) < 1 / (1 + np.exp(-lp))
    over = calibration(y, 1 / (1 + np.exp(-2 * lp)))  # logits twice too extreme
    assert over.slope.estimate == pytest.approx(0.5, abs=0.05)
    assert over.slope.ci_high < 1


@pytest.mark.parametrize("name", NAMES)
def test_youden_threshold_matches_pROC(name):
    """R: coords(roc(y, p, levels = c(0, 1), direction = "<"), "best", best.method = "youden")."""
    y, p = _data(name)
    assert youden_threshold(y, p) == pytest.approx(VALUES[name]["youden_threshold"], rel=1e-9)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("method", "cols"), [("wilson", [1, 2]), ("clopper-pearson", [3, 4])])
def test_threshold_metrics_match_prop_test_and_binom_test(name, method, cols):
    """R: prop.test(x, n, correct = FALSE)$conf.int (Wilson) and binom.test(x, n)$conf.int."""
    y, p = _data(name)
    table = threshold_metrics(y, p, 0.4, ci_method=method).set_index("metric")
    for metric, ref in VALUES[name]["metrics_at_0.4"].items():
        row = table.loc[metric]
        np.testing.assert_allclose([row["estimate"], row["ci_low"], row["ci_high"]],
                                   [ref[0], ref[cols[0]], ref[cols[1]]], rtol=1e-6, err_msg=metric)


def test_threshold_metrics_say_why_a_metric_is_undefined():
    table = threshold_metrics([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], 0.9).set_index("metric")
    assert np.isnan(table.loc["ppv", "estimate"])
    assert table.loc["ppv", "note"] == "undefined: nobody is called positive at this threshold"
    assert table.loc["npv", "estimate"] == 0.5


@pytest.mark.parametrize("name", NAMES)
def test_net_benefit_matches_the_decision_curve_formula_in_R(name):
    """R: sum(p >= t & y == 1) / n - sum(p >= t & y == 0) / n * t / (1 - t) (Vickers & Elkin 2006)."""
    y, p = _data(name)
    ref = VALUES[name]["net_benefit"]
    nb = net_benefit(y, p, ref["thresholds"])
    np.testing.assert_allclose(nb["net_benefit"], ref["model"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(nb["net_benefit_all"], ref["all"], rtol=1e-9, atol=1e-12)
    assert (nb["net_benefit_none"] == 0).all()
    odds = np.asarray(ref["thresholds"]) / (1 - np.asarray(ref["thresholds"]))
    np.testing.assert_allclose(nb["interventions_avoided"],
                               (np.asarray(ref["model"]) - np.asarray(ref["all"])) / odds * 100, rtol=1e-9)


def test_net_benefit_bootstrap_adds_intervals_reproducibly():
    y, p = _data("well")
    t = np.arange(0.05, 0.95, 0.05)
    plain = net_benefit(y, p, t)
    boot = net_benefit(y, p, t, n_boot=300, seed=1)
    assert "net_benefit_ci_low" not in plain.columns
    assert (boot["net_benefit_ci_low"] <= boot["net_benefit"] + 1e-12).all()
    assert (boot["net_benefit"] <= boot["net_benefit_ci_high"] + 1e-12).all()
    pd.testing.assert_frame_equal(boot, net_benefit(y, p, t, n_boot=300, seed=1))


@pytest.mark.parametrize(("y", "p", "message"), [
    ([0, 1, 1], [0.2, 1.2, 0.5], "at or outside 0 and 1"),
    ([0, 1, 1], [0.2, 1.0, 0.5], "strictly between 0 and 1"),
    ([1, 1, 1], [0.2, 0.3, 0.5], "only positive"),
    ([0, 1], [0.2, np.nan], "NaN or infinite"),
])
def test_calibration_refuses_degenerate_input(y, p, message):
    with pytest.raises(ValueError, match=message):
        calibration(y, p)


def test_net_benefit_refuses_thresholds_outside_the_open_interval():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        net_benefit([0, 1], [0.2, 0.8], [0.0, 0.5])


def test_hosmer_lemeshow_refuses_probabilities_with_too_few_values():
    with pytest.raises(ValueError, match="too few distinct values"):
        hosmer_lemeshow([0, 1, 0, 1], [0.3, 0.3, 0.7, 0.7])


def test_calibration_result_renders_as_one_row():
    y, p = _data("small")
    cal = calibration(y, p)
    frame = cal.to_frame()
    assert frame.shape[0] == 1
    assert {"citl", "slope", "brier", "ici", "e50", "e90", "emax", "hl_chisq", "hl_df", "hl_p"} <= set(frame.columns)
    assert "<table" in cal._repr_html_()
    assert cal.n == len(y) and cal.n_events == int(y.sum())
