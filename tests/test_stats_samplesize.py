"""Sample size for external validation (Riley et al. 2021, criteria 1-4).

Two kinds of check: against pmvalsampsize 0.1.0 (R; tests/reference/samplesize_reference.R
and its JSON: exact where pmvalsampsize is deterministic, within its simulation's spread over
six seeds where it simulates), and by what each criterion promises: cohorts of the computed
size, simulated under the criterion's own assumptions, estimate the quantity with the
standard error asked for.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit

from tace.stats import roc_auc
from tace.stats.samplesize import external_validation_sample_size, lp_distribution

REPLICATES = 400
R = json.loads((Path(__file__).parent / "reference" / "data" / "samplesize_reference.json").read_text())


def _slope_fits(rng, n, mu, sd):
    """Logistic recalibration slopes of REPLICATES simulated cohorts (Newton-Raphson, vectorised)."""
    lp = rng.normal(mu, sd, size=(REPLICATES, n))
    y = rng.random((REPLICATES, n)) < expit(lp)
    beta = np.zeros((REPLICATES, 2))
    for _ in range(25):
        p = expit(beta[:, :1] + beta[:, 1:] * lp)
        w = p * (1 - p)
        g = np.stack([(y - p).sum(1), ((y - p) * lp).sum(1)], 1)
        h = np.stack([np.stack([w.sum(1), (w * lp).sum(1)], 1),
                      np.stack([(w * lp).sum(1), (w * lp * lp).sum(1)], 1)], 1)
        beta += np.linalg.solve(h, g[..., None])[..., 0]
    return beta[:, 1]


def test_the_lp_distribution_reproduces_the_prevalence_and_c_statistic_it_was_solved_for():
    rng = np.random.default_rng(1)
    mu, sd = lp_distribution(0.3, 0.75)
    lp = rng.normal(mu, sd, 400_000)
    y = rng.random(lp.size) < expit(lp)
    assert y.mean() == pytest.approx(0.3, abs=0.003)
    assert roc_auc(y[:40_000], lp[:40_000]).estimate == pytest.approx(0.75, abs=0.01)


def test_criteria_are_reported_and_the_largest_one_decides():
    r = external_validation_sample_size(0.45, 0.75)
    assert list(r.criteria["criterion"]) == ["O/E", "calibration slope", "C-statistic"]
    assert r.n == r.criteria["n"].max() and r.events == int(np.ceil(r.n * 0.45))
    assert (r.criteria["se"] > 0).all()
    # narrower intervals need more patients
    assert external_validation_sample_size(0.45, 0.75, c_ci_width=0.05).criteria["n"][2] > r.criteria["n"][2]


def test_oe_criterion_gives_the_asked_precision_of_ln_oe():
    r = external_validation_sample_size(0.4, 0.75)
    row = r.criteria.set_index("criterion").loc["O/E"]
    rng = np.random.default_rng(2)
    # criterion 1 assumes every prediction equals the prevalence
    observed = rng.binomial(int(row["n"]), 0.4, size=4000)
    sd = np.log(observed / (row["n"] * 0.4)).std(ddof=1)
    assert sd == pytest.approx(row["se"], rel=0.05)
    # and its CI at O/E = 1 then has at least the asked width, one 0.0001 step less would not
    assert np.exp(1.96 * row["se"]) - np.exp(-1.96 * row["se"]) >= 0.2
    assert np.exp(1.96 * (row["se"] - 1e-4)) - np.exp(-1.96 * (row["se"] - 1e-4)) < 0.2


def test_calibration_slope_criterion_gives_the_asked_precision_of_the_slope():
    mu, sd = -0.3, 1.4
    r = external_validation_sample_size(0.45, 0.75, lp_mean=mu, lp_sd=sd)
    row = r.criteria.set_index("criterion").loc["calibration slope"]
    slopes = _slope_fits(np.random.default_rng(3), int(row["n"]), mu, sd)
    assert slopes.mean() == pytest.approx(1.0, abs=0.02)
    assert slopes.std(ddof=1) == pytest.approx(row["se"], rel=0.1)


def test_c_statistic_criterion_gives_about_the_asked_precision_of_the_auc():
    r = external_validation_sample_size(0.45, 0.75, lp_model="normal")
    row = r.criteria.set_index("criterion").loc["C-statistic"]
    n = int(row["n"])
    rng = np.random.default_rng(4)
    aucs = []
    for _ in range(REPLICATES):
        lp = rng.normal(r.lp_mean, r.lp_sd, n)
        y = rng.random(n) < expit(lp)
        aucs.append(roc_auc(y, lp).estimate)
    # Newcombe's SE is an approximation; Riley et al. report it slightly conservative
    assert np.std(aucs, ddof=1) == pytest.approx(row["se"], rel=0.15)


def test_assess_warns_when_the_cohort_is_too_small_and_names_the_criteria():
    r = external_validation_sample_size(0.6, 0.75)
    small = r.assess(38, 24)
    assert small.startswith("WARNING") and "calibration slope" in small and "38 patients" in small
    assert r.assess(r.n, r.events).startswith("The cohort")


@pytest.mark.parametrize("kwargs, message", [
    ({"prevalence": 0.0, "c_statistic": 0.7}, "prevalence must lie in"),
    ({"prevalence": 0.3, "c_statistic": 0.5}, "c_statistic must lie in"),
    ({"prevalence": 0.3, "c_statistic": 0.7, "lp_model": "normal", "lp_mean": 0.0}, "give both lp_mean and lp_sd"),
    ({"prevalence": 0.3, "c_statistic": 0.7, "lp_model": "binormal", "lp_sd": 1.0}, "binormal LP's SD follows"),
    ({"prevalence": 0.3, "c_statistic": 0.7, "lp_model": "gamma"}, "lp_model must be one of"),
    ({"prevalence": 0.3, "c_statistic": 0.7, "threshold": 1.2}, "threshold must lie in"),
])
def test_impossible_inputs_are_refused_with_the_reason(kwargs, message):
    with pytest.raises(ValueError, match=message):
        external_validation_sample_size(**kwargs)


def test_deterministic_criteria_equal_pmvalsampsize():
    """pmvalsampsize(type = "b", prevalence = 0.018, cstatistic = 0.8, lpnormal = c(-5, 2.5),
    oeciwidth = 1): criterion 1 = 905 (its own test 4.1), criterion 3 = 4252; with
    sensitivity 0.7, specificity 0.8 and threshold 0.05, criterion 4 = 12176."""
    r = external_validation_sample_size(0.018, 0.8, oe_ci_width=1, lp_model="normal", lp_mean=-5, lp_sd=2.5,
                                        threshold=0.05, sensitivity=0.7, specificity=0.8)
    ref = R["nb_given"]
    n = r.criteria.set_index("criterion")["n"]
    got = [n["O/E"], n["C-statistic"], n["net benefit"]]
    assert got == [ref["n"][0], ref["n"][2], ref["n"][3]] == [905, 4252, 12176]
    assert r.standardised_net_benefit == pytest.approx(ref["standardised_nb"], rel=1e-12)
    assert r.criteria.set_index("criterion").loc["net benefit", "se"] == pytest.approx(ref["se_nb"])
    other = external_validation_sample_size(0.3, 0.75, lp_model="normal", lp_mean=-1, lp_sd=1.2, threshold=0.25,
                                            sensitivity=0.62, specificity=0.71, nb_ci_width=0.1)
    n2 = other.criteria.set_index("criterion")["n"]
    ref2 = R["nb_given_2"]["n"]
    assert [n2["O/E"], n2["C-statistic"], n2["net benefit"]] == [ref2[0], ref2[2], ref2[3]]
    tace_case = external_validation_sample_size(0.55, 0.85, lp_model="normal", lp_mean=0.25, lp_sd=1.9)
    assert tace_case.criteria["n"][[0, 2]].tolist() == [R["tace_case"]["n"][0], R["tace_case"]["n"][2]]


@pytest.mark.parametrize(("key", "kwargs"), [
    ("normal", {"prevalence": 0.018, "c_statistic": 0.8, "oe_ci_width": 1, "lp_model": "normal",
                "lp_mean": -5, "lp_sd": 2.5}),
    ("binormal", {"prevalence": 0.018, "c_statistic": 0.8, "oe_ci_width": 1, "lp_mean": -4.7}),
    ("nb_threshold", {"prevalence": 0.3, "c_statistic": 0.75, "lp_model": "normal", "lp_mean": -1, "lp_sd": 1.2,
                      "threshold": 0.25}),
])
def test_simulated_criteria_lie_within_pmvalsampsizes_spread(key, kwargs):
    """pmvalsampsize simulates 10^6 LPs for criterion 2 (and for criterion 4's sensitivity and
    specificity); tace integrates. Its six seeds spread over about 0.5% (normal: 4533-4558;
    binormal at m = -4.7: 16886-17081); tace must lie within their mean +- 4 SDs of the mean
    (the normal LP: 4554 against 4547 +- 4). Criterion 4 from the threshold: 472 in R for
    every seed (sensitivity 0.80, specificity 0.59 after rounding), and in tace."""
    r = external_validation_sample_size(**kwargs)
    runs = np.array([run["n"][1] for run in R[key]], dtype=float)
    slope_n = r.criteria.set_index("criterion").loc["calibration slope", "n"]
    assert abs(slope_n - runs.mean()) < 4 * runs.std(ddof=1) / np.sqrt(runs.size) + 1, (slope_n, runs)
    if key == "nb_threshold":
        assert {run["n"][3] for run in R[key]} == {472}
        assert r.criteria.set_index("criterion").loc["net benefit", "n"] == 472
        assert (r.sensitivity, r.specificity) == (R[key][0]["sensitivity"], R[key][0]["specificity"])


def test_binormal_lp_reproduces_the_prevalence_and_c_statistic():
    """pmvalsampsize's C-based model, solved exactly: simulated from tace's m and s, the mean
    risk is the prevalence and the AUC of the LP against the outcome the C-statistic."""
    from tace.stats.samplesize import binormal_lp

    m, s = binormal_lp(0.3, 0.78)
    rng = np.random.default_rng(5)
    n = 400_000
    event = rng.random(n) < 0.3
    lp = np.where(event, rng.normal(m + s * s, s, n), rng.normal(m, s, n))
    assert expit(lp).mean() == pytest.approx(0.3, abs=0.002)
    assert roc_auc(event[:40_000], lp[:40_000]).estimate == pytest.approx(0.78, abs=0.01)
    default = external_validation_sample_size(0.3, 0.78)
    assert default.lp_model == "binormal" and default.lp_mean == pytest.approx(m)
