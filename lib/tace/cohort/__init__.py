"""The cohort data contract: manifest schema, loading, validation, image I/O, digital twin.

A cohort is a CSV manifest, one row per patient (see :data:`tace.cohort.schema.COLUMNS`),
whose image and mask paths are relative to the manifest. :func:`load_cohort` checks every
row and every file and raises one :class:`CohortError` that lists all problems.
"""

from .imageio import Geometry, GeometryTolerance, ImageReadError, read_image
from .images import check_image_pair, tumour_mask
from .manifest import Cohort, load_cohort, tumour_labels
from .problems import CohortError, Problem
from .schema import COLUMNS, NONRESPONSE_CATEGORIES, REQUIRED_COLUMNS, CohortName, ManifestRow
from .split import split_internal
from .summary import CohortSummary, print_warnings, summarize

__all__ = [
    "COLUMNS",
    "NONRESPONSE_CATEGORIES",
    "REQUIRED_COLUMNS",
    "Cohort",
    "CohortError",
    "CohortName",
    "CohortSummary",
    "Geometry",
    "GeometryTolerance",
    "ImageReadError",
    "ManifestRow",
    "Problem",
    "check_image_pair",
    "load_cohort",
    "print_warnings",
    "read_image",
    "split_internal",
    "summarize",
    "tumour_labels",
    "tumour_mask",
]
