"""The report's composite figures (tace.report.figures): each is what one notebook cell calls,
so these tests are the notebook cells' tests. Data: a small simulated run table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tace.plots.legibility import check_legibility
from tace.report.figures import (
    DECISION_THRESHOLDS,
    calibration_figure,
    correlation_steps_figure,
    decision_curve_figure,
    roc_figure,
    score_distribution_figure,
)
from tace.stats import roc_curve

MODELS = ["clinical", "radiomics", "dcnn", "dlr"]


@pytest.fixture
def data():
    rng = np.random.default_rng(11)
    n = 240
    lp = rng.normal(-0.3, 1.2, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(float)
    y[:5] = np.nan  # outcome unknown: left out of every figure
    frame = pd.DataFrame({"patient_id": [f"P{i}" for i in range(n)],
                          "cohort": np.repeat(["external", "train", "test"], n // 3), "nonresponse": y})
    for k, m in enumerate(MODELS):
        frame[m] = 1 / (1 + np.exp(-(0.4 * k + 0.3) * lp - rng.normal(0, 0.8, n)))
    frame["dcnn"] = 0.3  # a model that gives every patient the same score
    return frame


def test_calibration_figure_gives_each_model_a_panel_and_says_which_could_not_be_computed(data):
    fig, drawn = calibration_figure(data, "test", MODELS, source="SIMULATED")
    assert sorted(drawn["model"].unique()) == ["clinical", "dlr", "radiomics"]
    panel_text = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "not computed" in panel_text and check_legibility(fig).ok
    assert "test cohort (n = 80," in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="no followup patient"):
        calibration_figure(data, "followup", MODELS, source="SIMULATED")


def test_roc_and_decision_curve_figures_draw_the_statistics_of_the_cohorts_patients(data):
    fig, drawn = roc_figure(data, "external", ["clinical", "dlr"], source="SIMULATED")
    part = data[(data["cohort"] == "external") & data["nonresponse"].notna()]
    want = roc_curve(part["nonresponse"].astype(bool), part["dlr"])
    np.testing.assert_allclose(drawn[drawn["model"] == "dlr"][["fpr", "tpr"]].to_numpy(), want[["fpr", "tpr"]])
    assert "n = 75" in fig.axes[0].get_title()
    fig, drawn = decision_curve_figure(data, "test", MODELS, source="SIMULATED")
    assert list(drawn.groupby("model").size()) == [len(DECISION_THRESHOLDS)] * 4
    assert check_legibility(fig).ok


def test_score_distributions_show_train_test_external_in_that_order(data):
    fig, drawn = score_distribution_figure(data, MODELS, source="SIMULATED")
    assert list(dict.fromkeys(drawn["cohort"])) == ["external", "train", "test"]  # the data's order...
    axis = next(ax for ax in fig.axes if ax.get_title(loc="left") == "clinical")
    assert [t.get_text() for t in axis.get_xticklabels()] == ["train", "test", "external"]  # ...the figure's
    assert len(drawn) == len(data) - 5


def test_correlation_steps_figure_nests_the_steps():
    names = [f"original_firstorder_F{i}" for i in range(12)]
    rng = np.random.default_rng(2)
    corr = pd.DataFrame(rng.normal(size=(50, 12)), columns=names).corr()
    kept = pd.Series("robust", index=names)
    kept[names[:6]] = "not redundant"
    kept[names[:2]] = "selected"
    fig, drawn = correlation_steps_figure(pd.concat([kept.rename("kept_through"), corr], axis=1), source="SIMULATED")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["robust (ICC)\n(12 features)", "not redundant\n(6 features)", "selected (LASSO)\n(2 features)"]
    assert drawn["kept_through"].value_counts().to_dict() == {"robust": 6, "not redundant": 4, "selected": 2}


def test_truth_scatter_figure_draws_the_held_out_patients_truth_beside_their_scores(data):
    from tace.report.figures import truth_scatter_figure

    rng = np.random.default_rng(1)
    data = data.assign(p_nonresponse=rng.random(len(data)), imaging_logit=rng.normal(size=len(data)))
    fig, drawn = truth_scatter_figure(data, source="SIMULATED")
    assert set(drawn["cohort"]) == {"test", "external"} and len(drawn) == 160
    left = fig.axes[0]
    points = np.concatenate([c.get_offsets() for c in left.collections])
    np.testing.assert_allclose(np.sort(points[:, 0]), np.sort(drawn["p_nonresponse"]))
    assert check_legibility(fig).ok


def test_km_figure_splits_the_follow_up_cohort_by_dlr_group_and_tests_the_difference():
    from tace.report.figures import km_figure
    from tace.stats import logrank_test

    rng = np.random.default_rng(8)
    high = (rng.random(80) < 0.5).astype(float)
    time = rng.exponential(np.where(high == 1, 10, 30))
    follow = pd.DataFrame({"os_months": np.minimum(time, 40), "os_event": (time < 40).astype(int), "dlr_high": high})
    fig, km, p = km_figure(follow, source="SIMULATED")
    assert set(km["group"]) == {"DLR high risk", "DLR low risk"}
    labels = np.where(high == 1, "DLR high risk", "DLR low risk")
    assert p == pytest.approx(logrank_test(follow["os_months"], follow["os_event"], labels).p_value)
    assert f"log-rank p = {p:.2g}" in fig.axes[0].get_title()


def test_casemix_figure_keeps_the_synthetic_data_label_inside_the_figure():
    """On one title line with the twin's label, the title ran past the figure's right edge."""
    from tace.report import SYNTHETIC_LABEL
    from tace.report.figures import casemix_figure

    casemix = pd.DataFrame({"predictor": ["age", "sex", "bclc"], "smd": [0.05, -0.12, 0.3],
                            "encoding": ["years", "male = 1", "stage B = 1"]})
    fig = casemix_figure(casemix, source=SYNTHETIC_LABEL)
    assert check_legibility(fig).ok
