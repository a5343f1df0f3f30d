"""Figures of the cohort and of model development: participant flow, odds ratios, the LASSO
choice, the DCNN's training, its inputs and its Grad-CAM maps.

Each draws the tables tace writes (the cohort check's flow, ``models/training/*.csv``) on
``ax=`` (or, for grids, ``fig=``) and returns it; the notebooks call them once a figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .curves import _axes
from .gradcam import plot_gradcam

__all__ = ["COHORT_NAMES", "plot_crops", "plot_flow", "plot_gradcam_grid", "plot_lasso_cv", "plot_lasso_path",
           "plot_odds_ratios", "plot_training_curve"]

#: How the flow diagram names each cohort.
COHORT_NAMES = {"train": "Training set", "test": "Test set", "external": "External validation cohort",
                "followup": "Follow-up cohort (survival)"}
_BOX = {"boxstyle": "round,pad=0.4", "facecolor": "#eef3f8", "edgecolor": "#33506e"}


def plot_flow(flow: pd.DataFrame, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Participant flow: one box a cohort (``cohort``, ``patients``, ``analysis``,
    ``analysed``, ``left_out``, ``reason``), the training and test sets joined under the
    development cohort they were split from."""
    ax = _axes(ax, (6.6, 2.8))
    ax.set_axis_off()
    ax.set(xlim=(0, 1), ylim=(0, 1))
    cohorts = list(flow["cohort"])
    xs = dict(zip(cohorts, np.linspace(0.13, 0.87, len(cohorts)) if len(cohorts) > 1 else [0.5], strict=True))
    split = [c for c in ("train", "test") if c in xs]
    internal = int(flow[flow["cohort"].isin(split)]["patients"].sum())
    if internal:
        ax.text(np.mean([xs[c] for c in split]), 0.82, f"Development cohort\nn = {internal}", ha="center",
                va="center", bbox=_BOX, fontsize=8.5)
    for r in flow.itertuples():
        text = f"{COHORT_NAMES.get(r.cohort, r.cohort)}\nn = {r.patients}\n{r.analysis}: {r.analysed}"
        if r.left_out:
            text += f"\nleft out: {r.left_out} ({r.reason})"
        ax.text(xs[r.cohort], 0.28, text, ha="center", va="center", bbox=_BOX, fontsize=7.5)
        if r.cohort in split and internal:
            ax.annotate("", xy=(xs[r.cohort], 0.47), xytext=(np.mean([xs[c] for c in split]), 0.70),
                        arrowprops={"arrowstyle": "->", "color": "#33506e"})
    if title:
        ax.set_title(title, fontsize=9.5)
    return ax


