"""Statistics of model validation, checked against R (pROC, rms, survival).

Discrimination: :func:`roc_auc`, :func:`delong_test`, :func:`delong_test_unpaired`,
:func:`bootstrap_auc_test`. Every function validates its input once, raises
``ValueError`` naming the problem for degenerate input, and returns a frozen result.
"""

from .results import CalibrationResult, Estimate, TestResult
from .roc import bootstrap_auc_test, delong_test, delong_test_unpaired, roc_auc

__all__ = [
    "CalibrationResult",
    "Estimate",
    "TestResult",
    "bootstrap_auc_test",
    "delong_test",
    "delong_test_unpaired",
    "roc_auc",
]
