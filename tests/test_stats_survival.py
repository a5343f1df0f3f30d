"""Kaplan-Meier, log-rank, Cox and concordance agree with R's survival package.

Reference values: tests/reference/survival_reference.R (survival 3.5.3, R 4.2.2) on the
inputs in tests/reference/data/survival_data.csv: 117 patients, whole-month times with many
ties, so that Efron's method and the tied-time rules are exercised.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tace.stats import (
    concordance,
    cox_regression,
    kaplan_meier,
    logrank_test,
    roc_auc,
    time_dependent_auc,
)

REF = Path(__file__).parent / "reference" / "data"
DATA = pd.read_csv(REF / "survival_data.csv")
VALUES = json.loads((REF / "survival_reference.json").read_text())


def test_kaplan_meier_matches_survfit_with_log_log_intervals():
    """R: summary(survfit(Surv(time, status) ~ 1, conf.type = "log-log"), censored = TRUE)."""
    km = kaplan_meier(DATA["time"], DATA["status"])
    ref = pd.DataFrame(VALUES["km"])
    np.testing.assert_array_equal(km["time"], ref["time"])
    np.testing.assert_array_equal(km["at_risk"], ref["n_risk"])
    np.testing.assert_array_equal(km["n_event"], ref["n_event"])
    np.testing.assert_allclose(km[["survival", "ci_low", "ci_high"]], ref[["surv", "lower", "upper"]], rtol=1e-6)


def test_kaplan_meier_by_group_matches_survfit_strata():
    """R: summary(survfit(Surv(time, status) ~ group, conf.type = "log-log"), censored = TRUE)."""
    km = kaplan_meier(DATA["time"], DATA["status"], DATA["group"])
    ref = pd.DataFrame(VALUES["km_by_group"])
    for level in ("high", "low"):
        a, b = km[km["group"] == level], ref[ref["group"] == level]
        np.testing.assert_array_equal(a["time"], b["time"])
        np.testing.assert_array_equal(a["at_risk"], b["n_risk"])
        np.testing.assert_allclose(a[["survival", "ci_low", "ci_high"]], b[["surv", "lower", "upper"]], rtol=1e-6)


def test_kaplan_meier_interval_is_empty_where_survival_reaches_zero():
    km = kaplan_meier([1, 2, 3], [1, 1, 1])
    assert km["survival"].iloc[-1] == 0
    assert km[["ci_low", "ci_high"]].iloc[-1].isna().all()


def test_kaplan_meier_interval_is_empty_where_survival_is_still_one():
    """Censoring before the first death: S = 1, where the log-log interval is undefined.
    ``summary(survfit(Surv(c(1, 2, 3, 4), c(0, 1, 0, 1)) ~ 1, conf.type = "log-log"),
    censored = TRUE)`` gives NA lower and upper at time 1 (issue 12); lifelines gives [1, 1]."""
    km = kaplan_meier([1, 2, 3, 4], [0, 1, 0, 1])
    assert km["survival"].iloc[0] == 1
    assert km[["ci_low", "ci_high"]].iloc[0].isna().all()
    assert km[["ci_low", "ci_high"]].iloc[1].notna().all()  # S = 2/3 after the first death


def test_logrank_matches_survdiff():
    """R: survdiff(Surv(time, status) ~ group)."""
    r = logrank_test(DATA["time"], DATA["status"], DATA["group"])
    ref = VALUES["logrank"]
    np.testing.assert_allclose([r.statistic, r.df, r.p_value], [ref["chisq"], ref["df"], ref["p_value"]], rtol=1e-6)
    assert r.statistic_name == "chisq"


def test_cox_regression_matches_coxph_with_efron_ties():
    """R: summary(coxph(Surv(time, status) ~ score + age + cp_b, ties = "efron"))."""
    table = cox_regression(DATA, "time", "status", ["score", "age", "cp_b"])
    ref = pd.DataFrame(VALUES["cox"])
    assert table["covariate"].tolist() == ref["covariate"].tolist()
    np.testing.assert_allclose(table[["coef", "se", "hr", "ci_low", "ci_high", "z", "p"]],
                               ref[["coef", "se", "hr", "lower", "upper", "z", "p"]], rtol=1e-6)


def test_concordance_and_its_variance_match_survival_concordance():
    """R: concordance(Surv(time, status) ~ score, reverse = TRUE): C and var (infinitesimal jackknife)."""
    est = concordance(DATA["time"], DATA["status"], DATA["score"])
    ref = VALUES["concordance"]
    np.testing.assert_allclose([est.estimate, est.se ** 2], [ref["c"], ref["var"]], rtol=1e-6)
    assert est.ci_low < est.estimate < est.ci_high


def test_concordance_agrees_with_lifelines_on_the_point_estimate():
    from lifelines.utils import concordance_index

    rng = np.random.default_rng(2)
    t = np.round(rng.exponential(20, 300))
    e = rng.random(300) < 0.7
    risk = np.round(rng.normal(size=300), 1)  # ties in risk too
    assert concordance(t, e, risk).estimate == pytest.approx(concordance_index(t, -risk, e), rel=1e-12)


def test_time_dependent_auc_without_censoring_is_the_auc_of_deaths_by_t_against_survivors():
    """With no censoring every weight is equal: the cumulative/dynamic AUC at t is the plain
    AUC of those dead by t (cases) against those alive after t (controls)."""
    rng = np.random.default_rng(3)
    risk = rng.normal(size=400)
    t = rng.exponential(24 * np.exp(-0.8 * risk))
    e = np.ones(400, dtype=bool)
    horizons = [12.0, 24.0]
    table = time_dependent_auc(t, e, risk, horizons)
    for h, auc in zip(horizons, table["auc"], strict=True):
        assert auc == pytest.approx(roc_auc(t <= h, risk).estimate, rel=1e-9)
    assert table["n_cases"].tolist() == [int(np.sum(t <= h)) for h in horizons]


def test_time_dependent_auc_refuses_horizons_beyond_follow_up():
    with pytest.raises(ValueError, match=r"horizons \[100.0\] lie outside the follow-up"):
        time_dependent_auc(DATA["time"], DATA["status"], DATA["score"], [12, 100])


@pytest.mark.parametrize(("time", "event", "message"), [
    ([1, 2, 3], [0, 0, 0], "no events"),
    ([1, -2, 3], [1, 0, 1], "negative values"),
    ([1, np.nan, 3], [1, 0, 1], "NaN or infinite"),
    ([1, 2, 3], [1, 2, 1], "must be binary"),
    ([1, 2], [1, 0, 1], "expected equal lengths"),
])
def test_survival_functions_refuse_degenerate_input(time, event, message):
    with pytest.raises(ValueError, match=message):
        kaplan_meier(time, event)


def test_logrank_refuses_a_single_group_and_cox_a_bad_covariate():
    with pytest.raises(ValueError, match="single level"):
        logrank_test([1, 2, 3], [1, 0, 1], ["a", "a", "a"])
    df = DATA.assign(site="A")
    with pytest.raises(ValueError, match="covariate 'site' is not numeric"):
        cox_regression(df, "time", "status", ["score", "site"])
    with pytest.raises(ValueError, match="columns not in the data: dlr"):
        cox_regression(df, "time", "status", ["dlr"])
    with pytest.raises(ValueError, match="covariate 'one' is constant"):
        cox_regression(DATA.assign(one=1.0), "time", "status", ["one"])


TD = pd.read_csv(REF / "td_auc_data.csv")
TD_REF = json.loads((REF / "td_auc_reference.json").read_text())


@pytest.mark.parametrize("name", ["pbc", "veteran", "colon"])
def test_time_dependent_auc_equals_riskregression_score(name):
    """R: ``Score(list(m = risk), Hist(time, status) ~ 1, data, times, metrics = "auc",
    cens.model = "km")$AUC$score`` on R's pbc, veteran (ties in time and marker) and colon.
    pbc at 1500 days: AUC 0.883402541086742 in R. scikit-survival's weights, 1/G(T) for
    cases, were off by up to 7e-5 here. The bootstrap SE (500 resamples, G refitted) estimates
    the same SE as Score's influence function: within 20% (its Monte-Carlo error is ~3%)."""
    d = TD[TD["dataset"] == name]
    ref = TD_REF["datasets"][name]
    table = time_dependent_auc(d["time"], d["status"], d["risk"], ref["times"], n_boot=500, seed=1)
    np.testing.assert_allclose(table["auc"], ref["auc"], rtol=1e-9)
    np.testing.assert_allclose(table["se"], ref["se"], rtol=0.2)
    assert (table["ci_low"] < table["auc"]).all() and (table["auc"] < table["ci_high"]).all()
    if name == "pbc":
        assert table["auc"].iloc[1] == pytest.approx(0.883402541086742, rel=1e-9)


