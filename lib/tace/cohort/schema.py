"""The cohort manifest schema: one row per patient, validated with pydantic.

The column table :data:`COLUMNS` is the single statement of the contract: the row model,
the error messages ("expected ...") and the README's table are all read from it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "COLUMNS",
    "MISSING_TOKENS",
    "NONRESPONSE_CATEGORIES",
    "PREDICTOR_COLUMNS",
    "REQUIRED_COLUMNS",
    "BCLCStage",
    "ChildPugh",
    "CohortName",
    "ColumnSpec",
    "ManifestRow",
    "MRECIST",
    "Sex",
]


class CohortName(StrEnum):
    """Which part of the study a patient belongs to."""

    TRAIN = "train"
    TEST = "test"
    EXTERNAL = "external"
    FOLLOWUP = "followup"
    #: not yet split into train and test; :func:`tace.cohort.split_internal` does it by seed
    INTERNAL = "internal"


class Sex(StrEnum):
    M = "M"
    F = "F"


class BCLCStage(StrEnum):
    """Barcelona Clinic Liver Cancer stage; the study enrolled stages A and B only."""

    A = "A"
    B = "B"


class ChildPugh(StrEnum):
    A = "A"
    B = "B"


class MRECIST(StrEnum):
    """Modified RECIST response after TACE (Lencioni & Llovet 2010)."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    PD = "PD"


#: The positive class of every model: no objective response (stable or progressive disease).
NONRESPONSE_CATEGORIES = frozenset({MRECIST.SD, MRECIST.PD})

#: Cell contents read as a missing value.
MISSING_TOKENS = frozenset({"", "na", "nan", "n/a", "null", "none", "."})


@dataclass(frozen=True)
class ColumnSpec:
    """One manifest column: its name, whether it is required, and what a valid value is."""

    name: str
    #: "predictor": the header is required, a value may be missing (it is multiply imputed
    #: from the development data; training patients need every value, see tace.models.train)
    required: Literal["always", "except followup", "followup", "predictor", "optional"]
    expected: str


COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("patient_id", "always",
               "a unique pseudonymous code of letters, digits, '.', '_' or '-' (never a name "
               "or hospital number)"),
    ColumnSpec("cohort", "always", "one of train, test, external, followup, internal"),
    ColumnSpec("image", "always",
               "the HBP image: a NIfTI, NRRD or MHA file or a DICOM series folder, relative "
               "to the manifest's folder"),
    ColumnSpec("mask", "always",
               "the tumour mask, same geometry as the image, relative to the manifest's folder"),
    ColumnSpec("age", "predictor", "age in years, a number in (0, 120]"),
    ColumnSpec("sex", "predictor", "one of M, F"),
    ColumnSpec("bclc", "predictor", "one of A, B (the study enrolled BCLC stage A or B)"),
    ColumnSpec("tumor_number", "predictor", "a whole number >= 1"),
    ColumnSpec("tumor_size_cm", "predictor", "the longest tumour diameter in cm, a number > 0"),
    ColumnSpec("afp_ng_ml", "predictor", "alpha-fetoprotein in ng/mL, a number >= 0"),
    ColumnSpec("child_pugh", "predictor", "one of A, B"),
    ColumnSpec("mrecist", "except followup", "one of CR, PR, SD, PD"),
    ColumnSpec("os_months", "followup", "overall survival time in months, a number >= 0"),
    ColumnSpec("os_event", "followup", "1 (death observed) or 0 (censored)"),
    ColumnSpec("site", "optional", "free text naming the centre"),
    ColumnSpec("scanner", "optional", "free text naming the scanner"),
    ColumnSpec("mask_label", "optional",
               "the mask label that marks the tumour, a whole number >= 1 (default: any "
               "non-zero voxel of a single-label mask)"),
)

#: The clinical predictors: may be missing in a patient (imputed), never in a training patient.
PREDICTOR_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required == "predictor")
#: Columns whose header must be present in every manifest.
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required != "optional")
EXPECTED: dict[str, str] = {c.name: c.expected for c in COLUMNS}


