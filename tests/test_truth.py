"""The twin's truth: the signal presets do what their names promise, the truth-recovery
statistics are right, and no model ever reads the truth."""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from tace.cohort.synthetic import IMAGING_TRAITS, draw_patients, oracle_summary, twin_model
from tace.stats import share_of_oracle, trait_spearman, truth_recovery, truth_recovery_table
from tests.test_cli import tace

LIB = Path(__file__).resolve().parents[1] / "lib" / "tace"


def test_paper_preset_reaches_the_papers_targets_in_expectation():
    """Targets from the paper's abstract: DCNN AUC 0.92 (test) and 0.86 (external), clinical
    model 0.70-0.79, DLR hazard ratio 15.9 (see the twin's README). The DCNN sees only images,
    so the imaging terms alone must come near its 0.92 for a DCNN to be able to."""
    o = oracle_summary(twin_model("paper"), n=40_000, seed=3)
    assert o.internal.auc >= 0.92 and o.external.auc >= 0.86
    for centre in (o.internal, o.external):
        assert 0.70 <= centre.auc_clinical <= 0.79
        assert centre.auc_imaging >= 0.90
        assert 0.35 <= centre.nonresponse_rate <= 0.75
    assert 10 <= o.hazard_ratio <= 20


def test_null_preset_gives_imaging_no_effect_on_outcome_or_survival():
    df = draw_patients(20_000, 0, 20_000, seed=4, model=twin_model("null"))
    assert (df["imaging_logit"] == 0).all()
    internal = df[df["cohort"] == "internal"]
    y = internal["nonresponse"].astype(bool)
    # with no imaging effect, the outcome is independent of every trait given the clinical
    # terms: the traits add nothing to the clinical logit's AUC (logistic fit, large sample)
    import statsmodels.api as sm

    base = sm.Logit(y.astype(float), sm.add_constant(internal[["clinical_logit"]])).fit(disp=0)
    full = sm.Logit(y.astype(float), sm.add_constant(internal[["clinical_logit", *IMAGING_TRAITS]])).fit(disp=0)
    lr = 2 * (full.llf - base.llf)
    assert sps.chi2.sf(lr, df=len(IMAGING_TRAITS)) > 0.001
    follow = df[df["cohort"] == "followup"]
    # the survival linear predictor is a function of clinical variables only
    resid = follow["survival_lp"] - twin_model("null").survival.response_logit * follow["clinical_logit"]
    for trait in IMAGING_TRAITS:
        assert abs(sps.spearmanr(resid, follow[trait]).statistic) < 0.03, trait


def test_presets_draw_the_same_patients_and_traits_and_differ_only_in_outcomes():
    draws = {s: draw_patients(300, 100, 100, seed=9, model=twin_model(s)) for s in ("null", "weak", "paper")}
    same = ["cohort", "age", "sex", "bclc", "tumor_number", "tumor_size_cm", "afp_ng_ml", "child_pugh", *IMAGING_TRAITS]
    for s in ("null", "paper"):
        pd.testing.assert_frame_equal(draws[s][same], draws["weak"][same])
    assert not np.allclose(draws["paper"]["p_nonresponse"], draws["weak"]["p_nonresponse"])
    # p = expit(clinical + imaging logit), for every preset
    for d in draws.values():
        np.testing.assert_allclose(d["p_nonresponse"], expit(d["clinical_logit"] + d["imaging_logit"]))


def test_synth_signal_option_changes_outcomes_not_images(smoke_twin, tmp_path):
    out = tmp_path / "null-twin"
    done = tace("synth", "--profile", "smoke", "--signal", "null", "--out", str(out), "--jobs", "1")
    assert done.returncode == 0, done.stderr
    assert "signal null" in done.stdout
    described = json.loads((out / "twin.json").read_text(encoding="utf-8"))
    assert described["signal"] == "null"
    assert json.loads((smoke_twin / "twin.json").read_text(encoding="utf-8"))["signal"] == "paper"
    assert (pd.read_csv(out / "truth.csv")["imaging_logit"] == 0).all()
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "Signal preset: `null`" in readme and "hazard ratio: 15.9" in readme
    for image in sorted((smoke_twin / "images").glob("*.nii.gz"))[:5]:
        assert hashlib.sha256(image.read_bytes()).digest() == hashlib.sha256(
            (out / "images" / image.name).read_bytes()).digest()
    assert (out / "manifest.csv").read_bytes() != (smoke_twin / "manifest.csv").read_bytes()


