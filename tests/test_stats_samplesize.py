"""Sample size for external validation (Riley et al. 2021, criteria 1-3).

No R or published table is at hand for these numbers (pmvalsampsize is not in Debian), so
each criterion is checked by what it promises: cohorts of the computed size, simulated under
the criterion's own assumptions, estimate the quantity with the standard error asked for.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from tace.stats import roc_auc
from tace.stats.samplesize import external_validation_sample_size, lp_distribution

REPLICATES = 400


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
    # and its CI at O/E = 1 then has the asked width
    assert np.exp(1.96 * row["se"]) - np.exp(-1.96 * row["se"]) == pytest.approx(0.2, rel=1e-3)


def test_calibration_slope_criterion_gives_the_asked_precision_of_the_slope():
    mu, sd = -0.3, 1.4
    r = external_validation_sample_size(0.45, 0.75, lp_mean=mu, lp_sd=sd)
    row = r.criteria.set_index("criterion").loc["calibration slope"]
    slopes = _slope_fits(np.random.default_rng(3), int(row["n"]), mu, sd)
    assert slopes.mean() == pytest.approx(1.0, abs=0.02)
    assert slopes.std(ddof=1) == pytest.approx(row["se"], rel=0.1)


def test_c_statistic_criterion_gives_about_the_asked_precision_of_the_auc():
    r = external_validation_sample_size(0.45, 0.75)
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
    ({"prevalence": 0.3, "c_statistic": 0.7, "lp_mean": 0.0}, "give both lp_mean and lp_sd"),
])
def test_impossible_inputs_are_refused_with_the_reason(kwargs, message):
    with pytest.raises(ValueError, match=message):
        external_validation_sample_size(**kwargs)
