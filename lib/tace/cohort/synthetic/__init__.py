"""The digital-twin cohort: a synthetic cohort shaped like the paper's, with known truth.

Patient data cannot be shipped, so the suite generates its default cohort: 160 internal
patients (112 train, 48 test), 38 external and 117 follow-up, with HBP-like images,
tumour masks, clinical variables, outcomes, and a ``truth.csv`` of the true non-response
probability and survival linear predictor. See :mod:`.model` for the generating model.
"""

from .model import TwinModel, draw_patients, response_logit
from .phantom import CaseTraits, Grid, render_case
from .scanners import EXTERNAL_SCANNERS, INTERNAL_SCANNERS, Scanner
from .writer import MANIFEST_COLUMNS, TRUTH_COLUMNS, TwinCohort, generate_twin

__all__ = [
    "EXTERNAL_SCANNERS",
    "INTERNAL_SCANNERS",
    "MANIFEST_COLUMNS",
    "TRUTH_COLUMNS",
    "CaseTraits",
    "Grid",
    "Scanner",
    "TwinCohort",
    "TwinModel",
    "draw_patients",
    "generate_twin",
    "render_case",
    "response_logit",
]
