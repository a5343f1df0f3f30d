"""Multiple imputation of missing predictors and Rubin's rules.

References: tests/reference/imputation_reference.R (lm and glm on survival::pbc for the
conditional models; mice::pool on mice's own nhanes data and mice::pool.scalar for Rubin's
rules). The draws themselves are random: they are checked against the distribution they
must follow, within stated Monte-Carlo error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from tace.models.imputation import PredictorImputer
from tace.stats.pooling import pooled_performance, rubin_pool

REF = json.loads((Path(__file__).parent / "reference" / "data" / "imputation_reference.json").read_text())
PBC = pd.DataFrame(REF["pbc"])
PBC_KINDS = {"age": "continuous", "sex": "binary", "hepato": "binary", "ascites": "binary", "bili": "continuous",
             "albumin": "continuous", "platelet": "continuous"}


def test_each_conditional_model_equals_lm_or_glm_on_the_pbc_trial_patients():
    """R: ``lm(age ~ sex + hepato + ascites + bili + albumin + platelet, pbc)`` and
    ``glm(sex ~ ..., family = binomial)`` for each predictor on the 308 complete trial
    patients; glm's intercept for sex is 9.91644581139794."""
    imputer = PredictorImputer.fit(PBC, PBC_KINDS)
    assert REF["n_pbc"] == len(PBC) == 308
    for model in imputer.models:
        ref = REF["models"][model.target]
        assert not model.fallback
        np.testing.assert_allclose(model.coef, ref["coef"], rtol=1e-6, err_msg=model.target)
        np.testing.assert_allclose(model.v, ref["v"], rtol=1e-6, err_msg=model.target)
        if PBC_KINDS[model.target] == "continuous":
            assert model.sse == pytest.approx(ref["sse"], rel=1e-9)
            assert model.df == ref["df"]
    assert imputer.models[1].coef[0] == pytest.approx(9.91644581139794, rel=1e-6)


def test_rubin_pool_equals_mice_pool_on_nhanes():
    """R: ``pool(with(mice(nhanes, m = 5, seed = 1), lm(chl ~ age + bmi)))``, dfcom = 22;
    pooled bmi coefficient 5.93729663604141 on 5.44345902890888 Barnard-Rubin df."""
    ref = REF["nhanes"]
    est, var = np.array(ref["estimates"]), np.array(ref["variances"])
    for j in range(est.shape[1]):
        r = rubin_pool(est[:, j], var[:, j], dfcom=ref["dfcom"])
        got = [r.estimate, r.within, r.between, r.total_variance, r.df, r.riv, r.fmi, r.ci_low, r.ci_high]
        want = [ref[k][j] for k in ("qbar", "ubar", "b", "t", "df", "riv", "fmi", "ci_low", "ci_high")]
        np.testing.assert_allclose(got, want, rtol=1e-6)
    assert rubin_pool(est[:, 2], var[:, 2], dfcom=22).estimate == pytest.approx(5.93729663604141, rel=1e-9)


def test_rubin_pool_with_infinite_complete_data_df_equals_pool_scalar():
    """R: ``pool.scalar(c(.71, .74, .69, .73, .70), c(.0016, .0015, .0017, .0016, .0018))``:
    t = 0.002156, df = 69.8325821765517."""
    ref = REF["scalar"]
    r = rubin_pool(ref["q"], ref["u"])
    np.testing.assert_allclose([r.estimate, r.total_variance, r.df, r.riv, r.fmi],
                               [ref["qbar"], ref["t"], ref["df"], ref["r"], ref["fmi"]], rtol=1e-9)


def test_rubin_pool_refuses_one_imputation_and_non_finite_input():
    with pytest.raises(ValueError, match="at least 2 imputations"):
        rubin_pool([0.7], [0.01])
    with pytest.raises(ValueError, match="finite"):
        rubin_pool([0.7, np.nan], [0.01, 0.01])


def _normal_development(n=4000, seed=0):
    """a, b, c multivariate normal (correlations 0.6, 0.3, 0.4), d binary on a."""
    rng = np.random.default_rng(seed)
    cov = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.4], [0.3, 0.4, 1.0]])
    abc = rng.multivariate_normal([0, 0, 0], cov, size=n)
    d = (rng.random(n) < expit(-0.5 + abc[:, 0])).astype(float)
    return pd.DataFrame({"a": abc[:, 0], "b": abc[:, 1], "c": abc[:, 2], "d": d}), cov


def test_a_single_missing_value_is_drawn_from_its_posterior_predictive_distribution():
    """With a, given b, c, d: the imputations' mean is x'beta_hat and their variance
    E[sigma*^2] (1 + x'Vx) = SSE / (df - 2) (1 + x'Vx) (van Buuren 2018, algorithm 3.1).
    m = 4000: the mean's Monte-Carlo SE is about 0.009, so 4 SE is 0.036; the variance's
    relative MC SE about sqrt(2 / 4000) = 2.2%, so 10% is over 4 SE."""
    dev, _ = _normal_development()
    imputer = PredictorImputer.fit(dev, {"a": "continuous", "b": "continuous", "c": "continuous", "d": "binary"})
    row = pd.DataFrame({"a": [np.nan], "b": [1.0], "c": [-0.5], "d": [1.0]})
    draws = np.array([s["a"].iloc[0] for s in imputer.impute(row, m=4000, seed=3)])
    model = imputer.models[0]
    x = np.array([1.0, 1.0, -0.5, 1.0])
    mean = x @ np.array(model.coef)
    var = model.sse / (model.df - 2) * (1 + x @ np.array(model.v) @ x)
    se = np.sqrt(var / draws.size)
    assert abs(draws.mean() - mean) < 4 * se
    assert draws.var(ddof=1) == pytest.approx(var, rel=0.10)