def plot_odds_ratios(table: pd.DataFrame, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Forest plot of odds ratios with 95% CIs on a log scale, univariable and multivariable
    side by side (``stage``, ``variable``, ``encoding``, ``or``, ``ci_low``, ``ci_high``)."""
    drawn = table.dropna(subset=["or"])
    variables = list(dict.fromkeys(drawn["variable"]))
    ax = _axes(ax, (6.0, 0.45 * len(variables) + 1.4))
    for stage, colour, dy in (("univariable", "#7f8c9a", -0.15), ("multivariable", "#c0392b", 0.15)):
        part = drawn[drawn["stage"] == stage]
        y = np.array([variables.index(v) for v in part["variable"]]) + dy
        est, low, high = (part[c].to_numpy(dtype=float) for c in ("or", "ci_low", "ci_high"))
        ax.errorbar(est, y, xerr=[est - low, high - est], fmt="o", color=colour, capsize=2, label=stage, markersize=4)
    ax.axvline(1, color="black", lw=0.8, ls=":")
    ax.set_xscale("log")
    # plain numbers at 1, 2 and 5 per decade, no minor labels: matplotlib's default labels
    # the minor ticks of a short log range in 2x10^-1 form, and they overlap
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    encodings = drawn.drop_duplicates("variable").set_index("variable")["encoding"]
    ax.set_yticks(range(len(variables)), [f"{v} ({encodings[v]})" for v in variables], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("odds ratio of non-response (95% CI, log scale)", fontsize=8.5)
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(fontsize=8, loc="best")
    if title:
        ax.set_title(title, fontsize=9.5)
    return ax


def plot_lasso_cv(path: pd.DataFrame, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Cross-validated deviance (mean, SE) against log(lambda) with the minimum (dotted) and
    the 1-SE choice (dashed), and the number of non-zero coefficients along the top
    (``log_lambda``, ``cv_deviance``, ``cv_deviance_se``, ``minimum``, ``chosen``, ``n_nonzero``)."""
    ax = _axes(ax, (6.0, 4.0))
    ax.errorbar(path["log_lambda"], path["cv_deviance"], yerr=path["cv_deviance_se"], fmt="o", color="#c0392b",
                ecolor="#999999", markersize=3, capsize=2)
    for flag, style, name in (("minimum", ":", "minimum"), ("chosen", "--", "1-SE (chosen)")):
        x = path.loc[path[flag], "log_lambda"]
        if len(x):
            ax.axvline(x.iloc[0], color="black", ls=style, lw=0.9, label=name)
    ax.set_xlabel("log(lambda) = -log(C)")
    ax.set_ylabel("cross-validated binomial deviance")
    top = ax.secondary_xaxis("top")
    ticks = path.iloc[:: max(1, len(path) // 8)]
    top.set_ticks(ticks["log_lambda"], [str(n) for n in ticks["n_nonzero"]])
    top.set_xlabel("non-zero coefficients", fontsize=8)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_lasso_path(coef_path: pd.DataFrame, path: pd.DataFrame, selected: list[str], *, ax: Axes | None = None,
                    title: str | None = None) -> Axes:
    """Coefficient paths (``feature``, ``log_lambda``, ``coef``) of every feature that enters
    the LASSO path, the ``selected`` ones bold and named, the chosen penalty dashed."""
    ax = _axes(ax, (6.0, 4.0))
    chosen_features = set(selected)
    for feature, part in coef_path.groupby("feature", sort=True):
        bold = feature in chosen_features
        ax.plot(part["log_lambda"], part["coef"], lw=1.6 if bold else 0.7, alpha=1.0 if bold else 0.5,
                label=feature if bold else None)
    chosen = path.loc[path["chosen"], "log_lambda"]
    if len(chosen):
        ax.axvline(chosen.iloc[0], color="black", ls="--", lw=0.9)
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xlabel("log(lambda) = -log(C)")
    ax.set_ylabel("coefficient (z-scored feature)")
    if chosen_features:
        ax.legend(fontsize=7, loc="best")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_training_curve(history: pd.DataFrame, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Training loss per epoch and, on a second axis, the learning rate at each epoch's end
    (``epoch``, ``loss``, ``lr``)."""
    ax = _axes(ax, (6.0, 3.4))
    ax.plot(history["epoch"], history["loss"], "o-", color="#c0392b", label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("binary cross-entropy (training crops)")
    ax2 = ax.twinx()
    ax2.plot(history["epoch"], history["lr"], "s--", color="#33506e", markersize=3, label="learning rate")
    ax2.set_ylabel("learning rate at epoch end")
    ax.legend(handles=ax.get_lines() + ax2.get_lines(), fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_crops(crops: np.ndarray, *, fig: Figure | None = None, n_show: int = 3, title: str | None = None) -> Figure:
    """The 2.5D inputs of the first ``n_show`` patients: one row a patient, one column each
    of the three adjacent slices the network takes as channels (``crops``: N x 3 x S x S)."""
    n_show = min(n_show, len(crops))
    fig = fig if fig is not None else Figure(figsize=(6.0, 2.1 * n_show), layout="constrained")
    axes = fig.subplots(n_show, 3, squeeze=False)
    for i in range(n_show):
        for j, name in enumerate(("slice k-1", "slice k", "slice k+1")):
            axes[i, j].imshow(crops[i, j], cmap="gray", origin="lower")
            axes[i, j].set_axis_off()
            axes[i, j].set_title(f"patient {i + 1}: {name}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_gradcam_grid(crops: np.ndarray, maps: np.ndarray, prob: np.ndarray, *, fig: Figure | None = None,
                      title: str | None = None, regions: np.ndarray | None = None,
                      shares: np.ndarray | None = None) -> Figure:
    """Grad-CAM maps over each patient's centre slice, two a row (the article is 17 cm wide),
    each titled with the patient's predicted probability of non-response; with ``regions``
    the tumour and its rim outlined, with ``shares`` the share of the map's mass inside."""
    ncol = min(2, len(crops))
    nrow = -(-len(crops) // ncol)
    fig = fig if fig is not None else Figure(figsize=(6.6, 3.1 * nrow + 0.3), layout="constrained")
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    for ax in axes[len(crops):]:
        ax.set_axis_off()
    for k, (ax, crop, cam, p) in enumerate(zip(axes, crops, maps, prob, strict=False)):
        label = "non-response" if p >= 0.5 else "response"
        inside = ("" if shares is None else f"\nempty map: no evidence for {label}" if np.isnan(shares[k])
                  else f"\n{shares[k]:.0%} of the map in tumour + rim")
        plot_gradcam(crop, cam, ax=ax, region=None if regions is None else regions[k],
                     title=f"patient {k + 1}: P(non-resp.) {p:.2f}\nmap: evidence for {label}{inside}")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