def _blank_to_none(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str) and value.strip().lower() in MISSING_TOKENS:
        return None
    return value.strip() if isinstance(value, str) else value


def _whole_number(value: Any) -> Any:
    """Accept '2' and '2.0' (spreadsheets write both) but not '2.5'."""
    value = _blank_to_none(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value  # pydantic reports it as not a number
        if number.is_integer():
            return int(number)
    return value


Text = Annotated[str | None, BeforeValidator(_blank_to_none)]
Number = Annotated[Annotated[float, Field(allow_inf_nan=False)] | None, BeforeValidator(_blank_to_none)]
WholeNumber = Annotated[int | None, BeforeValidator(_whole_number)]


_PATIENT_ID = re.compile(r"^[A-Za-z0-9._-]+$")


def _id_text(value: Any) -> Any:
    """A patient_id is missing only when its cell is empty: 'NA', 'None' or 'nan' are codes
    of the documented alphabet, never missing values."""
    if isinstance(value, str):
        return value.strip() or None
    return _blank_to_none(value)


def _patient_id(value: str | None) -> str | None:
    # a function, not Field(pattern=...): pydantic applies a pattern to the missing value too
    if value is not None and not _PATIENT_ID.match(value):
        raise PydanticCustomError("string_pattern_mismatch",
                                  "String should hold only letters, digits, '.', '_' and '-'")
    return value


def _required(value: Any, info: ValidationInfo) -> Any:
    if value is None:
        raise PydanticCustomError("missing_value", "missing value")
    return value


class ManifestRow(BaseModel):
    """One validated manifest row. Extra columns are allowed and ignored here."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_enum_values=False)

    patient_id: Annotated[str | None, BeforeValidator(_id_text), AfterValidator(_patient_id)] = Field(
        None, validate_default=True)
    cohort: Annotated[CohortName | None, BeforeValidator(_blank_to_none)] = Field(None, validate_default=True)
    image: Text = Field(None, validate_default=True)
    mask: Text = Field(None, validate_default=True)
    age: Number = Field(None, gt=0, le=120, validate_default=True)
    sex: Annotated[Sex | None, BeforeValidator(_blank_to_none)] = Field(None, validate_default=True)
    bclc: Annotated[BCLCStage | None, BeforeValidator(_blank_to_none)] = Field(None, validate_default=True)
    tumor_number: WholeNumber = Field(None, ge=1, validate_default=True)
    tumor_size_cm: Number = Field(None, gt=0, validate_default=True)
    afp_ng_ml: Number = Field(None, ge=0, validate_default=True)
    child_pugh: Annotated[ChildPugh | None, BeforeValidator(_blank_to_none)] = Field(None, validate_default=True)
    mrecist: Annotated[MRECIST | None, BeforeValidator(_blank_to_none)] = Field(None, validate_default=True)
    os_months: Number = Field(None, ge=0, validate_default=True)
    os_event: Annotated[Literal[0, 1] | None, BeforeValidator(_whole_number)] = Field(None, validate_default=True)
    site: Text = None
    scanner: Text = None
    mask_label: WholeNumber = Field(None, ge=1)

    _always = field_validator("patient_id", "cohort", "image", "mask")(_required)

    @field_validator("mrecist")
    @classmethod
    def _mrecist_outside_followup(cls, value: Any, info: ValidationInfo) -> Any:
        cohort = info.data.get("cohort")
        if value is None and cohort is not None and cohort != CohortName.FOLLOWUP:
            raise PydanticCustomError(
                "missing_value", "missing value (required in the {cohort} cohort)",
                {"cohort": str(cohort)},
            )
        return value

    @field_validator("os_months", "os_event")
    @classmethod
    def _survival_in_followup(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.data.get("cohort") == CohortName.FOLLOWUP:
            raise PydanticCustomError("missing_value", "missing value (required in the followup cohort)")
        return value

    @property
    def nonresponse(self) -> bool | None:
        """True for SD or PD, False for CR or PR, None when mRECIST is not recorded."""
        return None if self.mrecist is None else self.mrecist in NONRESPONSE_CATEGORIES