def test_truth_recovery_matches_independent_computations():
    rng = np.random.default_rng(5)
    n = 300
    clin, img = rng.normal(size=n), rng.normal(scale=1.5, size=n)
    truth = expit(clin + img)
    y = (rng.random(n) < truth).astype(int)
    model = expit(0.8 * clin + 0.5 * img + rng.normal(scale=0.7, size=n))
    r = truth_recovery(y, model, truth, clin, img)
    assert r.auc == pytest.approx(roc_auc_score(y, model), abs=1e-12)
    assert r.oracle_auc == pytest.approx(roc_auc_score(y, truth), abs=1e-12)
    assert r.clinical_oracle_auc == pytest.approx(roc_auc_score(y, clin), abs=1e-12)
    assert r.imaging_oracle_auc == pytest.approx(roc_auc_score(y, img), abs=1e-12)
    assert r.share_of_oracle == pytest.approx((r.auc - 0.5) / (r.oracle_auc - 0.5))
    assert r.mean_abs_error_vs_truth == pytest.approx(np.abs(model - truth).mean())
    assert r.spearman_imaging == pytest.approx(sps.spearmanr(model, img).statistic)
    assert r.auc_ci_low < r.auc < r.auc_ci_high
    assert share_of_oracle(0.7, 0.5) != share_of_oracle(0.7, 0.5)  # NaN: no signal to share


def test_truth_recovery_table_covers_every_cohort_with_both_outcomes_and_trait_table_every_trait():
    df = draw_patients(200, 80, 40, seed=2)
    df["nonresponse"] = df["nonresponse"].astype("Float64")
    df["model_a"] = df["p_nonresponse"].clip(0.01, 0.99)
    df["model_b"] = expit(df["clinical_logit"])
    table = truth_recovery_table(df, ["model_a", "model_b"], ["internal", "external", "followup"])
    assert list(table[["cohort", "model"]].itertuples(index=False, name=None)) == [
        ("internal", "model_a"), ("internal", "model_b"), ("external", "model_a"), ("external", "model_b")]
    # a model that is the truth reaches the oracle, one with the clinical terms only does not
    a = table[table["model"] == "model_a"]
    assert (a["share_of_oracle"] > 0.99).all() and (a["mean_abs_error_vs_truth"] < 0.01).all()
    b = table[table["model"] == "model_b"]
    assert np.allclose(b["auc"], b["clinical_oracle_auc"])
    traits = trait_spearman(df, ["model_a"], ["internal"], list(IMAGING_TRAITS))
    assert set(traits["trait"]) == set(IMAGING_TRAITS) and traits["spearman"].notna().all()


def test_no_model_or_feature_code_reads_the_truth():
    """Static half of the proof (the dynamic half deletes truth.csv and retrains): no module that
    trains or applies a model names the truth file or its columns."""
    forbidden = {"truth.csv", "truth", "p_nonresponse", "imaging_logit", "clinical_logit", "survival_lp",
                 "twin.json"}
    for folder in ("models", "features", "cohort"):
        for path in sorted((LIB / folder).rglob("*.py")):
            if "synthetic" in path.parts:
                continue  # the generator writes the truth; it trains nothing
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    assert node.value not in forbidden, f"{path.relative_to(LIB)} names {node.value!r}"


@pytest.mark.parametrize("model", ["too_extreme", "too_moderate"])
def test_calibration_against_the_truth_equals_rs_fractional_logit(model):
    """Intercept and slope of the true probability on the prediction's logit against R's
    ``glm(p_true ~ qlogis(pred), family = quasibinomial)`` (tests/reference/
    truth_calibration_reference.R); predictions too extreme give a slope below 1, too moderate
    above 1."""
    from tace.stats import truth_calibration

    ref_dir = Path(__file__).parent / "reference" / "data"
    data = pd.read_csv(ref_dir / "truth_calibration_data.csv")
    want = json.loads((ref_dir / "truth_calibration_reference.json").read_text())["models"][model]
    got = truth_calibration(data[model], data["p_true"])
    assert got.intercept == pytest.approx(want["intercept"], abs=1e-7)
    assert got.slope == pytest.approx(want["slope"], abs=1e-7)
    assert got.n == len(data)


def test_the_outcome_based_slope_is_unbiased_for_the_slope_against_the_truth():
    """What the truth section puts side by side: on 200 cohorts of 2,000 patients whose outcomes
    are drawn from the truth, the mean outcome-based calibration slope lies within 0.02 of the
    slope against the truth (which it estimates), for predictions too extreme and too moderate."""
    from tace.stats import truth_calibration
    from tace.stats.calibration import calibration_intercept_slope

    rng = np.random.default_rng(11)
    for a, b in ((0.3, 1.6), (-0.4, 0.5)):
        lp = rng.normal(-0.2, 1.3, 2000)
        pred = expit(a + b * lp + rng.normal(0, 0.4, lp.size))
        target = truth_calibration(pred, expit(lp)).slope
        slopes = [calibration_intercept_slope(rng.random(lp.size) < expit(lp), pred)[1].estimate for _ in range(200)]
        assert abs(np.mean(slopes) - target) < 0.02, (b, np.mean(slopes), target)
