"""Figures of the radiomics feature selection."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["cluster_order", "plot_correlation_steps", "short_feature_name"]


def short_feature_name(name: str, width: int = 30) -> str:
    """A PyRadiomics feature name short enough to label a heatmap row: the image type
    abbreviated (``log-sigma-2-0-mm-3D`` -> ``LoG2.0``, ``wavelet-LLH`` -> ``W-LLH``, original
    dropped), then class and feature.

    >>> short_feature_name("log-sigma-2-0-mm-3D_glszm_GrayLevelVariance")
    'LoG2.0 glszm GrayLevelVariance'
    >>> short_feature_name("original_shape_Sphericity")
    'shape Sphericity'
    """
    image, _, rest = name.partition("_")
    if image.startswith("log-sigma-"):
        image = "LoG" + image[len("log-sigma-"):].split("-mm")[0].replace("-", ".")
    elif image.startswith("wavelet-"):
        image = "W-" + image[len("wavelet-"):]
    elif image == "original":
        image = ""
    text = " ".join(p for p in (image, rest.replace("_", " ")) if p) if rest else name
    return text if len(text) <= width else text[:width - 1] + "\u2026"


def cluster_order(corr: pd.DataFrame) -> list[str]:
    """The features of a correlation matrix in the leaf order of average-linkage clustering
    on the distance 1 - |r| (as seaborn's clustermap would order them), so that correlated
    features sit together."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    if len(corr) < 3:
        return list(corr.index)
    dist = np.clip(1.0 - np.abs(corr.to_numpy(dtype=float)), 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    dist = (dist + dist.T) / 2  # exact symmetry for squareform
    return [corr.index[i] for i in leaves_list(linkage(squareform(dist, checks=False), method="average"))]


def plot_correlation_steps(corr: pd.DataFrame, steps: dict[str, list[str]], *, fig: Figure | None = None,
                           title: str | None = None, max_labels: int = 12) -> Figure:
    """Clustered correlation heatmaps (seaborn) of the features kept at each selection step,
    one panel a step, one colour bar (Pearson r from -1 to 1).

    ``corr`` is the correlation matrix of the first step's features; ``steps`` maps a step's
    name to its features. Each panel orders its features by :func:`cluster_order`; feature
    names are written only where a panel has at most ``max_labels`` features (shortened to
    the part after the image type), the full names being in the figure's data.
    """
    import seaborn as sns

    fig = fig if fig is not None else Figure(figsize=(6.6, 2.9), layout="constrained")
    grid = fig.add_gridspec(1, len(steps) + 1, width_ratios=[1] * len(steps) + [0.06])
    cbar_ax = fig.add_subplot(grid[0, -1])
    for k, (name, features) in enumerate(steps.items()):
        ax = fig.add_subplot(grid[0, k])
        sub = corr.loc[features, features]
        order = cluster_order(sub)
        sub = sub.loc[order, order]
        labelled = 0 < len(order) <= max_labels
        short = [short_feature_name(f) for f in order]
        with warnings.catch_warnings():
            # seaborn 0.13 calls Colormap.set_bad, which matplotlib 3.11 marks for deprecation
            warnings.filterwarnings("ignore", message="The set_bad function", category=PendingDeprecationWarning)
            sns.heatmap(sub, ax=ax, vmin=-1, vmax=1, center=0, cmap="vlag", square=True, cbar=k == 0,
                        cbar_ax=cbar_ax if k == 0 else None, xticklabels=False,
                        yticklabels=short if labelled else False, linewidths=0)
        ax.set(xlabel="", ylabel="")
        ax.set_title(f"{name}\n({len(order)} features)", fontsize=8)
        ax.tick_params(axis="y", labelsize=7, length=0)
    cbar_ax.tick_params(labelsize=7.5)
    cbar_ax.set_ylabel("Pearson r", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9.5)
    return fig