def test_two_missing_values_of_one_patient_follow_their_joint_conditional_distribution():
    """Chained equations (10 rounds) must reach the joint law of (a, b) given c: for a
    trivariate normal with unit variances, mean (rho_ac, rho_bc) c and covariance
    S_ab - S_ab,c S_cc^-1 S_c,ab. m = 3000; tolerance 4 MC SE for the means, 0.05 absolute
    for the covariance entries (MC SE about 0.015)."""
    dev, cov = _normal_development(n=20000, seed=1)
    dev = dev.drop(columns=["d"])
    imputer = PredictorImputer.fit(dev, {"a": "continuous", "b": "continuous", "c": "continuous"})
    c = 1.5
    row = pd.DataFrame({"a": [np.nan], "b": [np.nan], "c": [c]})
    draws = np.array([s[["a", "b"]].iloc[0].to_numpy() for s in imputer.impute(row, m=3000, seed=5)])
    s_ab, s_c = cov[:2, :2], cov[:2, 2]
    want_mean = s_c * c
    want_cov = s_ab - np.outer(s_c, s_c)
    se = np.sqrt(np.diag(want_cov) / len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - want_mean) < 4 * se)
    np.testing.assert_allclose(np.cov(draws.T), want_cov, atol=0.05)


def test_observed_values_are_kept_and_imputations_respect_kind_and_range():
    dev, _ = _normal_development(n=500)
    dev["n"] = np.clip(np.round(np.exp(0.5 * dev["b"])), 1, None)
    imputer = PredictorImputer.fit(dev, {"a": "continuous", "b": "continuous", "c": "continuous", "d": "binary",
                                         "n": "count"}, {"n": "log"})
    new = dev.head(50).copy()
    rng = np.random.default_rng(2)
    holes = rng.random(new.shape) < 0.3
    new = new.mask(holes)
    sets = imputer.impute(new, m=5, seed=9)
    for s in sets:
        assert s.notna().all().all()
        pd.testing.assert_frame_equal(s.where(~holes), new.astype(float))  # observed cells untouched
        assert s["d"].isin([0.0, 1.0]).all()
        assert (s["n"] >= 1).all() and (s["n"] == np.round(s["n"])).all()
        assert s["a"].between(dev["a"].min(), dev["a"].max()).all()
    assert not sets[0].equals(sets[1])  # each imputation draws anew
    again = imputer.impute(new, m=5, seed=9)
    assert all(a.equals(b) for a, b in zip(sets, again, strict=True))  # a seed fixes every draw


def test_the_imputation_model_survives_json_and_refuses_incomplete_development_data():
    dev, _ = _normal_development(n=300)
    imputer = PredictorImputer.fit(dev, {"a": "continuous", "b": "continuous", "c": "continuous", "d": "binary"})
    back = PredictorImputer.from_json(imputer.to_json())
    assert back == imputer
    dev.loc[3, "b"] = np.nan
    with pytest.raises(ValueError, match="complete development data; missing values in b"):
        PredictorImputer.fit(dev, {"a": "continuous", "b": "continuous", "c": "continuous", "d": "binary"})


def test_a_binary_predictor_with_one_class_in_development_falls_back_to_its_proportion():
    dev, _ = _normal_development(n=300)
    dev["d"] = 0.0
    imputer = PredictorImputer.fit(dev, {"a": "continuous", "b": "continuous", "c": "continuous", "d": "binary"})
    assert imputer.models[3].fallback
    row = pd.DataFrame({"a": [0.0], "b": [0.0], "c": [0.0], "d": [np.nan]})
    drawn = np.array([s["d"].iloc[0] for s in imputer.impute(row, m=400, seed=1)])
    # Beta(0.5, 300.5) draws: P(d = 1) is about 0.0017, so 400 draws give at most a few ones
    assert drawn.sum() <= 5


def test_pooled_performance_of_identical_imputations_is_the_complete_data_analysis():
    """With m identical data sets the between-imputation variance is 0: the pooled AUC is the
    single AUC and its interval the logit-scale Wald interval on (practically) infinite df."""
    from tace.stats import roc_auc

    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, 300)
    y = rng.random(300) < p
    table = pooled_performance(y, [p, p, p]).set_index("measure")
    auc = roc_auc(y, p)
    c = auc.estimate
    assert table.loc["C-statistic", "estimate"] == pytest.approx(c, rel=1e-12)
    half = 1.959963984540054 * auc.se / (c * (1 - c))
    lo = 1 / (1 + np.exp(-(np.log(c / (1 - c)) - half)))
    assert table.loc["C-statistic", "ci_low"] == pytest.approx(lo, rel=1e-6)
    assert table.loc["Brier score", "estimate"] == pytest.approx(np.mean((p - y) ** 2), rel=1e-12)
    assert (table["fmi"] < 1e-3).all()
