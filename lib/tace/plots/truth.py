"""Figures of estimates beside the digital twin's truth (see :mod:`tace.stats.truth`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .curves import _axes

__all__ = ["plot_truth_recovery", "plot_truth_recovery_grid", "plot_truth_scatter"]


def plot_truth_recovery(table: pd.DataFrame, *, ax: Axes | None = None, models: Sequence[str] | None = None,
                        labels: dict[str, str] | None = None, title: str | None = None) -> Axes:
    """One cohort's AUCs (point, DeLong interval) against what the truth reaches.

    ``table`` holds one cohort's rows of :func:`tace.stats.truth_recovery_table`. The oracle
    AUC (the true probability) is the solid line, the clinical and imaging terms alone the
    dotted and dashed ones: a model to the right of the solid line did better than the truth,
    which only chance allows.
    """
    ax = _axes(ax, size=(6.6, 2.2))
    models = list(models) if models is not None else list(table["model"])
    rows = table.set_index("model").loc[models]
    ypos = np.arange(len(models))[::-1]
    ax.errorbar(rows["auc"], ypos, xerr=[rows["auc"] - rows["auc_ci_low"], rows["auc_ci_high"] - rows["auc"]],
                fmt="o", color="C0", ms=5, capsize=3, lw=1.3, label="model AUC (95% CI)")
    first = rows.iloc[0]
    ax.axvline(first["oracle_auc"], color="black", lw=1.4, label=f"oracle (true P): {first['oracle_auc']:.2f}")
    ax.axvline(first["imaging_oracle_auc"], color="C3", lw=1.1, ls="--",
               label=f"imaging terms alone: {first['imaging_oracle_auc']:.2f}")
    ax.axvline(first["clinical_oracle_auc"], color="C2", lw=1.1, ls=":",
               label=f"clinical terms alone: {first['clinical_oracle_auc']:.2f}")
    ax.axvline(0.5, color="0.75", lw=0.8)
    ax.set_yticks(ypos, [(labels or {}).get(m, m) for m in models], fontsize=8)
    ax.set_xlim(0.3, 1.02)
    ax.set_ylim(-0.7, len(models) - 0.3)
    ax.set_xlabel("AUC", fontsize=8)
    ax.tick_params(axis="x", labelsize=7.5)
    # beside the axes: inside, it would hide the points it explains
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=7, frameon=False, ncol=1)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_truth_recovery_grid(table: pd.DataFrame, *, cohorts: Sequence[str], fig: Figure | None = None,
                             models: Sequence[str] | None = None, labels: dict[str, str] | None = None,
                             title: str | None = None) -> Figure:
    """:func:`plot_truth_recovery` for each of ``cohorts`` (rows of ``table`` by its
    ``cohort`` and ``n``), one row a cohort, sharing the AUC axis."""
    fig = fig if fig is not None else Figure(figsize=(6.6, 1.9 * len(cohorts) + 0.5), layout="constrained")
    axes = fig.subplots(len(cohorts), 1, squeeze=False, sharex=True)[:, 0]
    for ax, c in zip(axes, cohorts, strict=True):
        part = table[table["cohort"] == c]
        plot_truth_recovery(part, ax=ax, models=models, labels=labels, title=f"{c} (n = {int(part['n'].iloc[0])})")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def plot_truth_scatter(x, y, groups, *, ax: Axes | None = None, xlabel: str = "", ylabel: str = "",
                       identity: bool = False, title: str | None = None) -> Axes:
    """Scatter of an estimate against the truth, one colour per group (e.g. cohort);
    ``identity`` draws the line y = x (for probabilities)."""
    ax = _axes(ax, size=(4.0, 4.0))
    x, y, groups = np.asarray(x, float), np.asarray(y, float), np.asarray(groups)
    for k, g in enumerate(dict.fromkeys(groups)):
        sel = groups == g
        ax.scatter(x[sel], y[sel], s=14, alpha=0.75, color=f"C{k}", edgecolor="none", label=f"{g} (n={sel.sum()})")
    if identity:
        ax.plot([0, 1], [0, 1], color="0.5", lw=1, ls="--")
        ax.set(xlim=(0, 1), ylim=(0, 1), aspect="equal")
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7.5)
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    return ax
