"""Calibration at a horizon for survival models (Austin, Harrell & van Klaveren 2020)
against the authors' rms recipe.

Reference: tests/reference/survival_calibration_reference.R: ``cph(Surv(time, status) ~
rcs(cll, 3), surv = TRUE)`` and ``survest`` on pbc (5-year risk of a Cox model, 312
patients, knots by quantile) and lung (1-year risk, 90 patients, rcspline.eval's n < 100
rule), with cph's convergence tolerance tightened to 1e-11 (its default 1e-4 left the
coefficients 2e-3 from convergence)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from tace.stats.survival_calibration import cross_validated_cox_risk, rcs_knots, survival_calibration

REF = json.loads((Path(__file__).parent / "reference" / "data" / "survival_calibration_reference.json").read_text())


@pytest.mark.parametrize("data", ["pbc", "lung"])
def test_ici_e50_e90_emax_and_observed_risks_equal_the_rms_recipe(data):
    """R (pbc): ICI 0.00919189957282386 at 1826 days."""
    r = REF[data]
    cal = survival_calibration(r["time"], r["status"], r["risk"], r["t"])
    np.testing.assert_allclose(cal.knots, r["knots"], rtol=1e-12)
    np.testing.assert_allclose([cal.ici, cal.e50, cal.e90, cal.emax], [r["ici"], r["e50"], r["e90"], r["emax"]],
                               rtol=1e-6)
    np.testing.assert_allclose(cal.observed, r["observed"], rtol=1e-6)
    if data == "pbc":
        assert cal.ici == pytest.approx(0.00919189957282386, rel=1e-6)


def test_knots_follow_rcspline_eval_for_small_samples_and_tied_ends():
    x = np.arange(1.0, 51.0)  # n < 100: outer knots are the 5th smallest and largest values
    np.testing.assert_allclose(rcs_knots(x), [5.0, 25.5, 46.0])
    tied = np.r_[np.zeros(20), np.linspace(1, 10, 200)]  # 9% at the minimum: a knot of its own
    assert rcs_knots(tied)[0] == pytest.approx(1.0)


def _weibull_cohort(n, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    lam, k = 0.05 * np.exp(0.8 * x), 1.3
    t = (rng.exponential(size=n) / lam) ** (1 / k)
    c = rng.uniform(5, 40, n)
    true_risk = 1 - np.exp(-lam * 12.0 ** k)
    pred = expit(np.log(true_risk / (1 - true_risk)) + shift)
    return np.minimum(t, c), (t <= c).astype(int), pred, x


def test_a_calibrated_prediction_has_a_small_ici_and_a_shifted_one_a_large_one():
    """Weibull truth, 3,000 patients: the true 12-month risk has ICI near 0 (< 0.02); the
    same risk shifted by +1 on the logit scale has ICI about 0.15 (> 0.08)."""
    time, event, good, _ = _weibull_cohort(3000, 1)
    _, _, bad, _ = _weibull_cohort(3000, 1, shift=1.0)
    ok = survival_calibration(time, event, good, 12.0)
    off = survival_calibration(time, event, bad, 12.0)
    assert ok.ici < 0.02
    assert off.ici > 0.08
    assert ok.mean_predicted == pytest.approx(ok.observed_km, abs=0.03)
    assert len(ok.curve) == 100 and ok.curve["predicted"].is_monotonic_increasing


def test_cross_validated_risk_of_a_cox_model_is_calibrated_on_weibull_data():
    """Out-of-fold 12-month risks of a Cox model of x on 2,000 Weibull patients are close to
    the true risks (mean absolute difference < 0.02)."""
    time, event, true_risk, x = _weibull_cohort(2000, 3)
    df = pd.DataFrame({"t": time, "e": event, "x": x})
    risk = cross_validated_cox_risk(df, "t", "e", ["x"], [12.0], folds=5, seed=1)
    assert risk.shape == (2000, 1) and np.isfinite(risk).all()
    assert np.mean(np.abs(risk[:, 0] - true_risk)) < 0.02


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        survival_calibration([1, 2, 3, 4, 5, 6, 7], [1, 0, 1, 1, 0, 1, 1], [0.1, 0.2, 1.0, 0.3, 0.4, 0.5, 0.6], 3)
    with pytest.raises(ValueError, match="no death at or before"):
        survival_calibration([5, 6, 7, 8, 9, 10, 11], [1] * 7, np.full(7, 0.3), 2)
