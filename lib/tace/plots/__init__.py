"""Figure functions. Each takes ``ax=`` (a new one is made when omitted) and returns it, or,
for a figure of several panels, ``fig=`` and returns the figure; none touches pyplot's
global state. :mod:`tace.plots.legibility` checks a figure at the size the article prints it."""

from .curves import (
    plot_calibration,
    plot_calibration_grid,
    plot_decision_curve,
    plot_km,
    plot_roc,
    plot_schoenfeld,
    plot_schoenfeld_grid,
    plot_score_distributions,
    plot_smd,
    plot_survival_calibration,
)
from .features import plot_correlation_steps
from .gradcam import plot_gradcam
from .slices import plot_slice
from .truth import plot_truth_recovery, plot_truth_recovery_grid, plot_truth_scatter

__all__ = ["plot_calibration", "plot_calibration_grid", "plot_correlation_steps", "plot_decision_curve",
           "plot_gradcam", "plot_km", "plot_roc", "plot_schoenfeld", "plot_schoenfeld_grid", "plot_score_distributions",
           "plot_slice", "plot_smd", "plot_survival_calibration", "plot_truth_recovery", "plot_truth_recovery_grid",
           "plot_truth_scatter"]
