"""The report's composite figures, each made by one call from a notebook cell.

A notebook cell that shows a figure should hold one call into the library (as
scikit-learn's ``RocCurveDisplay.from_predictions``), so that the code drawing the report's
figure is the code the tests run. Each builder here takes the merged scores-and-outcomes
table of a run, computes what the figure shows with :mod:`tace.stats`, draws it with
:mod:`tace.plots`, and returns the figure with the data it drew (saved beside it as CSV).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..plots.curves import plot_calibration_grid, plot_decision_curve, plot_km, plot_roc, plot_score_distributions
from ..plots.features import plot_correlation_steps
from ..plots.truth import plot_truth_scatter
from ..stats import calibration, kaplan_meier, logrank_test, net_benefit, roc_auc, roc_curve
from .selection import PROBABILITY_FLOOR, assessed, clipped, cohort_title

__all__ = ["DECISION_THRESHOLDS", "PROBABILITY_FLOOR", "calibration_figure", "casemix_figure",
           "correlation_steps_figure", "decision_curve_figure", "km_figure", "roc_figure",
           "score_distribution_figure", "survival_calibration_figure", "truth_scatter_figure"]


#: The threshold probabilities of the decision curves: 5% to 80% by 1%.
DECISION_THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 0.81, 0.01))


def _cohort_part(data: pd.DataFrame, cohort: str, outcome: str) -> tuple[pd.DataFrame, np.ndarray]:
    part, y = assessed(data, cohort, outcome)
    if part.empty:
        raise ValueError(f"no {cohort} patient has the outcome {outcome!r}")
    return part, y


def roc_figure(data: pd.DataFrame, cohort: str, models: list[str], *, source: str,
               outcome: str = "nonresponse") -> tuple[Figure, pd.DataFrame]:
    """ROC curves of ``models`` in one cohort, each labelled with its AUC and DeLong 95% CI
    (:func:`tace.plots.plot_roc`). Returns the figure and the drawn curves (``model``,
    ``threshold``, ``fpr``, ``tpr``)."""
    part, y = _cohort_part(data, cohort, outcome)
    curves = {m: roc_curve(y, part[m]) for m in models}
    aucs = {m: roc_auc(y, part[m]) for m in models}
    fig = Figure(figsize=(4.5, 4.5), layout="constrained")
    plot_roc(curves, ax=fig.add_subplot(), title=f"{cohort_title(cohort)} (n = {len(part)})\n{source}",
             labels={m: f"{m}: AUC {a.estimate:.2f} ({a.ci_low:.2f}-{a.ci_high:.2f})" for m, a in aucs.items()})
    return fig, pd.concat([c.assign(model=m) for m, c in curves.items()], ignore_index=True)


def decision_curve_figure(data: pd.DataFrame, cohort: str, models: list[str], *, source: str,
                          outcome: str = "nonresponse") -> tuple[Figure, pd.DataFrame]:
    """Decision curves of ``models`` in one cohort with treat-all and treat-none, at
    :data:`DECISION_THRESHOLDS` (:func:`tace.plots.plot_decision_curve`). Returns the figure
    and the net benefit of each model at each threshold."""
    part, y = _cohort_part(data, cohort, outcome)
    curves = {m: net_benefit(y, part[m].to_numpy(), np.asarray(DECISION_THRESHOLDS)) for m in models}
    fig = Figure(figsize=(5.5, 4), layout="constrained")
    plot_decision_curve(curves, ax=fig.add_subplot(), title=f"{cohort} cohort - {source}")
    return fig, pd.concat([c.assign(model=m) for m, c in curves.items()], ignore_index=True)


def calibration_figure(data: pd.DataFrame, cohort: str, models: list[str], *, source: str,
                       outcome: str = "nonresponse") -> tuple[Figure, pd.DataFrame]:
    """Calibration of ``models`` in one cohort of ``data`` (columns ``cohort``, ``outcome``
    and one score column per model): a 2 x 2 grid, one model a panel with its risk histogram
    (:func:`tace.plots.plot_calibration_grid`). Patients without the outcome are left out.
    Hosmer-Lemeshow on g df: no model was fitted on a test or external cohort.

    Returns the figure and the drawn curves (``model``, ``predicted``, ``observed``,
    ``ci_low``, ``ci_high``).
    """
    part, y = _cohort_part(data, cohort, outcome)
    results: dict = {}
    probs = {}
    for m in models:
        p = clipped(part[m])
        probs[m] = p
        try:
            results[m] = calibration(y, p, fitted_on_cohort=False)
        except ValueError as exc:  # e.g. a model that gives everyone the same score: said in its panel
            results[m] = str(exc)
    n_events = int(y.sum())
    fig = plot_calibration_grid(results, probs, y,
                                title=f"{cohort} cohort (n = {len(y)}, {n_events} non-responders) - {source}")
    drawn = [r.curve.assign(model=m) for m, r in results.items() if not isinstance(r, str)]
    table = pd.concat(drawn, ignore_index=True) if drawn else pd.DataFrame(columns=["model"])
    return fig, table[["model", *[c for c in table.columns if c != "model"]]]


def score_distribution_figure(data: pd.DataFrame, models: list[str], *, source: str, cohorts: list[str] | None = None,
                              outcome: str = "nonresponse") -> tuple[Figure, pd.DataFrame]:
    """Each model's predicted probabilities by cohort and outcome
    (:func:`tace.plots.plot_score_distributions`), patients with a known outcome only.

    ``cohorts`` default: train, test and external in that order, then any other cohort
    that has patients with the outcome. Returns the figure and the data it drew (``cohort``,
    ``event`` and one column per model).
    """
    known = data[data[outcome].notna()]
    present = list(dict.fromkeys(known["cohort"]))
    if cohorts is None:
        cohorts = [c for c in ("train", "test", "external") if c in present] + \
            [c for c in present if c not in ("train", "test", "external")]
    cohorts = [c for c in cohorts if c in present]
    if not cohorts:
        raise ValueError(f"no patient has the outcome {outcome!r}")
    frame = known[known["cohort"].isin(cohorts)][["cohort", outcome, *models]].rename(columns={outcome: "event"})
    frame = frame.assign(event=frame["event"].astype(bool)).reset_index(drop=True)
    fig = plot_score_distributions(frame, models, cohorts=cohorts,
                                   title=f"Predicted probability by outcome - {source}")
    return fig, frame


#: The selection steps of the radiomics model, in order, as ``radiomics_correlation.csv`` names them.
SELECTION_STEPS = {"robust": "robust (ICC)", "not redundant": "not redundant", "selected": "selected (LASSO)"}


def correlation_steps_figure(record: pd.DataFrame, *, source: str) -> tuple[Figure, pd.DataFrame]:
    """Clustered correlation heatmaps of the radiomics features at each selection step
    (:func:`tace.plots.plot_correlation_steps`) from the training record
    ``models/training/radiomics_correlation.csv``: the robust features' correlations, each
    row with ``kept_through`` (the last step it passed). Returns the figure and, as its data,
    each feature with the steps it passed."""
    corr = record.drop(columns=["kept_through"])
    order = list(SELECTION_STEPS)
    rank = record["kept_through"].map({s: i for i, s in enumerate(order)})
    steps = {label: list(record.index[rank >= i]) for i, label in enumerate(SELECTION_STEPS.values())}
    steps = {k: v for k, v in steps.items() if v}
    fig = plot_correlation_steps(corr, steps, title=f"Radiomics feature correlations, training set - {source}")
    data = pd.DataFrame({"feature": record.index, "kept_through": record["kept_through"].to_numpy()})
    return fig, data


def truth_scatter_figure(data: pd.DataFrame, *, source: str,
                         cohorts: tuple[str, ...] = ("test", "external")) -> tuple[Figure, pd.DataFrame]:
    """The digital twin's truth beside two estimates, for the held-out patients: the DLR's
    predicted probability against the true probability (with the identity line), and the
    DCNN's logit against the imaging terms of the true logit. ``data`` holds ``cohort``,
    ``p_nonresponse`` and ``imaging_logit`` (the twin's truth) and the ``dlr`` and ``dcnn``
    scores. Returns the figure and the points it drew."""
    held = data[data["cohort"].isin(cohorts)]
    if held.empty:
        raise ValueError(f"no patient of the cohorts {', '.join(cohorts)}")
    fig = Figure(figsize=(6.6, 3.7), layout="constrained")
    left, right = fig.subplots(1, 2)
    plot_truth_scatter(held["p_nonresponse"], held["dlr"], held["cohort"], ax=left, identity=True,
                       xlabel="true P(non-response)", ylabel="DLR predicted P(non-response)",
                       title="DLR against the truth")
    dcnn = held["dcnn"].clip(PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    plot_truth_scatter(held["imaging_logit"], np.log(dcnn / (1 - dcnn)), held["cohort"], ax=right,
                       xlabel="true imaging logit", ylabel="DCNN logit",
                       title="DCNN against the planted imaging signal")
    fig.suptitle(f"{' and '.join(c.capitalize() if k == 0 else c for k, c in enumerate(cohorts))} patients - "
                 f"{source}", fontsize=9)
    return fig, held[["cohort", "p_nonresponse", "dlr", "imaging_logit", "dcnn"]].reset_index(drop=True)


def km_figure(follow: pd.DataFrame, *, group: str = "dlr_high", source: str,
              times_at_risk: tuple[float, ...] = (0, 12, 24, 36, 48)) -> tuple[Figure, pd.DataFrame, float]:
    """Kaplan-Meier curves of overall survival (``os_months``, ``os_event``) by DLR risk group
    (``group`` 1: high) with the numbers at risk and the log-rank test in the title
    (:func:`tace.plots.plot_km`). Returns the figure, the Kaplan-Meier table and the log-rank p."""
    labels = np.where(follow[group] == 1, "DLR high risk", "DLR low risk")
    km = kaplan_meier(follow["os_months"], follow["os_event"], labels)
    p_value = logrank_test(follow["os_months"], follow["os_event"], labels).p_value
    fig = Figure(figsize=(5.5, 4.6), layout="constrained")
    plot_km(km, ax=fig.add_subplot(), times_at_risk=list(times_at_risk),
            title=f"Follow-up cohort - {source}; log-rank p = {p_value:.2g}")
    return fig, km, float(p_value)


def survival_calibration_figure(prognostic, *, source: str) -> tuple[Figure, pd.DataFrame]:
    """Calibration curves at each horizon of a prognostic model
    (:func:`tace.report.tables.survival_calibration_table`), each labelled with its ICI
    (:func:`tace.plots.plot_survival_calibration`). Returns the figure and the drawn curves
    (with a ``time`` column)."""
    from ..plots import plot_survival_calibration

    shown = prognostic.table[prognostic.table["note"] == ""]
    labels = [f"{r.time:g} months (ICI {r.ici:.3f})" for r in shown.itertuples()]
    fig = Figure(figsize=(4.8, 4.4), layout="constrained")
    plot_survival_calibration(dict(zip(labels, prognostic.curves, strict=True)), ax=fig.add_subplot(),
                              title=f"DLR prognostic model - {source}")
    return fig, pd.concat(prognostic.curves, ignore_index=True)


def casemix_figure(casemix: pd.DataFrame, *, source: str) -> Figure:
    """Standardised mean differences of the predictors, this cohort against development
    (:func:`tace.plots.plot_smd`), the data source on its own title line so that a long one
    is not cut off."""
    from ..plots import plot_smd

    fig = Figure(figsize=(5.5, 3.6), layout="constrained")
    plot_smd(casemix, ax=fig.add_subplot(), title=f"Case mix against development\n{source}")
    return fig
