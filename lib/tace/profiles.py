"""Run profiles (``analysis/params/*.yaml``), validated once into frozen, typed objects.

A profile fixes everything a run depends on besides its data: the seed, the size of the
digital-twin cohort and, as the suite grows, feature and model settings. Notebooks and
commands receive only a profile *name* (or path); this module is the one place where the
YAML is read and checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from .resources import source_root

__all__ = ["PARAMS_DIR", "RUN_PROFILE", "ClinicalSettings", "DCNNSettings", "FusionSettings", "Profile",
           "ProfileError", "RadiomicsSettings", "SyntheticSpec", "available_profiles", "load_profile",
           "profile_from_dict", "read_stored_profile", "write_profile"]

#: Where the named profiles live: ``analysis/params`` of the source tree (or the wheel's copy).
PARAMS_DIR = source_root() / "analysis" / "params"

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SyntheticSpec(_Frozen):
    """Shape of the digital-twin cohort.

    The internal cohort (``n_train + n_test``) is drawn as one population and split,
    stratified by outcome, as a user's ``internal`` cohort would be.
    """

    n_train: PositiveInt
    n_test: PositiveInt
    n_external: PositiveInt
    n_followup: PositiveInt
    shape: tuple[PositiveInt, PositiveInt, PositiveInt] = Field(
        description="voxels (x, y, z) of every volume"
    )
    spacing_mm: tuple[PositiveFloat, PositiveFloat, PositiveFloat] = Field(
        description="voxel spacing (x, y, z) of the internal site's scanners; the external "
        "scanner's spacing is coarser by a fixed factor"
    )
    signal: Literal["null", "weak", "paper"] = Field(
        "paper", description="signal preset of the generating model: how strongly outcome and survival "
        "follow the imaging traits (tace.cohort.synthetic.model.SIGNAL_PRESETS)"
    )

    @model_validator(mode="after")
    def _fits_the_anatomy(self) -> SyntheticSpec:
        # The phantom's liver spans about 160 x 150 x 140 mm and tumours start at 3 cm.
        fov = [n * s for n, s in zip(self.shape, self.spacing_mm, strict=True)]
        if min(fov[:2]) < 150 or fov[2] < 100:
            raise ValueError(f"field of view {fov[0]:g} x {fov[1]:g} x {fov[2]:g} mm (shape x "
                             "spacing_mm) is too small; expected at least 150 x 150 x 100 mm")
        if max(self.spacing_mm) > 10:
            raise ValueError(f"spacing_mm {self.spacing_mm} is too coarse for 3 cm tumours; "
                             "expected at most 10 mm")
        return self

    @property
    def n_internal(self) -> int:
        return self.n_train + self.n_test

    @property
    def n_total(self) -> int:
        return self.n_internal + self.n_external + self.n_followup


class ClinicalSettings(_Frozen):
    """Clinical model: univariable screening threshold for the multivariable model."""

    p_threshold: Annotated[float, Field(gt=0, lt=1)] = 0.05


class RadiomicsSettings(_Frozen):
    """Radiomics: the PyRadiomics parameter file and the selection steps."""

    params: str = Field(description="PyRadiomics parameter file in analysis/params/")
    icc_threshold: Annotated[float, Field(ge=0, le=1)] = 0.75
    #: Training patients whose masks are re-segmented (eroded, dilated) for the ICC filter: a
    #: seeded random subset of this size, as radiomics studies commonly use 30; None: all.
    icc_patients: Annotated[int, Field(ge=3)] | None = 30
    correlation_threshold: Annotated[float, Field(gt=0, le=1)] = 0.90
    lasso_folds: Annotated[int, Field(ge=2)] = 10
    xgb_folds: Annotated[int, Field(ge=2)] = 5
    xgb_grid: dict[str, tuple[float | int, ...]] = Field(
        default_factory=lambda: {"max_depth": (2, 3), "n_estimators": (100, 200), "learning_rate": (0.05, 0.1)})

    @property
    def params_path(self) -> Path:
        return PARAMS_DIR / self.params


class AugmentSettings(_Frozen):
    flip: bool = True
    rotate_deg: Annotated[float, Field(ge=0, le=180)] = 15.0
    scale: Annotated[float, Field(ge=0, lt=1)] = 0.10
    translate: Annotated[float, Field(ge=0, lt=1)] = 0.05
    intensity: Annotated[float, Field(ge=0, lt=1)] = 0.10


class DCNNSettings(_Frozen):
    """The ResNet50 DCNN: crops, optimisation and augmentation."""

    input_size: Annotated[int, Field(ge=16, le=512)]
    slices_per_patient: Annotated[int, Field(ge=1, le=9)] = 3
    margin_mm: Annotated[float, Field(ge=0)] = 15.0
    epochs: PositiveInt
    batch_size: Annotated[int, Field(ge=2)] = 32
    lr: PositiveFloat = 3e-4
    weight_decay: Annotated[float, Field(ge=0)] = 1e-4
    compile: bool = False
    pretrained: str | None = Field(None, description="local safetensors file of ImageNet weights")
    augment: AugmentSettings = Field(default_factory=AugmentSettings)


class FusionSettings(_Frozen):
    """DLR fusion: folds of the out-of-fold predictions it is fitted on."""

    folds: Annotated[int, Field(ge=2)] = 5


class ImputationSettings(_Frozen):
    """Multiple imputation of missing predictors in validation patients (tace.models.imputation)."""

    m: Annotated[int, Field(ge=2, le=500)] = 20
    iterations: Annotated[int, Field(ge=1, le=100)] = 10


class Profile(_Frozen):
    """One run profile: ``smoke`` (tests), ``default`` (the embedded job), ``paper``."""

    name: str
    description: str
    seed: Annotated[int, Field(ge=0)]
    synthetic: SyntheticSpec
    clinical: ClinicalSettings = Field(default_factory=ClinicalSettings)
    radiomics: RadiomicsSettings
    dcnn: DCNNSettings
    fusion: FusionSettings = Field(default_factory=FusionSettings)
    imputation: ImputationSettings = Field(default_factory=ImputationSettings)
    deviations_from_paper: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _files_exist(self, info: ValidationInfo) -> Profile:
        if (info.context or {}).get("stored"):
            # a profile stored by a run or a bundle: its files were checked when it ran, and
            # the notebooks and tace validate need neither file (the bundle holds the
            # PyRadiomics parameters themselves), which may not exist on this machine
            return self
        if not self.radiomics.params_path.is_file():
            raise ValueError(f"radiomics.params: {self.radiomics.params_path} not found; expected a "
                             "PyRadiomics parameter file in analysis/params/")
        if self.dcnn.pretrained and not Path(self.dcnn.pretrained).is_file():
            raise ValueError(f"dcnn.pretrained: {self.dcnn.pretrained} not found; expected a local "
                             "safetensors file of ResNet50 ImageNet weights")
        return self


#: The resolved profile of a run, in its run folder: what the notebooks and every later step read.
RUN_PROFILE = "profile.yaml"


class ProfileError(ValueError):
    """A profile that cannot be found or does not satisfy the schema."""


def available_profiles() -> list[str]:
    """Names of the profiles shipped in ``analysis/params``."""
    return sorted(p.stem for p in PARAMS_DIR.glob("*.yaml"))


def load_profile(name_or_path: str | Path) -> Profile:
    """Read and validate a profile.

    Parameters
    ----------
    name_or_path
        A shipped profile's name (``smoke``, ``default``, ``paper``) or the path of a YAML file.

    Raises
    ------
    ProfileError
        When the file is missing, is not YAML, or breaks the schema; the message names
        the file and every offending key.
    """
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"}:
        path = candidate
    elif candidate.is_file() or len(candidate.parts) > 1:
        raise ProfileError(f"profile {str(name_or_path)!r}: a profile file must end in .yaml or .yml")
    else:
        path = PARAMS_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            known = ", ".join(available_profiles()) or f"none found in {PARAMS_DIR}"
            raise ProfileError(f"unknown profile {str(name_or_path)!r}; expected one of: {known}")
    return _read(path, stored=False)


def read_stored_profile(path: Path | str) -> Profile:
    """Read the resolved profile a run or a bundle stored (:func:`write_profile`): the same
    schema, without re-checking that its files exist on this machine."""
    return _read(Path(path), stored=True)


def write_profile(profile: Profile, path: Path | str) -> Path:
    """Write the resolved profile, every setting spelled out, as YAML (atomically)."""
    from .io import atomic_write_text

    data = profile.model_dump(mode="json")
    return atomic_write_text(path, "# The resolved profile of this run: every setting it used.\n"
                             + yaml.safe_dump(data, sort_keys=False))


def profile_from_dict(data: dict, source: str) -> Profile:
    """A stored profile from its dict (a bundle manifest's ``profile``); ``source`` names it in errors."""
    return _validate(data, source, stored=True)


def _read(path: Path, stored: bool) -> Profile:
    if not path.is_file():
        raise ProfileError(f"profile file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: not valid YAML ({exc})") from None
    return _validate(raw, str(path), stored)


def _validate(raw, path: str, stored: bool) -> Profile:
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: expected a mapping of settings at the top level")
    try:
        return Profile.model_validate(raw, context={"stored": stored})
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in err['loc'])}: {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors()
        ]
        raise ProfileError(f"{path}: {len(lines)} invalid setting(s)\n" + "\n".join(lines)) from None