@pytest.mark.parametrize("name", ["pbc", "colon"])
def test_survival_brier_and_ipa_equal_riskregression_score(name):
    """R: ``Score(list(cox = F), Hist(time, status) ~ 1, data, times, metrics = "brier",
    cens.model = "km", null.model = TRUE, summary = "ipa")``, F a Cox model's risk by each
    horizon (td_brier_<name>.csv). pbc at 1500 days: Brier 0.114961286824891, IPA
    0.396350842028878 in R."""
    from tace.stats.survival import survival_brier

    d = pd.read_csv(REF / f"td_brier_{name}.csv")
    ref = TD_REF["datasets"][name]
    risk = d[[f"risk_{h:g}" for h in ref["times"]]].to_numpy()
    table = survival_brier(d["time"], d["status"], risk, ref["times"])
    np.testing.assert_allclose(table["brier"], ref["brier"]["model"], rtol=1e-9)
    np.testing.assert_allclose(table["null_brier"], ref["brier"]["null"], rtol=1e-9)
    np.testing.assert_allclose(table["ipa"], ref["brier"]["ipa"], rtol=1e-8)
    if name == "pbc":
        assert table["ipa"].iloc[1] == pytest.approx(0.396350842028878, rel=1e-9)


UNO_REF = json.loads((REF / "uno_c_reference.json").read_text())


