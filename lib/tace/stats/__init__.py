"""Statistics of model validation, checked against R (pROC, rms, survival).

Discrimination: :func:`roc_auc`, :func:`delong_test`, :func:`delong_test_unpaired`,
:func:`bootstrap_auc_test`. Operating points: :func:`youden_threshold`,
:func:`threshold_metrics`. Calibration: :func:`calibration`. Clinical utility:
:func:`net_benefit`. Every function validates its input once, raises
``ValueError`` naming the problem for degenerate input, and returns a frozen result.
"""

from .calibration import calibration
from .decision import net_benefit
from .results import CalibrationResult, Estimate, TestResult
from .roc import bootstrap_auc_test, delong_test, delong_test_unpaired, roc_auc
from .thresholds import threshold_metrics, youden_threshold

__all__ = [
    "CalibrationResult",
    "Estimate",
    "TestResult",
    "bootstrap_auc_test",
    "calibration",
    "delong_test",
    "delong_test_unpaired",
    "net_benefit",
    "roc_auc",
    "threshold_metrics",
    "youden_threshold",
]
