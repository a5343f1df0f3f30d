"""Statistics of model validation, checked against R (pROC, rms, survival).

Discrimination: :func:`roc_auc`, :func:`delong_test`, :func:`delong_test_unpaired`,
:func:`bootstrap_auc_test`. Operating points: :func:`youden_threshold`,
:func:`threshold_metrics`. Calibration: :func:`calibration`. Clinical utility:
:func:`net_benefit`. Sample size for external validation:
:func:`external_validation_sample_size`. Survival: :func:`kaplan_meier`, :func:`logrank_test`,
:func:`cox_regression`, :func:`concordance`, :func:`time_dependent_auc`. Beside a simulated
cohort's truth: :func:`truth_recovery`, :func:`truth_recovery_table`, :func:`trait_spearman`.
Every function validates its input once, raises ``ValueError`` naming the problem for
degenerate input, and returns a frozen result.
"""

from .calibration import calibration
from .decision import net_benefit
from .results import CalibrationResult, Estimate, TestResult
from .roc import bootstrap_auc_test, delong_test, delong_test_unpaired, roc_auc, roc_curve
from .samplesize import SampleSizeResult, external_validation_sample_size
from .survival import concordance, cox_regression, kaplan_meier, logrank_test, time_dependent_auc
from .thresholds import threshold_metrics, youden_threshold
from .truth import TruthRecovery, share_of_oracle, trait_spearman, truth_recovery, truth_recovery_table

__all__ = [
    "CalibrationResult",
    "Estimate",
    "SampleSizeResult",
    "TestResult",
    "TruthRecovery",
    "bootstrap_auc_test",
    "calibration",
    "concordance",
    "cox_regression",
    "delong_test",
    "delong_test_unpaired",
    "external_validation_sample_size",
    "kaplan_meier",
    "logrank_test",
    "net_benefit",
    "roc_auc",
    "roc_curve",
    "share_of_oracle",
    "threshold_metrics",
    "time_dependent_auc",
    "trait_spearman",
    "truth_recovery",
    "truth_recovery_table",
    "youden_threshold",
]
