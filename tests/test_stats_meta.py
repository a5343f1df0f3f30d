"""Random-effects meta-analysis against metafor on its BCG vaccine data.

Reference: tests/reference/meta_reference.R (metafor's rma with tight convergence
tolerances: by default its REML stops at a tau^2 change of 1e-5 and its PM at 1e-4, which
alone moved PM's tau^2 by 8e-5 relative)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tace.stats.meta import random_effects

REF = json.loads((Path(__file__).parent / "reference" / "data" / "meta_reference.json").read_text())


@pytest.mark.parametrize("method", ["REML", "DL", "PM"])
def test_random_effects_equal_metafor_rma_on_the_bcg_trials(method):
    """R: ``rma(yi, vi, data = escalc("RR", ..., data = dat.bcg), method)``; the prediction
    interval b +- qt(0.975, k - 2) sqrt(tau2 + se^2). REML: estimate -0.71453234215814,
    tau^2 0.313243258136486."""
    ref = REF["fits"][method]
    r = random_effects(REF["yi"], REF["vi"], method=method)
    got = [r.estimate, r.se, r.ci_low, r.ci_high, r.tau2, r.i2, r.q, r.q_p, r.pi_low, r.pi_high]
    want = [ref[k] for k in ("estimate", "se", "ci_low", "ci_high", "tau2", "i2", "q", "q_p", "pi_low", "pi_high")]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert r.k == 13


def test_a_single_site_or_a_zero_variance_is_refused():
    with pytest.raises(ValueError, match="at least 2 sites"):
        random_effects([0.3], [0.01])
    with pytest.raises(ValueError, match="finite and positive"):
        random_effects([0.3, 0.4], [0.01, 0.0])
    with pytest.raises(ValueError, match="method must be one of"):
        random_effects([0.3, 0.4], [0.01, 0.02], method="HS")


def test_homogeneous_sites_give_tau2_zero_and_two_sites_no_prediction_interval():
    r = random_effects([0.5, 0.5, 0.5], [0.01, 0.02, 0.03])
    assert r.tau2 == 0 and r.i2 == 0
    two = random_effects([0.2, 0.6], [0.01, 0.02])
    assert np.isnan(two.pi_low) and np.isnan(two.pi_high)


def test_site_heterogeneity_pools_each_sites_measures_and_names_the_sites_it_left_out():
    """Three simulated sites whose models are miscalibrated differently, and one with a single
    event: each measure per site equals tace's single-cohort function (checked against R in
    their own tests), and the pooled row equals random_effects on those rows."""
    from scipy.special import expit

    from tace.stats import calibration, observed_expected, roc_auc
    from tace.stats.meta import site_heterogeneity

    rng = np.random.default_rng(8)
    ys, ps, sites = [], [], []
    for name, (n, shift) in {"A": (200, 0.0), "B": (150, 0.6), "C": (180, -0.5)}.items():
        lp = rng.normal(-0.3, 1.3, n)
        ys.append(rng.random(n) < expit(lp + shift))
        ps.append(expit(lp))
        sites += [name] * n
    ys.append(np.r_[True, np.zeros(19, bool)])
    ps.append(np.full(20, 0.3))
    sites += ["D"] * 20
    y, p, site = np.concatenate(ys), np.concatenate(ps), np.array(sites)
    table = site_heterogeneity(y, p, site)
    a = table[(table["level"] == "B") & (table["measure"] == "ln O/E")].iloc[0]
    assert a["estimate"] == pytest.approx(np.log(observed_expected(y[site == "B"], p[site == "B"]).estimate))
    c = table[(table["level"] == "A") & (table["measure"] == "logit C")].iloc[0]
    auc = roc_auc(y[site == "A"], p[site == "A"])
    assert c["estimate_natural"] == pytest.approx(auc.estimate)
    assert c["variance"] == pytest.approx(auc.se ** 2 / (auc.estimate * (1 - auc.estimate)) ** 2)
    s = table[(table["level"] == "C") & (table["measure"] == "calibration slope")].iloc[0]
    assert s["estimate"] == pytest.approx(calibration(y[site == "C"], p[site == "C"]).slope.estimate)
    assert table.loc[table["level"] == "D", "note"].str.startswith("left out").all()
    pooled = table[(table["level"] == "pooled (REML)") & (table["measure"] == "ln O/E")].iloc[0]
    sites_oe = table[(table["measure"] == "ln O/E") & table["level"].isin(["A", "B", "C"])]
    r = random_effects(sites_oe["estimate"], sites_oe["variance"])
    assert pooled["estimate"] == pytest.approx(r.estimate) and pooled["k"] == 3
    assert pooled["tau2"] > 0  # the planted differences in calibration-in-the-large


def test_the_knapp_hartung_interval_equals_rma_test_knha():
    """R: ``rma(yi, vi, data = dat.bcg-RR, method = "REML", test = "knha")``: SE
    0.180791744092848, CI -1.10844371368555 to -0.320620970630728 (t on 12 df)."""
    ref = REF["knha"]
    r = random_effects(REF["yi"], REF["vi"], method="REML", test="knha")
    np.testing.assert_allclose([r.estimate, r.se, r.ci_low, r.ci_high, r.tau2],
                               [ref["estimate"], ref["se"], ref["ci_low"], ref["ci_high"], ref["tau2"]], rtol=1e-6)
    assert r.method == "REML + Knapp-Hartung"
    with pytest.raises(ValueError, match="test must be one of"):
        random_effects(REF["yi"], REF["vi"], test="t")


def _posterior_predictive_cdf_by_double_integral(y, v, x, scale):
    """P(theta_new <= x | y) by integrating Phi((x - mu) / tau) over the joint posterior of
    (mu, tau) numerically, flat prior on mu and half-normal(scale) on tau: an independent
    route to the quantity bayes_prediction_interval gets by integrating mu out analytically."""
    from scipy import integrate
    from scipy import stats as sps

    def joint(mu, tau):
        return float(np.prod(sps.norm.pdf(y, mu, np.sqrt(v + tau ** 2)))) * sps.halfnorm.pdf(tau, scale=scale)

    lo_mu, hi_mu = float(y.min()) - 3, float(y.max()) + 3
    opts = {"epsabs": 1e-13, "epsrel": 1e-10}
    norm = integrate.dblquad(joint, 0, 8 * scale, lo_mu, hi_mu, **opts)[0]
    mass = integrate.dblquad(lambda mu, tau: joint(mu, tau) * sps.norm.cdf((x - mu) / max(tau, 1e-12)),
                             0, 8 * scale, lo_mu, hi_mu, **opts)[0]
    return mass / norm


def test_the_bayesian_prediction_interval_holds_2_5_percent_of_the_posterior_predictive_beyond_each_end():
    """The Bayesian prediction interval (Debray et al. 2017) on the first six BCG trials: the
    posterior predictive probability below its lower end and above its upper end, computed
    independently by double integration over (mu, tau), is 0.025 each (to 1e-4, the grid's
    quadrature error)."""
    from tace.stats.meta import bayes_prediction_interval

    y, v = np.asarray(REF["yi"][:6]), np.asarray(REF["vi"][:6])
    lo, hi = bayes_prediction_interval(y, v)
    assert _posterior_predictive_cdf_by_double_integral(y, v, lo, 0.5) == pytest.approx(0.025, abs=1e-4)
    assert _posterior_predictive_cdf_by_double_integral(y, v, hi, 0.5) == pytest.approx(0.975, abs=1e-4)
    r = random_effects(y, v, prediction="bayes")
    assert (r.pi_low, r.pi_high) == (lo, hi) and r.prediction == "bayes"


def test_the_bayesian_prediction_interval_shrinks_to_the_fixed_effect_interval_when_tau_is_held_at_0():
    """With a prior that holds tau at 0 the predictive distribution is N(mu_FE, 1 / sum w)."""
    from scipy import stats as sps

    from tace.stats.meta import bayes_prediction_interval

    y, v = np.asarray(REF["yi"]), np.asarray(REF["vi"])
    w = 1 / v
    mu, se = np.sum(w * y) / np.sum(w), np.sqrt(1 / np.sum(w))
    lo, hi = bayes_prediction_interval(y, v, tau_prior_scale=1e-9)
    z = sps.norm.ppf(0.975)
    np.testing.assert_allclose([lo, hi], [mu - z * se, mu + z * se], rtol=1e-6)
    with pytest.raises(ValueError, match="prediction must be one of"):
        random_effects(y, v, prediction="hksj")
