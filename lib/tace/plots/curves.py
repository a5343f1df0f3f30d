"""Validation figures: ROC curves, calibration curves, decision curves, Kaplan-Meier curves,
scaled Schoenfeld residuals.

Each function draws on ``ax`` (a new figure's axes when omitted) and returns it; none
computes statistics beyond reading the tables that :mod:`tace.stats` returns (the lowess
line through Schoenfeld residuals is a visual guide, as in ``plot.cox.zph``).
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from ..stats import CalibrationResult
    from ..stats.proportional_hazards import ProportionalHazardsTest

__all__ = ["plot_calibration", "plot_calibration_grid", "plot_decision_curve", "plot_km", "plot_roc",
           "plot_schoenfeld", "plot_schoenfeld_grid", "plot_score_distributions", "plot_smd",
           "plot_survival_calibration"]

#: Colours of the outcome classes in the risk histograms (non-response is the event).
_OUTCOME_COLOURS = {"non-response": "#c0392b", "response": "#7f8c8d"}


def _axes(ax: Axes | None, size=(4.5, 4.5)) -> Axes:
    return ax if ax is not None else Figure(figsize=size, layout="constrained").add_subplot()


def plot_roc(curves: dict[str, pd.DataFrame], *, ax: Axes | None = None, labels: dict[str, str] | None = None,
             title: str | None = None) -> Axes:
    """ROC curves: ``curves`` maps a model's name to a table with ``fpr`` and ``tpr``
    (:func:`tace.stats.roc_curve`); ``labels`` gives each legend entry (e.g. with its AUC)."""
    ax = _axes(ax)
    ax.plot([0, 1], [0, 1], color="0.7", lw=1, ls="--")
    for name, curve in curves.items():
        ax.step(curve["fpr"], curve["tpr"], where="post", lw=1.6, label=(labels or {}).get(name, name))
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="1 - specificity", ylabel="Sensitivity", aspect="equal")
    ax.legend(loc="lower right", fontsize=7, frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_calibration(result: CalibrationResult, *, ax: Axes | None = None, label: str = "model",
                     prob: np.ndarray | None = None, title: str | None = None) -> Axes:
    """Smoothed calibration curve with its band, the ideal diagonal, and a rug of the
    predicted probabilities when ``prob`` is given."""
    ax = _axes(ax)
    c = result.curve
    ax.plot([0, 1], [0, 1], color="0.7", lw=1, ls="--", label="ideal")
    ax.fill_between(c["predicted"], c["ci_low"], c["ci_high"], alpha=0.2, lw=0)
    ax.plot(c["predicted"], c["observed"], lw=1.6,
            label=f"{label} (CITL {result.citl.estimate:.2f}, slope {result.slope.estimate:.2f}, "
                  f"ICI {result.ici:.3f})")
    if prob is not None:
        ax.plot(prob, np.full(len(prob), -0.02), "|", color="0.3", ms=6, alpha=0.5)
    ax.set(xlim=(0, 1), ylim=(-0.04, 1), xlabel="Predicted probability", ylabel="Observed proportion",
           aspect="equal")
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_calibration_grid(results: dict[str, CalibrationResult | str], probs: dict[str, np.ndarray],
                          outcome: np.ndarray, *, fig: Figure | None = None, title: str | None = None,
                          event: str = "non-response", non_event: str = "response") -> Figure:
    """Calibration of several models, one panel each in two columns: the smoothed calibration
    curve with its 95% band against the ideal diagonal, CITL, slope and ICI written in the
    panel, and under it a histogram of the predicted risks stacked by outcome (seaborn); one
    legend for the figure.

    ``results`` maps a model to its :func:`tace.stats.calibration` result, or to the reason
    it could not be computed (the panel then says so); ``probs`` the model's predicted
    probabilities; ``outcome`` is True for the event. Made to be printed at 17 cm.
    """
    import seaborn as sns
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    models = list(results)
    rows = -(-len(models) // 2)
    fig = fig if fig is not None else Figure(figsize=(6.6, 3.3 * rows + 0.5), layout="constrained")
    grid = fig.add_gridspec(2 * rows, 2, height_ratios=[4, 1] * rows)
    y = np.asarray(outcome, dtype=bool)
    bins = np.linspace(0, 1, 21)
    palette = {event: _OUTCOME_COLOURS["non-response"], non_event: _OUTCOME_COLOURS["response"]}
    for k, model in enumerate(models):
        r, c = divmod(k, 2)
        ax = fig.add_subplot(grid[2 * r, c])
        hax = fig.add_subplot(grid[2 * r + 1, c], sharex=ax)
        res = results[model]
        ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--")
        if isinstance(res, str):
            reason = textwrap.fill(f"not computed: {res}", width=34)  # inside the panel, not across its neighbour
            ax.text(0.5, 0.55, reason, ha="center", va="center", fontsize=7.5, transform=ax.transAxes,
                    bbox={"facecolor": "white", "edgecolor": "0.8", "pad": 3})
        else:
            curve = res.curve
            ax.fill_between(curve["predicted"], curve["ci_low"], curve["ci_high"], alpha=0.2, lw=0, color="#1f5f8b")
            ax.plot(curve["predicted"], curve["observed"], lw=1.8, color="#1f5f8b")
            ax.text(0.97, 0.04, f"CITL {res.citl.estimate:.2f}\nslope {res.slope.estimate:.2f}\nICI {res.ici:.3f}",
                    ha="right", va="bottom", fontsize=7.5, transform=ax.transAxes, linespacing=1.3)
        ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="Observed proportion")
        ax.set_title(model, fontsize=9, loc="left")
        ax.tick_params(labelbottom=False, labelsize=7.5)
        ax.yaxis.label.set_size(8)
        frame = pd.DataFrame({"p": np.asarray(probs[model], dtype=float),
                              "outcome": np.where(y, event, non_event)})
        sns.histplot(data=frame, x="p", hue="outcome", hue_order=[non_event, event], palette=palette, bins=bins,
                     multiple="stack", ax=hax, legend=False, linewidth=0.3, edgecolor="white")
        hax.set_xlabel("Predicted probability", fontsize=8)
        hax.set_ylabel("n", fontsize=8)
        hax.tick_params(labelsize=7.5)
        hax.locator_params(axis="y", nbins=2)
    handles = [Line2D([], [], color="0.6", lw=1, ls="--", label="ideal"),
               Line2D([], [], color="#1f5f8b", lw=1.8, label="smoothed calibration (loess), 95% band"),
               Patch(color=palette[event], label=event), Patch(color=palette[non_event], label=non_event)]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=7.5, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9.5)
    return fig


def plot_decision_curve(curves: dict[str, pd.DataFrame], *, ax: Axes | None = None,
                        title: str | None = None) -> Axes:
    """Net benefit against threshold probability for each model (tables from
    :func:`tace.stats.net_benefit`), with treat-all and treat-none."""
    ax = _axes(ax, (5.5, 4))
    first = next(iter(curves.values()))
    ax.plot(first["threshold"], first["net_benefit_all"], color="0.5", lw=1, label="treat all")
    ax.plot(first["threshold"], first["net_benefit_none"], color="0.2", lw=1, label="treat none")
    for name, nb in curves.items():
        ax.plot(nb["threshold"], nb["net_benefit"], lw=1.6, label=name)
        if "net_benefit_ci_low" in nb:
            ax.fill_between(nb["threshold"], nb["net_benefit_ci_low"], nb["net_benefit_ci_high"], alpha=0.15, lw=0)
    top = max(float(np.nanmax(nb["net_benefit"])) for nb in curves.values())
    top = max(top, float(first["net_benefit_all"].max()))
    ax.set(ylim=(-0.05, top + 0.05), xlim=(float(first["threshold"].min()), float(first["threshold"].max())),
           xlabel="Threshold probability", ylabel="Net benefit")
    ax.legend(fontsize=7, frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_km(km: pd.DataFrame, *, ax: Axes | None = None, times_at_risk: list[float] | None = None,
            title: str | None = None, xlabel: str = "Months") -> Axes:
    """Kaplan-Meier curves (a table from :func:`tace.stats.kaplan_meier`, with or without
    ``group``), censoring marks, log-log bands, and the numbers at risk under the axis."""
    ax = _axes(ax, (5.5, 4.2))
    groups = [(None, km)] if "group" not in km else list(km.groupby("group", sort=False))
    n0 = {}
    for name, part in groups:
        t = np.r_[0.0, part["time"].to_numpy()]
        s = np.r_[1.0, part["survival"].to_numpy()]
        line, = ax.step(t, s, where="post", lw=1.6, label=None if name is None else str(name))
        lo = np.r_[1.0, part["ci_low"].to_numpy()]
        hi = np.r_[1.0, part["ci_high"].to_numpy()]
        ax.fill_between(t, lo, hi, step="post", alpha=0.15, color=line.get_color(), lw=0)
        cens = part[part["n_censored"] > 0]
        ax.plot(cens["time"], cens["survival"], "|", color=line.get_color(), ms=6)
        n0[name] = (part, line.get_color())
    ax.set(ylim=(0, 1.02), xlim=(0, None), xlabel=xlabel, ylabel="Overall survival")
    if times_at_risk:
        for row, (part, colour) in enumerate(n0.values()):
            at = []
            for tt in times_at_risk:
                later = part[part["time"] >= tt]
                at.append(int(later["at_risk"].iloc[0]) if len(later) else 0)
            for tt, n in zip(times_at_risk, at, strict=True):
                ax.annotate(str(n), (tt, 0), xytext=(0, -44 - 10 * row), textcoords="offset points",
                            ha="center", fontsize=7, color=colour, annotation_clip=False)
        ax.annotate("At risk", (0, 0), xytext=(-30, -44), textcoords="offset points", ha="right",
                    fontsize=7, annotation_clip=False)
    if len(groups) > 1:
        ax.legend(fontsize=7, frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_schoenfeld(ph: ProportionalHazardsTest, covariate: str, *, ax: Axes | None = None,
                    label: str | None = None, title: str | None = None, xlabel: str = "Months",
                    legend: bool = False) -> Axes:
    """Scaled Schoenfeld residuals of one covariate against time (as ``plot(cox.zph(fit))``):
    the points estimate beta(t), a lowess line (with 10 or more deaths) shows its trend, the
    dashed line is the Cox model's constant beta_hat; the title carries the test's p-value.
    A flat line means proportional hazards."""
    from statsmodels.nonparametric.smoothers_lowess import lowess

    ax = _axes(ax, (4.2, 3.4))
    res = ph.residuals
    t, r = res["time"].to_numpy(float), res[covariate].to_numpy(float)
    ax.plot(t, r, "o", ms=4, alpha=0.6, color="#33506e", mec="none", label="scaled residual")
    if len(t) >= 10:
        smooth = lowess(r, t, frac=2 / 3, it=0, return_sorted=True)
        ax.plot(smooth[:, 0], smooth[:, 1], lw=1.8, color="#c0392b", label="lowess")
    ax.axhline(ph.coef[covariate], ls="--", lw=1, color="0.3", label="Cox coefficient")
    p_value = ph.table.set_index("covariate").loc[covariate, "p"]
    ax.set(xlabel=xlabel, ylabel="beta(t)")
    ax.set_title(title or f"{label or covariate}\nPH test p = {p_value:.2g}", fontsize=8.5)
    if legend:
        ax.legend(fontsize=7, frameon=False)
    return ax


def plot_score_distributions(frame: pd.DataFrame, models: list[str], *, fig: Figure | None = None,
                             cohorts: list[str] | None = None, title: str | None = None,
                             event: str = "non-response", non_event: str = "response") -> Figure:
    """Each model's predicted probabilities by cohort and outcome, one panel a model (two
    columns): half-violins of the two outcomes side by side (seaborn, quartiles inside, cut
    at the data) with the patients as points over them; one legend for the figure.

    ``frame`` has a ``cohort`` column, a boolean ``event`` column (True: the event) and one
    column of probabilities per model. A model that separates the outcomes shows the red
    half higher than the grey one in every cohort.
    """
    import seaborn as sns
    from matplotlib.patches import Patch

    cohorts = cohorts or list(dict.fromkeys(frame["cohort"]))
    rows = -(-len(models) // 2)
    fig = fig if fig is not None else Figure(figsize=(6.6, 2.6 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, 2, squeeze=False, sharey=True).ravel()
    long = frame.assign(outcome=np.where(frame["event"].astype(bool), event, non_event))
    palette = {event: _OUTCOME_COLOURS["non-response"], non_event: _OUTCOME_COLOURS["response"]}
    order, hue_order = cohorts, [non_event, event]
    for ax, model in zip(axes, models, strict=False):
        sns.violinplot(data=long, x="cohort", y=model, hue="outcome", order=order, hue_order=hue_order,
                       palette=palette, split=True, inner="quart", cut=0, density_norm="width", linewidth=0.7,
                       ax=ax, legend=False, saturation=0.9)
        for violin in ax.collections:
            violin.set_alpha(0.45)
        sns.stripplot(data=long, x="cohort", y=model, hue="outcome", order=order, hue_order=hue_order,
                      palette=palette, dodge=True, size=2.5, jitter=0.12, alpha=0.85, ax=ax, legend=False)
        ax.set_title(model, fontsize=9, loc="left")
        ax.set(xlabel="", ylabel="Predicted probability", ylim=(0, 1))
        ax.tick_params(labelsize=7.5)
        ax.yaxis.label.set_size(8)
    for ax in axes[len(models):]:
        ax.set_axis_off()
    handles = [Patch(color=palette[event], label=event), Patch(color=palette[non_event], label=non_event)]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=7.5, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9.5)
    return fig


def plot_schoenfeld_grid(ph: ProportionalHazardsTest, *, labels: dict[str, str] | None = None,
                         fig: Figure | None = None, title: str | None = None, xlabel: str = "Months") -> Figure:
    """:func:`plot_schoenfeld` for every covariate of a Cox model, three panels a row (the
    article prints the figure 17 cm wide)."""
    names = list(ph.coef)
    ncol = min(3, len(names))
    nrow = -(-len(names) // ncol)
    fig = fig if fig is not None else Figure(figsize=(6.6, 2.3 * nrow + 0.4), layout="constrained")
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    for ax, name in zip(axes, names, strict=False):
        plot_schoenfeld(ph, name, ax=ax, label=(labels or {}).get(name, name), xlabel=xlabel)
    for ax in axes[len(names):]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def plot_survival_calibration(curves: dict[str, pd.DataFrame], *, ax: Axes | None = None,
                              title: str | None = None) -> Axes:
    """Observed against predicted risk of the event by each horizon (tables of
    :func:`tace.stats.survival_calibration`'s curve, ``predicted`` and ``observed``), one line a
    horizon labelled by ``curves``' keys, with the diagonal of perfect calibration."""
    ax = _axes(ax, (4.8, 4.4))
    top = max(float(np.max(np.r_[c["predicted"], c["observed"]])) for c in curves.values())
    top = min(1.0, top * 1.05 + 0.02)
    ax.plot([0, top], [0, top], ls=":", color="0.4", lw=1, label="perfect calibration")
    for label, curve in curves.items():
        ax.plot(curve["predicted"], curve["observed"], lw=1.8, label=label)
    ax.set(xlim=(0, top), ylim=(0, top), xlabel="Predicted risk of death by t (cross-validated)",
           ylabel="Observed risk of death by t")
    ax.legend(fontsize=7.5, frameon=False, loc="upper left")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_smd(casemix: pd.DataFrame, *, ax: Axes | None = None, title: str | None = None,
             threshold: float = 0.1) -> Axes:
    """Standardised mean difference of each predictor (``predictor``, ``encoding``, ``smd``)
    between a cohort and development, with dotted lines at +-``threshold``."""
    ax = _axes(ax, (5.5, 3.4))
    ax.scatter(casemix["smd"], range(len(casemix)), color="#c0392b", zorder=3)
    for x in (-threshold, threshold):
        ax.axvline(x, color="black", ls=":", lw=0.8)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_yticks(range(len(casemix)), [f"{p} ({e})" for p, e in zip(casemix["predictor"], casemix["encoding"],
                                                                       strict=True)], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("SMD (this cohort - development)")
    if title:
        ax.set_title(title, fontsize=10)
    return ax
