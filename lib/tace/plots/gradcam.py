"""A crop with its Grad-CAM map laid over it."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["plot_gradcam"]


def plot_gradcam(crop: np.ndarray, cam: np.ndarray, *, ax: Axes | None = None,
                 title: str | None = None, alpha: float = 0.45, region: np.ndarray | None = None) -> Axes:
    """Show the centre channel of a 2.5D crop (3, S, S) in grey and its Grad-CAM in colour;
    ``region`` (S, S, bool: the tumour and its rim) is outlined in white."""
    if ax is None:
        ax = Figure(figsize=(3, 3)).add_subplot()
    ax.imshow(crop[1], cmap="gray", interpolation="nearest")
    ax.imshow(cam, cmap="jet", alpha=alpha, vmin=0, vmax=1, interpolation="bilinear")
    if region is not None and np.asarray(region).any() and not np.asarray(region).all():
        ax.contour(np.asarray(region, dtype=float), levels=[0.5], colors="white", linewidths=1.0, linestyles="--")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=8)
    return ax
