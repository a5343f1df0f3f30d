"""Figure functions. Each takes ``ax=`` (a new one is made when omitted) and returns it;
none touches pyplot's global state beyond creating a figure when no ``ax`` is given."""

from .curves import (
                     plot_calibration,
                     plot_calibration_grid,
                     plot_decision_curve,
                     plot_km,
                     plot_roc,
                     plot_schoenfeld,
                     plot_score_distributions,
)
from .gradcam import plot_gradcam
from .slices import plot_slice
from .truth import plot_truth_recovery, plot_truth_scatter

__all__ = ["plot_calibration", "plot_calibration_grid", "plot_decision_curve", "plot_gradcam", "plot_km", "plot_roc",
           "plot_schoenfeld", "plot_score_distributions", "plot_slice", "plot_truth_recovery", "plot_truth_scatter"]