@pytest.mark.parametrize("name", ["pbc", "veteran", "colon"])
def test_uno_c_equals_survival_concordance_with_n_over_g2_weights(name):
    """R: ``concordance(Surv(time, status) ~ risk, timewt = "n/G2", ymax = tau, reverse =
    TRUE)`` on R's pbc, veteran and colon at three taus each (pbc, tau 1500:
    0.828847431741559). The bootstrap SE (300 resamples) and survival's infinitesimal-jackknife
    SE estimate the same quantity: within 25%."""
    from tace.stats.survival import uno_concordance

    d = TD[TD["dataset"] == name]
    for ref in UNO_REF[name]:
        est = uno_concordance(d["time"], d["status"], d["risk"], ref["tau"], n_boot=300, seed=2)
        assert est.estimate == pytest.approx(ref["c"], rel=1e-9), ref["tau"]
        assert est.se == pytest.approx(ref["se"], rel=0.25), ref["tau"]
        assert est.ci_low < est.estimate < est.ci_high


def test_time_dependent_auc_interval_is_on_the_logit_scale_by_default_and_percentile_on_request():
    """The default interval is expit(logit AUC +- z SD(logit AUC*)) from the same resamples as
    the percentile one (pbc, 500 resamples): so the logit interval's ends, mapped back to the
    logit scale, sit symmetrically about logit AUC, which the percentile ends need not."""
    d = TD[TD["dataset"] == "pbc"]
    ref = TD_REF["datasets"]["pbc"]
    logit = time_dependent_auc(d["time"], d["status"], d["risk"], ref["times"], n_boot=500, seed=1)
    perc = time_dependent_auc(d["time"], d["status"], d["risk"], ref["times"], n_boot=500, seed=1,
                              interval="percentile")
    lg = np.log(logit[["ci_low", "auc", "ci_high"]] / (1 - logit[["ci_low", "auc", "ci_high"]])).to_numpy()
    np.testing.assert_allclose(lg[:, 1] - lg[:, 0], lg[:, 2] - lg[:, 1], rtol=1e-9)
    np.testing.assert_allclose(logit["se"], perc["se"], rtol=1e-12)
    assert not np.allclose(logit["ci_low"], perc["ci_low"])
    with pytest.raises(ValueError, match="interval must be one of"):
        time_dependent_auc(d["time"], d["status"], d["risk"], ref["times"], n_boot=20, interval="bca")


@pytest.mark.parametrize("case", ["survival_data", "flat_at_quartile", "ties", "late_deaths"])
def test_reverse_km_follow_up_equals_survivals_quantiles(case):
    """Median follow-up and quartiles by reverse Kaplan-Meier against
    ``quantile(survfit(Surv(time, 1 - status) ~ 1))`` (tests/reference/followup_reference.R),
    flat stretches exactly at a quartile and quartiles the curve never reaches included."""
    from tace.stats import follow_up

    ref = json.loads((REF / "followup_reference.json").read_text())["cases"][case]
    got = follow_up(ref["time"], ref["status"])
    for name in ("q1", "median", "q3"):
        want = ref[name]
        if want is None:
            assert np.isnan(getattr(got, name)), name
        else:
            assert getattr(got, name) == pytest.approx(want, abs=1e-12), name

