"""The report's tables, each made by one call from a notebook cell.

As :mod:`tace.report.figures` for the figures: a notebook cell that shows a table holds one
call into the library, so the code that computes the report's table is the code the tests
run, and nothing is copied per cohort or per model. Each builder takes the run's data
frames, computes with :mod:`tace.stats`, and returns the table (or a frozen result holding it
and what could not be computed, with the reason, which the report states).
"""

from .calibration import calibration_bootstrap_table, calibration_table, pooled_imputation_table, training_citl_table
from .cohort import analysis_flow, outcomes_by_cohort, table_one
from .discrimination import auc_table, delong_table, positive_calls_table, threshold_table
from .external import (
    BuiltTable,
    SampleSize,
    casemix_table,
    lp_relatedness_table,
    sample_size_table,
    site_heterogeneity_table,
    subgroup_table,
    updating_optimism_table,
    updating_side_by_side,
    validation_performance,
)
from .paper import paper_comparison
from .radiomics import XGBOOST_FIXED, selected_features, selection_counts, xgboost_grid
from .survival import (
    COX_COVARIATES,
    PHCheck,
    SurvivalCalibration,
    cox_table,
    ph_table,
    survival_calibration_table,
    survival_discrimination_table,
    survival_horizons,
)
from .truth import recovery_table, trait_table, truth_survival_table

__all__ = ["BuiltTable", "COX_COVARIATES", "PHCheck", "SampleSize", "SurvivalCalibration", "XGBOOST_FIXED",
           "analysis_flow", "auc_table", "casemix_table", "calibration_bootstrap_table", "calibration_table",
           "cox_table", "delong_table", "lp_relatedness_table", "outcomes_by_cohort", "paper_comparison", "ph_table",
           "positive_calls_table",
           "pooled_imputation_table", "recovery_table", "sample_size_table", "selected_features", "selection_counts",
           "site_heterogeneity_table", "subgroup_table", "survival_calibration_table",
           "survival_discrimination_table", "survival_horizons", "table_one", "threshold_table",
           "training_citl_table", "trait_table", "truth_survival_table", "updating_optimism_table",
           "updating_side_by_side", "validation_performance", "xgboost_grid"]
