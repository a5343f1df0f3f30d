"""Image slices with a tumour contour."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["plot_slice"]


def plot_slice(image: np.ndarray, mask: np.ndarray | None = None, *,
               spacing: tuple[float, float] = (1.0, 1.0), ax: Axes | None = None,
               title: str | None = None, window: tuple[float, float] | None = None,
               contour_color: str = "#ff5a36") -> Axes:
    """Show one axial slice in radiological convention, with the mask's outline.

    Parameters
    ----------
    image
        2-D array indexed (row = y, column = x).
    mask
        2-D array of the same shape; its non-zero region is outlined.
    spacing
        Pixel spacing (x, y) in mm, so that the aspect ratio is physical.
    ax
        Axes to draw on; a new figure's axes when omitted.
    title
        Axes title.
    window
        Grey-level display range; the 1st and 99.5th percentiles when omitted.
    contour_color
        Colour of the mask outline.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        ax = Figure(figsize=(4, 4)).add_subplot()
    lo, hi = window if window is not None else np.percentile(image, [1.0, 99.5])
    ny, nx = image.shape
    extent = (0, nx * spacing[0], ny * spacing[1], 0)
    ax.imshow(image, cmap="gray", vmin=lo, vmax=hi, extent=extent, interpolation="nearest")
    if mask is not None and np.any(mask):
        ys = (np.arange(ny) + 0.5) * spacing[1]
        xs = (np.arange(nx) + 0.5) * spacing[0]
        ax.contour(xs, ys, (mask != 0).astype(float), levels=[0.5], colors=contour_color,
                   linewidths=1.0)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=8)
    return ax
