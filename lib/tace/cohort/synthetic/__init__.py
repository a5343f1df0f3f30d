"""The digital-twin cohort: a synthetic cohort shaped like the paper's, with known truth.

Patient data cannot be shipped, so the suite generates its default cohort: 160 internal
patients (112 train, 48 test), 38 external and 117 follow-up, with HBP-like images,
tumour masks, clinical variables, outcomes, and a ``truth.csv`` of the true non-response
probability and survival linear predictor. See :mod:`.model` for the generating model.
"""

from .model import IMAGING_TRAITS, SIGNAL_PRESETS, TwinModel, draw_patients, response_logit, twin_model
from .oracle import OracleSummary, oracle_summary
from .phantom import CaseTraits, Grid, render_case
from .scanners import EXTERNAL_SCANNERS, INTERNAL_SCANNERS, Scanner
from .writer import MANIFEST_COLUMNS, TRUTH_COLUMNS, TWIN_JSON, TwinCohort, generate_twin, read_twin_json

__all__ = [
    "EXTERNAL_SCANNERS",
    "IMAGING_TRAITS",
    "INTERNAL_SCANNERS",
    "MANIFEST_COLUMNS",
    "SIGNAL_PRESETS",
    "TRUTH_COLUMNS",
    "TWIN_JSON",
    "CaseTraits",
    "Grid",
    "OracleSummary",
    "Scanner",
    "TwinCohort",
    "TwinModel",
    "draw_patients",
    "generate_twin",
    "oracle_summary",
    "read_twin_json",
    "render_case",
    "response_logit",
    "twin_model",
]
