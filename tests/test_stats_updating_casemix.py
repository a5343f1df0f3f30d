"""Model updating (recalibration) and case-mix measures for tace validate.

The recalibration coefficients are the CITL and calibration slope whose values
tests/test_stats_calibration.py checks against R's glm; the SMD is checked against tableone's
two-sample SMD, an independent implementation."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from tace.stats import calibration, roc_auc
from tace.stats.casemix import lp_relatedness, smd_from_summary
from tace.stats.updating import UPDATES, fit_update, updating_table


@pytest.fixture
def miscalibrated():
    rng = np.random.default_rng(5)
    lp = rng.normal(-0.2, 1.3, 600)
    y = rng.random(600) < expit(0.6 + 0.7 * lp)  # too low on average and too extreme
    return y, expit(lp)


def test_recalibration_coefficients_are_the_citl_and_the_calibration_slope(miscalibrated):
    y, p = miscalibrated
    cal = calibration(y, p)
    assert fit_update(y, p, "recalibration-in-the-large").intercept == pytest.approx(cal.citl.estimate, abs=1e-8)
    logistic = fit_update(y, p, "logistic recalibration")
    assert logistic.slope == pytest.approx(cal.slope.estimate, abs=1e-8)
    assert 0.5 < logistic.slope < 0.9 and logistic.intercept > 0.3  # it finds the planted miscalibration


def test_after_logistic_recalibration_the_same_cohort_is_calibrated_and_auc_is_unchanged(miscalibrated):
    y, p = miscalibrated
    table = updating_table(y, p).set_index("update")
    assert list(table.index) == list(UPDATES)
    assert table.loc["logistic recalibration", "citl"] == pytest.approx(0, abs=1e-6)
    assert table.loc["logistic recalibration", "calibration_slope"] == pytest.approx(1, abs=1e-6)
    assert table.loc["recalibration-in-the-large", "citl"] == pytest.approx(0, abs=1e-6)
    assert table.loc["recalibration-in-the-large", "mean_predicted"] != pytest.approx(p.mean(), abs=1e-3)
    assert table.loc["as is", "brier"] > table.loc["logistic recalibration", "brier"]
    q = fit_update(y, p, "logistic recalibration").apply(p)
    assert roc_auc(y, q).estimate == pytest.approx(roc_auc(y, p).estimate, abs=1e-12)
    np.testing.assert_allclose(table["auc"], roc_auc(y, p).estimate, rtol=0, atol=1e-12)
    assert table.loc["as is", "assessed_on"].startswith("as is")
    assert table.loc["logistic recalibration", "assessed_on"].startswith("apparent")


def test_a_negative_recalibration_slope_reverses_the_auc_and_says_so():
    """A model that ranks the cohort backwards: logistic recalibration fits a negative slope,
    and the recalibrated AUC is 1 - AUC (0.18 -> 0.82 in the case issue 12 reported); the
    table must show it, not claim the AUC is unchanged."""
    rng = np.random.default_rng(11)
    lp = rng.normal(0, 1.2, 400)
    y = rng.random(400) < expit(-1.5 * lp)  # risk falls as the score rises
    p = expit(lp)
    with pytest.warns(UserWarning, match="wrong way round"):
        table = updating_table(y, p).set_index("update")
    auc = roc_auc(y, p).estimate
    assert auc < 0.3
    assert table.loc["as is", "auc"] == pytest.approx(auc, abs=1e-12)
    assert table.loc["recalibration-in-the-large", "auc"] == pytest.approx(auc, abs=1e-12)
    assert table.loc["logistic recalibration", "slope"] < 0
    assert table.loc["logistic recalibration", "auc"] == pytest.approx(1 - auc, abs=1e-12)


def test_an_unknown_update_is_refused():
    with pytest.raises(ValueError, match="unknown update 'isotonic'"):
        fit_update([0, 1, 1], [0.2, 0.5, 0.7], "isotonic")


def test_smd_from_development_summary_equals_tableones_two_sample_smd():
    from tableone import TableOne

    rng = np.random.default_rng(6)
    dev = pd.DataFrame({"age": rng.normal(60, 9, 200), "size": rng.gamma(3, 2, 200)})
    val = pd.DataFrame({"age": rng.normal(65, 11, 80), "size": rng.gamma(4, 2, 80)})
    summary = {c: {"mean": float(dev[c].mean()), "sd": float(dev[c].std(ddof=1))} for c in dev}
    ours = smd_from_summary(summary, val).set_index("predictor")["smd"]
    both = pd.concat([dev.assign(group="a"), val.assign(group="b")], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t1 = TableOne(both, columns=["age", "size"], groupby="group", smd=True, pval=False)
    theirs = t1.smd_table.iloc[:, 0]
    for name in ("age", "size"):
        row = [k for k in theirs.index if k.startswith(name)][0]
        # tableone reports dev - val the other way round for group order a, b: compare magnitudes and sign
        assert abs(ours[name]) == pytest.approx(abs(float(theirs[row])), abs=1e-3)
        assert ours[name] > 0  # validation is older and has larger tumours


def test_smd_refuses_a_cohort_without_a_development_predictor():
    with pytest.raises(ValueError, match="lacks predictor 'afp'"):
        smd_from_summary({"afp": {"mean": 1.0, "sd": 1.0}}, pd.DataFrame({"age": [1.0, 2.0]}))


def test_lp_relatedness_reads_a_shifted_wider_lp_as_transportability():
    rng = np.random.default_rng(7)
    same = lp_relatedness("dlr", 0.0, 1.0, rng.normal(0.05, 1.0, 5000))
    assert same.reading.startswith("reproducibility")
    shifted = lp_relatedness("dlr", 0.0, 1.0, rng.normal(0.8, 1.6, 5000))
    assert shifted.mean_shift_sd_units == pytest.approx(0.8, abs=0.06)
    assert shifted.sd_ratio == pytest.approx(1.6, abs=0.05)
    assert shifted.reading.startswith("transportability")
