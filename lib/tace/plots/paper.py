"""The published study's numbers beside this run's."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .curves import _axes

__all__ = ["plot_published_aucs"]


def plot_published_aucs(table: pd.DataFrame, *, ax: Axes | None = None, run_label: str = "this run",
                        title: str | None = None) -> Axes:
    """AUCs the paper published (open circles) beside this run's (dots, 95% CI bars), one row
    a model and cohort (``model``, ``cohort``, ``published``, ``this_run``,
    ``this_run_ci_low``, ``this_run_ci_high``; a run without the value leaves the dot out).
    The legend goes under the axes, for the figure as a whole."""
    ax = _axes(ax, (6.6, 4.6))
    y = np.arange(len(table))
    ax.scatter(table["published"], y + 0.12, facecolors="none", edgecolors="#33506e", label="published (paper)")
    has = table["this_run"].notna().to_numpy()
    est = table["this_run"].to_numpy(dtype=float)[has]
    low, high = (table[c].to_numpy(dtype=float)[has] for c in ("this_run_ci_low", "this_run_ci_high"))
    ax.errorbar(est, y[has] - 0.12, xerr=[est - low, high - est], fmt="o", color="#c0392b", capsize=2, markersize=4,
                label=run_label)
    ax.axvline(0.5, color="black", lw=0.6, ls=":")
    named = {"train": "train, apparent", "train-cv": "train, cross-validated"}
    ax.set_yticks(y, [f"{r.model}, {named.get(r.cohort, r.cohort)}" for r in table.itertuples()], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0.3, 1.0)
    ax.set_xlabel("AUC")
    ax.tick_params(axis="x", labelsize=8)
    ax.figure.legend(*ax.get_legend_handles_labels(), fontsize=7.5, loc="outside lower center", ncol=2,
                     frameon=False)
    if title:
        ax.set_title(title, fontsize=9.5)
    return ax
