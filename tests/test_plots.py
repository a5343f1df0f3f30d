"""Figure functions draw on the axes they are given and return them; their content comes
from the statistics' tables, not from computations of their own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from tace.plots import plot_calibration, plot_decision_curve, plot_km, plot_roc
from tace.report import Provenance
from tace.stats import calibration, kaplan_meier, net_benefit, roc_auc, roc_curve

REF = Path(__file__).parent / "reference" / "data"


@pytest.fixture
def binary():
    d = pd.read_csv(REF / "calibration_data.csv")
    return d[d["dataset"] == "well"]


def test_plot_roc_draws_each_curve_on_the_given_axes(binary):
    ax = Figure().add_subplot()
    y, p = binary["y"], binary["p"]
    curves = {"model": roc_curve(y, p), "half": roc_curve(y, p ** 2)}
    labels = {k: f"{k} AUC {roc_auc(y, p).estimate:.2f}" for k in curves}
    assert plot_roc(curves, ax=ax, labels=labels) is ax
    assert len(ax.lines) == 3  # diagonal + two curves
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(labels.values())
    np.testing.assert_array_equal(ax.lines[1].get_xdata(), curves["model"]["fpr"])


def test_plot_calibration_shows_the_curve_and_its_summary(binary):
    cal = calibration(binary["y"], binary["p"])
    ax = plot_calibration(cal, prob=binary["p"].to_numpy(), label="clinical")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[1] == f"clinical (CITL {cal.citl.estimate:.2f}, slope {cal.slope.estimate:.2f}, ICI {cal.ici:.3f})"
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), cal.curve["observed"])


def test_plot_decision_curve_includes_treat_all_and_none(binary):
    t = np.arange(0.05, 0.8, 0.05)
    ax = plot_decision_curve({"model": net_benefit(binary["y"], binary["p"], t, n_boot=50, seed=1)})
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["treat all", "treat none", "model"]


def test_plot_km_writes_the_numbers_at_risk_of_the_table():
    d = pd.read_csv(REF / "survival_data.csv")
    km = kaplan_meier(d["time"], d["status"], d["group"])
    ax = plot_km(km, times_at_risk=[0, 12, 24, 36])
    texts = [a.get_text() for a in ax.texts]
    high = km[km["group"] == "high"]
    expected_12 = int(high[high["time"] >= 12]["at_risk"].iloc[0])
    assert str(expected_12) in texts and "At risk" in texts
    assert str(int((d["group"] == "high").sum())) in texts  # everyone at risk at time 0


def test_provenance_writes_figure_data_and_sidecar_reproducibly(binary, tmp_path):
    source = tmp_path / "scores.csv"
    binary.to_csv(source, index=False)
    prov = Provenance(tmp_path / "run", "analysis/05_discrimination.ipynb", {"name": "smoke"}, 7, {"scores": source})
    curve = roc_curve(binary["y"], binary["p"])

    def draw():
        fig = Figure(figsize=(3, 3))
        plot_roc({"model": curve}, ax=fig.add_subplot())
        return prov.save_figure(fig, "fig-roc-test", cell="fig-roc-test", data=curve,
                                caption="ROC, test cohort", alt="ROC curve of the model")

    png = draw()
    folder = png.parent
    first = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert sorted(first) == ["fig-roc-test.csv", "fig-roc-test.json", "fig-roc-test.png", "fig-roc-test.svg"]
    draw()
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == first  # byte-identical re-run
    side = json.loads(first["fig-roc-test.json"])
    assert side["notebook"] == "analysis/05_discrimination.ipynb" and side["cell"] == "fig-roc-test"
    import hashlib
    assert side["inputs"]["scores"]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert side["seed"] == 7 and side["profile"] == {"name": "smoke"}
    pd.testing.assert_frame_equal(pd.read_csv(folder / "fig-roc-test.csv"), curve, check_exact=False, rtol=1e-5)


def test_provenance_refuses_ids_that_are_not_labels(tmp_path):
    prov = Provenance(tmp_path, "nb.ipynb", {}, 1)
    with pytest.raises(ValueError, match="must look like 'fig-name-part'"):
        prov.save_figure(Figure(), "ROC test", cell="x", data=pd.DataFrame(), caption="", alt="")
    with pytest.raises(ValueError, match="must look like 'tab-name-part'"):
        prov.save_table(pd.DataFrame(), "fig-auc", cell="x", caption="")


def test_the_legibility_check_finds_small_overlapping_and_cut_off_text():
    from tace.plots.legibility import check_legibility

    clean = Figure(figsize=(4, 3), layout="constrained")
    ax = clean.add_subplot()
    ax.plot([0, 1], [0, 1])
    ax.set(xlabel="x", ylabel="y", title="a title")
    assert check_legibility(clean).ok

    wide = Figure(figsize=(14, 3))  # twice the text width: 10 pt prints at 4.8 pt
    wide.add_subplot().set_title("shrunk", fontsize=10)
    found = check_legibility(wide)
    assert found.scale == pytest.approx(17 / 2.54 * 72 / (14 * 72))
    assert "'shrunk' 4.8 pt" in found.small and "'0.0' 4.8 pt" in found.small  # title and tick labels

    crowded = Figure(figsize=(4, 3))
    ax = crowded.add_subplot()
    ax.text(0.5, 0.5, "first label", fontsize=9)
    ax.text(0.52, 0.51, "second label", fontsize=9)
    ax.text(1.3, 0.5, "cut off at the right edge", fontsize=9)
    found = check_legibility(crowded)
    assert found.overlaps == ("'first label' and 'second label'",)
    assert found.outside == ("'cut off at the right edge'",) and not found.ok


def test_the_calibration_grid_gives_each_model_a_panel_and_histogram_and_one_legend(binary):
    from tace.plots import plot_calibration_grid
    from tace.plots.legibility import check_legibility

    y, p = binary["y"].to_numpy().astype(bool), binary["p"].to_numpy()
    probs = {"clinical": p, "radiomics": p ** 1.3, "dcnn": np.sqrt(p), "dlr": p}
    results = {m: calibration(y, q, fitted_on_cohort=False) for m, q in probs.items()}
    results["dlr"] = "every patient has the same score"
    fig = plot_calibration_grid(results, probs, y, title="test cohort")
    assert len(fig.axes) == 8  # a curve and a histogram per model
    curves, hists = fig.axes[0::2], fig.axes[1::2]
    assert [a.get_title(loc="left") for a in curves] == list(probs)
    # the histogram counts every patient of its model once (stacked by outcome)
    for h in hists:
        assert sum(patch.get_height() for patch in h.patches) == len(y)
    np.testing.assert_allclose(curves[0].lines[1].get_ydata(), results["clinical"].curve["observed"])
    assert "not computed" in " ".join(t.get_text() for t in curves[3].texts)
    assert len(fig.legends) == 1 and all(a.get_legend() is None for a in fig.axes)
    assert check_legibility(fig).ok, check_legibility(fig)


def test_score_distributions_draw_each_patient_once_per_model_by_cohort_and_outcome():
    from matplotlib.collections import PathCollection

    from tace.plots import plot_score_distributions
    from tace.plots.legibility import check_legibility

    rng = np.random.default_rng(3)
    n = 90
    event = rng.random(n) < 0.4
    frame = pd.DataFrame({"cohort": np.repeat(["train", "test", "external"], 30), "event": event,
                          "clinical": np.clip(0.3 + 0.3 * event + rng.normal(0, 0.1, n), 0, 1),
                          "dlr": np.clip(0.2 + 0.5 * event + rng.normal(0, 0.1, n), 0, 1)})
    fig = plot_score_distributions(frame, ["clinical", "dlr"], title="t")
    panels = [a for a in fig.axes if a.axison]
    assert [a.get_title(loc="left") for a in panels] == ["clinical", "dlr"]
    for ax, model in zip(panels, ["clinical", "dlr"], strict=True):
        # the strip points are PathCollections (the violins are PolyCollections)
        points = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections if isinstance(c, PathCollection)])
        np.testing.assert_allclose(np.sort(points), np.sort(frame[model].to_numpy()))
        assert [t.get_text() for t in ax.get_xticklabels()] == ["train", "test", "external"]
    assert len(fig.legends) == 1 and check_legibility(fig).ok


def test_correlation_heatmaps_cluster_correlated_features_and_give_each_step_a_panel():
    from tace.plots.features import cluster_order, plot_correlation_steps
    from tace.plots.legibility import check_legibility

    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(2, 200))
    # two blocks of correlated features, interleaved by name
    cols = {f"f{i}": (a if i % 2 == 0 else b) + rng.normal(0, 0.3, 200) for i in range(8)}
    corr = pd.DataFrame(cols).corr()
    order = cluster_order(corr)
    blocks = [int(name[1:]) % 2 for name in order]
    assert blocks in ([0] * 4 + [1] * 4, [1] * 4 + [0] * 4)  # each block contiguous
    steps = {"robust": list(corr.index), "selected": ["f0", "f1"]}
    fig = plot_correlation_steps(corr, steps, title="t")
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["robust\n(8 features)", "selected\n(2 features)"]
    drawn = panels[1].collections[0].get_array().reshape(2, 2)
    np.testing.assert_allclose(drawn, corr.loc[cluster_order(corr.loc[["f0", "f1"], ["f0", "f1"]]),
                                               cluster_order(corr.loc[["f0", "f1"], ["f0", "f1"]])])
    assert check_legibility(fig).ok


def test_development_figures_draw_the_training_records_they_are_given():
    from tace.plots import development as dev
    from tace.plots.legibility import check_legibility

    flow = pd.DataFrame({"cohort": ["train", "test", "external"], "patients": [80, 40, 30],
                         "analysis": "response", "analysed": [80, 39, 30], "left_out": [0, 1, 0],
                         "reason": ["", "no outcome", ""]})
    ax = dev.plot_flow(flow, title="flow")
    texts = [t.get_text() for t in ax.texts]
    assert "Development cohort\nn = 120" in texts
    assert "Test set\nn = 40\nresponse: 39\nleft out: 1 (no outcome)" in texts
    odds = pd.DataFrame({"stage": ["univariable", "univariable", "multivariable"],
                         "variable": ["age", "afp", "age"], "encoding": ["years", "log", "years"],
                         "or": [1.2, 2.0, 1.1], "ci_low": [1.0, 1.5, 0.9], "ci_high": [1.4, 2.7, 1.3]})
    ax = dev.plot_odds_ratios(odds)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["age (years)", "afp (log)"]
    # the default report's odds ratios (0.18 to 7.2, short of two decades): matplotlib labelled
    # the minor ticks of that log axis in 2x10^-1 form, and the labels overlapped
    wide = pd.DataFrame({"stage": ["univariable"] * 3 + ["multivariable"], "variable": ["sex", "bclc", "pugh", "bclc"],
                         "encoding": "1", "or": [0.522, 3.226, 2.350, 1.648], "ci_low": [0.181, 1.467, 0.768, 0.552],
                         "ci_high": [1.506, 7.092, 7.189, 4.921]})
    fig = Figure(figsize=(6, 0.45 * 3 + 1.4), layout="constrained")
    dev.plot_odds_ratios(wide, ax=fig.add_subplot())
    assert check_legibility(fig).ok, check_legibility(fig)
    path = pd.DataFrame({"log_lambda": np.linspace(-3, 2, 12), "cv_deviance": np.linspace(1.4, 1.0, 12),
                         "cv_deviance_se": 0.05, "minimum": [False] * 11 + [True], "chosen": [False] * 9 + [True] * 3,
                         "n_nonzero": range(12, 0, -1)})
    ax = dev.plot_lasso_cv(path)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["minimum", "1-SE (chosen)"]
    coef = pd.DataFrame({"feature": np.repeat(["a", "b"], 12), "log_lambda": np.tile(path["log_lambda"], 2),
                         "coef": np.r_[np.linspace(1, 0, 12), np.linspace(0.5, 0, 12)]})
    ax = dev.plot_lasso_path(coef, path, ["b"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["b"]
    history = pd.DataFrame({"epoch": [1, 2, 3], "loss": [0.9, 0.7, 0.6], "lr": [1e-3, 5e-4, 1e-4]})
    fig = Figure(figsize=(6, 3.4), layout="constrained")
    ax = dev.plot_training_curve(history, ax=fig.add_subplot())
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), history["loss"])
    assert check_legibility(fig).ok
    rng = np.random.default_rng(0)
    crops, maps = rng.random((4, 3, 16, 16)), rng.random((4, 16, 16))
    assert len(dev.plot_crops(crops, n_show=2).axes) == 6
    grid = dev.plot_gradcam_grid(crops, maps, np.array([0.2, 0.7, 0.5, 0.1]), title="g")
    assert [a.get_title() for a in grid.axes][1] == "patient 2: P(non-resp.) 0.70\nmap: evidence for non-response"
    assert check_legibility(grid).ok


def test_smd_survival_calibration_and_schoenfeld_grid_draw_their_tables():
    from tace.plots import plot_schoenfeld_grid, plot_smd, plot_survival_calibration
    from tace.plots.legibility import check_legibility
    from tace.stats.proportional_hazards import proportional_hazards_test

    casemix = pd.DataFrame({"predictor": ["age", "afp"], "encoding": ["years", "log"], "smd": [0.05, -0.3]})
    ax = plot_smd(casemix)
    np.testing.assert_array_equal(ax.collections[0].get_offsets()[:, 0], casemix["smd"])
    curves = {"12 months": pd.DataFrame({"predicted": [0.1, 0.3], "observed": [0.12, 0.28]}),
              "24 months": pd.DataFrame({"predicted": [0.2, 0.5], "observed": [0.25, 0.45]})}
    ax = plot_survival_calibration(curves)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["perfect calibration", *curves]
    rng = np.random.default_rng(4)
    x = rng.normal(size=(120, 4))
    t = rng.exponential(1 / np.exp(0.5 * x[:, 0]))
    df = pd.DataFrame(x, columns=list("abcd")).assign(time=t, event=1)
    ph = proportional_hazards_test(df, "time", "event", list("abcd"))
    fig = plot_schoenfeld_grid(ph, labels={"a": "age"}, title="PH")
    titles = [a.get_title() for a in fig.axes if a.axison]
    assert len(titles) == 4 and titles[0].startswith("age\nPH test p = ") and check_legibility(fig).ok


def test_published_aucs_and_truth_recovery_grid_draw_one_row_each():
    from tace.plots import plot_truth_recovery_grid
    from tace.plots.paper import plot_published_aucs

    table = pd.DataFrame({"model": ["clinical", "dlr"], "cohort": ["test", "test"], "published": [0.7, 0.9],
                          "this_run": [0.75, np.nan], "this_run_ci_low": [0.6, np.nan],
                          "this_run_ci_high": [0.85, np.nan]})
    fig = Figure(figsize=(6.6, 3), layout="constrained")
    ax = plot_published_aucs(table, ax=fig.add_subplot())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["clinical, test", "dlr, test"]
    assert len(fig.legends) == 1
    rows = [{"cohort": c, "n": n, "model": m, "auc": 0.7, "auc_ci_low": 0.6, "auc_ci_high": 0.8, "oracle_auc": 0.8,
             "imaging_oracle_auc": 0.7, "clinical_oracle_auc": 0.65} for c, n in (("test", 40), ("external", 30))
            for m in ("clinical", "dlr")]
    grid = plot_truth_recovery_grid(pd.DataFrame(rows), cohorts=["test", "external"], title="truth")
    assert [a.get_title() for a in grid.axes] == ["test (n = 40)", "external (n = 30)"]


def test_a_run_names_each_figure_that_is_not_legible_and_why(tmp_path):
    from tace.report.stages import illegible_figures

    prov = Provenance(tmp_path, "nb.ipynb", {}, 1)
    clean = Figure(figsize=(4, 3), layout="constrained")
    clean.add_subplot().set_title("reads")
    prov.save_figure(clean, "fig-clean", cell="fig-clean", data=pd.DataFrame({"x": [1]}), caption="c", alt="a")
    crowded = Figure(figsize=(4, 3))
    ax = crowded.add_subplot()
    ax.text(0.5, 0.5, "first label", fontsize=9)
    ax.text(0.52, 0.51, "second label", fontsize=9)
    ax.text(1.3, 0.5, "cut off at the right edge", fontsize=9)
    prov.save_figure(crowded, "fig-crowded", cell="fig-crowded", data=pd.DataFrame({"x": [1]}), caption="c", alt="a")
    assert illegible_figures(tmp_path) == [
        "fig-crowded is not legible at the article's width: 1 overlapping text pair(s); "
        "text cut off: 'cut off at the right edge'"]
