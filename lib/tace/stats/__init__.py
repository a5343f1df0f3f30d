"""Statistics of model validation, checked against R (pROC, rms, survival, boot,
riskRegression, metafor, pmvalsampsize).

Discrimination: :func:`roc_auc`, :func:`delong_test`, :func:`delong_test_unpaired`,
:func:`bootstrap_auc_test`. Operating points: :func:`youden_threshold`,
:func:`threshold_metrics`. Calibration: :func:`calibration`, :func:`observed_expected`,
:func:`calibration_bootstrap`; updating: :func:`updating_optimism`. Clinical utility:
:func:`net_benefit`. Sample size for external validation:
:func:`external_validation_sample_size`. Survival: :func:`kaplan_meier`, :func:`logrank_test`,
:func:`cox_regression`, :func:`concordance`, :func:`uno_concordance`,
:func:`time_dependent_auc`, :func:`survival_brier`, :func:`survival_calibration`,
:func:`proportional_hazards_test`, :func:`follow_up`. Across sites: :func:`random_effects`. Multiple
imputation: :func:`rubin_pool`.
Beside a simulated
cohort's truth: :func:`truth_recovery`, :func:`truth_calibration`, :func:`truth_recovery_table`, :func:`trait_spearman`.
Every function validates its input once, raises ``ValueError`` naming the problem for
degenerate input, and returns a frozen result.
"""

from .calibration import calibration, calibration_bootstrap, observed_expected
from .decision import net_benefit
from .meta import random_effects
from .pooling import rubin_pool
from .proportional_hazards import proportional_hazards_test
from .results import CalibrationResult, Estimate, TestResult
from .roc import bootstrap_auc_test, delong_test, delong_test_unpaired, roc_auc, roc_curve
from .samplesize import SampleSizeResult, external_validation_sample_size
from .survival import (
                       FollowUp,
                       concordance,
                       cox_regression,
                       follow_up,
                       kaplan_meier,
                       logrank_test,
                       survival_brier,
                       time_dependent_auc,
                       uno_concordance,
)
from .survival_calibration import survival_calibration
from .thresholds import threshold_metrics, youden_threshold
from .truth import (
                       TruthCalibration,
                       TruthRecovery,
                       share_of_oracle,
                       trait_spearman,
                       truth_calibration,
                       truth_recovery,
                       truth_recovery_table,
)
from .updating import updating_optimism

__all__ = [
    "CalibrationResult",
    "Estimate",
    "FollowUp",
    "SampleSizeResult",
    "TestResult",
    "TruthCalibration",
    "TruthRecovery",
    "bootstrap_auc_test",
    "calibration",
    "calibration_bootstrap",
    "concordance",
    "cox_regression",
    "delong_test",
    "delong_test_unpaired",
    "external_validation_sample_size",
    "follow_up",
    "kaplan_meier",
    "logrank_test",
    "net_benefit",
    "observed_expected",
    "proportional_hazards_test",
    "random_effects",
    "roc_auc",
    "roc_curve",
    "rubin_pool",
    "share_of_oracle",
    "survival_brier",
    "survival_calibration",
    "threshold_metrics",
    "time_dependent_auc",
    "trait_spearman",
    "truth_calibration",
    "truth_recovery",
    "truth_recovery_table",
    "uno_concordance",
    "updating_optimism",
    "youden_threshold",
]
