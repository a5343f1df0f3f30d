"""The report's table builders (tace.report.tables): each notebook table cell is one call to
them, so what the tables hold is tested here on small data with known answers; the report
tests run them on the twin end to end."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from tace.report import tables
from tace.stats import delong_test, roc_auc

MODELS = ["clinical", "radiomics", "dcnn", "dlr"]


@pytest.fixture(scope="module")
def scored() -> pd.DataFrame:
    """Two cohorts of binormal scores for four models, a few outcomes missing."""
    rng = np.random.default_rng(7)
    frames = []
    for cohort, n in (("test", 80), ("external", 60)):
        y = rng.random(n) < 0.4
        frame = pd.DataFrame({"patient_id": [f"{cohort}-{i}" for i in range(n)], "cohort": cohort,
                              "nonresponse": y.astype(float)})
        for k, m in enumerate(MODELS):
            lp = -0.4 + (0.5 + 0.3 * k) * (y - 0.4) + rng.normal(0, 1, n)
            frame[m] = 1 / (1 + np.exp(-lp))
        frame.loc[:2, "nonresponse"] = np.nan
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_auc_table_is_roc_auc_per_cohort_and_model_on_assessed_patients_only(scored):
    table = tables.auc_table(scored, ["test", "external"], MODELS, n_boot=200, seed=3)
    assert len(table) == 8 and list(table["cohort"].unique()) == ["test", "external"]
    part = scored[(scored["cohort"] == "external") & scored["nonresponse"].notna()]
    expected = roc_auc(part["nonresponse"].astype(bool).to_numpy(), part["dcnn"])
    row = table[(table["cohort"] == "external") & (table["model"] == "dcnn")].iloc[0]
    assert row["n"] == 57 and row["auc"] == expected.estimate and row["delong_ci_low"] == expected.ci_low
    assert row["bootstrap_ci_low"] < row["auc"] < row["bootstrap_ci_high"]


def test_delong_table_compares_every_pair_of_models_in_each_cohort(scored):
    table = tables.delong_table(scored, ["test", "external"], MODELS)
    assert len(table) == 2 * 6
    part = scored[(scored["cohort"] == "test") & scored["nonresponse"].notna()]
    t = delong_test(part["nonresponse"].astype(bool).to_numpy(), part["clinical"], part["dlr"])
    row = table[(table["cohort"] == "test") & (table["model_a"] == "clinical") & (table["model_b"] == "dlr")].iloc[0]
    assert row["p"] == t.p_value and row["auc_difference"] == t.estimate


def test_threshold_table_keeps_its_columns_when_no_cohort_is_given(scored):
    empty = tables.threshold_table(scored, [], MODELS, dict.fromkeys(MODELS, 0.5))
    assert empty.empty and list(empty.columns)[:3] == ["cohort", "model", "threshold"]
    full = tables.threshold_table(scored, ["test"], MODELS, dict.fromkeys(MODELS, 0.5))
    assert set(full["metric"]) >= {"sensitivity", "specificity"} and (full["threshold"] == 0.5).all()


def test_calibration_table_says_why_a_model_could_not_be_computed(scored):
    data = scored.assign(clinical=0.3)  # constant predictions: no calibration slope exists
    table = tables.calibration_table(data, ["test"], MODELS)
    assert list(table.columns[:2]) == ["cohort", "model"]
    note = table.set_index("model").loc["clinical", "note"]
    assert note.startswith("not computed:")
    assert (table.set_index("model").loc[["radiomics", "dcnn", "dlr"], "note"] == "").all()


def test_calibration_bootstrap_table_is_seeded(scored):
    a = tables.calibration_bootstrap_table(scored, ["test"], ["dlr"], n_boot=50, seed=11)
    b = tables.calibration_bootstrap_table(scored, ["test"], ["dlr"], n_boot=50, seed=11)
    pd.testing.assert_frame_equal(a, b)
    ici = a.set_index("measure").loc["ici"]
    assert ici["ci_low"] <= ici["estimate"] <= ici["ci_high"] and set(a["model"]) == {"dlr"}


def test_subgroup_table_marks_a_level_with_one_outcome_class_and_says_when_there_are_no_subgroups(scored):
    part = scored[(scored["cohort"] == "test") & scored["nonresponse"].notna()].reset_index(drop=True)
    none = tables.subgroup_table(part, MODELS)
    assert none.table.empty and none.not_done[0][0] == "subgroup performance"
    site = np.where(np.arange(len(part)) < 40, "A", "B")
    part = part.assign(site=site, nonresponse=np.where(site == "B", 1.0, part["nonresponse"]))
    built = tables.subgroup_table(part, MODELS)
    b = built.table[built.table["level"] == "B"]
    assert b["auc"].isna().all() and (b["note"] == "not computable: one outcome class").all()
    assert built.table[built.table["level"] == "A"]["auc"].notna().all() and not built.not_done


def test_site_heterogeneity_table_needs_two_sites(scored):
    part = scored[scored["nonresponse"].notna()].reset_index(drop=True)
    y = part["nonresponse"].astype(bool).to_numpy()
    one = tables.site_heterogeneity_table(part.assign(site="A"), y, ["dlr"])
    assert one.table.empty and one.not_done == (("heterogeneity across sites", "the cohort has fewer than two sites"),)
    two = tables.site_heterogeneity_table(part.assign(site=part["cohort"]), y, ["dlr"])
    assert not two.not_done and (two.table["model"] == "dlr").all() and len(two.table)


def test_sample_size_table_leaves_out_criterion_4_without_a_threshold_inside_0_1(scored):
    y = np.r_[np.ones(30), np.zeros(70)].astype(bool)
    dev = {"nonresponse_rate": 0.3, "oof_performance": {"dlr": {"auc": 0.99}}}
    outside = tables.sample_size_table(y, dev, 1.0, 100)
    inside = tables.sample_size_table(y, dev, 0.4, 100)
    assert outside.threshold is None and inside.threshold == 0.4
    assert len(inside.table) == len(outside.table) + 1
    assert (inside.table["anticipated_c"] == 0.95).all()  # the development AUC is bounded to 0.55-0.95
    assert (tables.sample_size_table(y, dev, 0.4, 100, computable=False).table["prevalence"] == 0.3).all()


def test_survival_horizons_lie_between_the_first_death_and_the_longest_follow_up():
    follow = pd.DataFrame({"os_months": [5.0, 14.0, 30.0, 40.0], "os_event": [0, 1, 1, 0]})
    assert tables.survival_horizons(follow) == [24, 36]  # first death at 14 months
    assert tables.survival_horizons(follow.assign(os_months=[5.0, 14.0, 20.0, 23.0])) == []


def test_survival_calibration_table_says_why_when_the_score_has_too_few_values():
    rng = np.random.default_rng(2)
    follow = pd.DataFrame({"os_months": rng.exponential(20, 60) + 1, "os_event": rng.random(60) < 0.7,
                           "dlr": np.where(rng.random(60) < 0.5, 0.2, 0.8)})
    result = tables.survival_calibration_table(follow, seed=1)
    assert result.table.empty and "fewer than 3 distinct values" in result.note


def test_cox_table_names_the_covariates_and_ends_with_the_multivariable_model():
    rng = np.random.default_rng(4)
    n = 120
    follow = pd.DataFrame({"dlr_high": (rng.random(n) < 0.5).astype(float), "x_age": rng.normal(60, 8, n)})
    follow["os_months"] = rng.exponential(20 / np.exp(0.7 * follow["dlr_high"]), n) + 0.5
    follow["os_event"] = (rng.random(n) < 0.8).astype(int)
    for c in ("x_bclc", "x_tumor_number", "x_tumor_size_cm", "x_afp_ng_ml", "x_child_pugh"):
        follow[c] = 0.0  # constant: left out of every model
    table = tables.cox_table(follow, [])
    assert list(table["stage"]) == ["univariable", "univariable", "multivariable", "multivariable"]
    assert set(table["covariate"]) == {"DLR high risk", "age (years)"}
    ph = tables.ph_table(follow, [])
    assert ph.multivariable.n == n and "GLOBAL" in set(ph.table["covariate"])


def test_paper_comparison_says_when_the_run_has_no_survival_analysis():
    published = pd.DataFrame([
        {"quantity": "AUC", "cohort": "test", "model": "dlr", "published": 0.8, "ci_low": 0.7, "ci_high": 0.9},
        {"quantity": "multivariable Cox HR", "cohort": "followup", "model": np.nan, "published": 2.0,
         "ci_low": 1.5, "ci_high": 2.7},
        {"quantity": "selected radiomics features", "cohort": "train", "model": np.nan, "published": 9,
         "ci_low": np.nan, "ci_high": np.nan}])
    auc = pd.DataFrame([{"cohort": "test", "model": "dlr", "auc": 0.71, "delong_ci_low": 0.6,
                         "delong_ci_high": 0.82}])
    out = tables.paper_comparison(published, scores=pd.DataFrame({"cohort": ["test"]}),
                                  odds=pd.DataFrame(columns=["stage", "variable", "p"]), summary={"n_selected": 7},
                                  auc=auc, cox=pd.DataFrame(columns=["stage", "covariate", "hr", "ci_low", "ci_high"]))
    assert out.loc[0, "this_run"] == 0.71 and out.loc[0, "note"] == "DeLong 95% CI"
    assert np.isnan(out.loc[1, "this_run"]) and out.loc[1, "note"] == "no survival analysis in this run"
    assert out.loc[2, "this_run"] == 7.0


def test_xgboost_grid_puts_the_chosen_setting_first():
    cv = pd.DataFrame({"params": [json.dumps({"max_depth": d}) for d in (2, 3, 4)],
                       "mean_test_score": [0.7, 0.8, 0.75], "rank_test_score": [3, 1, 2]})
    grid = tables.xgboost_grid(cv)
    assert list(grid["max_depth"]) == [3, 4, 2] and list(grid["chosen"]) == [True, False, False]


def test_selection_counts_state_each_rule_from_the_profile():
    spec = SimpleNamespace(params="radiomics.yaml", icc_threshold=0.75, correlation_threshold=0.9, lasso_folds=10)
    summary = {"n_train": 112, "n_features_extracted": 100, "n_robust": 60, "n_uncorrelated": 20, "n_selected": 5}
    counts = tables.selection_counts({**summary, "n_icc_patients": 30}, spec)
    assert list(counts["features"]) == [100, 60, 20, 5] and counts.loc[3, "rule"].startswith("10-fold")
    assert counts.loc[1, "rule"] == ("ICC(3,1) >= 0.75 (eroded and dilated masks of 30 of the 112 training patients, "
                                     "drawn at random)")
    assert "every training patient" in tables.selection_counts(summary, spec).loc[1, "rule"]  # an older bundle


def test_outcomes_table_gives_median_follow_up_by_reverse_kaplan_meier():
    """The follow-up column is survival's reverse Kaplan-Meier median and quartiles
    (tests/reference/followup_reference.R on the committed survival data: 20, 28 and 60 months),
    not the median of all observed times (13 months there, deaths included)."""
    from pathlib import Path

    ref_dir = Path(__file__).parent / "reference" / "data"
    ref = json.loads((ref_dir / "followup_reference.json").read_text())["cases"]["survival_data"]
    n = len(ref["time"])
    data = pd.DataFrame({"cohort": "followup", "nonresponse": pd.NA, "os_months": ref["time"],
                         "os_event": ref["status"]})
    row = tables.outcomes_by_cohort(data, ["followup"]).iloc[0]
    assert (row["with_survival"], row["deaths"]) == (n, sum(ref["status"]))
    assert (row["follow_up_q1_months"], row["median_follow_up_months"], row["follow_up_q3_months"]) == (
        pytest.approx(ref["q1"]), pytest.approx(ref["median"]), pytest.approx(ref["q3"]))
    assert row["median_follow_up_months"] != pytest.approx(ref["median_observed"])


def test_paper_comparison_sets_apparent_beside_apparent_and_adds_the_cross_validated_auc():
    """The paper's training AUCs (no resampling: apparent) stand beside this run's apparent ones,
    said in the note; this run's cross-validated AUC follows as a row of its own, with no
    published value."""
    published = pd.DataFrame([
        {"quantity": "AUC", "cohort": "train", "model": "dcnn", "published": 0.96, "ci_low": np.nan,
         "ci_high": np.nan},
        {"quantity": "AUC", "cohort": "test", "model": "dcnn", "published": 0.92, "ci_low": np.nan,
         "ci_high": np.nan}])
    auc = pd.DataFrame([{"cohort": c, "model": "dcnn", "auc": a, "delong_ci_low": a - 0.1, "delong_ci_high": a + 0.05}
                        for c, a in (("train", 0.97), ("train-cv", 0.78), ("test", 0.81))])
    out = tables.paper_comparison(published, scores=pd.DataFrame({"cohort": ["test"]}),
                                  odds=pd.DataFrame(columns=["stage", "variable", "p"]), summary={"n_selected": 7},
                                  auc=auc, cox=pd.DataFrame(columns=["stage", "covariate", "hr", "ci_low", "ci_high"]))
    assert list(out["cohort"]) == ["train", "train-cv", "test"]
    assert list(out["estimate"]) == ["apparent", "cross-validated", "held-out test"]
    assert out.loc[0, "this_run"] == 0.97 and "apparent (in-sample) in both" in out.loc[0, "note"]
    assert out.loc[1, "this_run"] == 0.78 and np.isnan(out.loc[1, "published"])
    assert out.loc[2, "this_run"] == 0.81


def test_positive_calls_are_the_share_at_or_above_each_cut_off_with_wilson_intervals():
    from statsmodels.stats.proportion import proportion_confint

    data = pd.DataFrame({"cohort": ["train-cv"] * 5 + ["test"] * 4, "nonresponse": [1, 0, 1, 0, 1, 0, 1, 1, np.nan],
                         "dlr": [0.9, 0.2, 0.5, 0.49, 0.7, 0.5, 0.1, 0.3, 0.99]})
    out = tables.positive_calls_table(data, ["train-cv", "test"], ["dlr"], {"dlr": 0.5})
    assert list(out["called_positive"]) == [3, 1] and list(out["n"]) == [5, 3]  # the unassessed patient left out
    assert list(out["estimate"]) == ["cross-validated", "held-out test"]
    low, high = proportion_confint(3, 5, method="wilson")
    assert out.loc[0, ["share", "ci_low", "ci_high"]].tolist() == pytest.approx([0.6, low, high])
