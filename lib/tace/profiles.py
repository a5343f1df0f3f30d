"""Run profiles (``analysis/params/*.yaml``), validated once into frozen, typed objects.

A profile fixes everything a run depends on besides its data: the seed, the size of the
digital-twin cohort and, as the suite grows, feature and model settings. Notebooks and
commands receive only a profile *name* (or path); this module is the one place where the
YAML is read and checked.
"""

from __future__ import annotations

import os
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
#: Patients of one digital-twin cohort at most (the scale benchmark draws 3,000).
MAX_PATIENTS = 100_000
Patients = Annotated[int, Field(gt=0, le=MAX_PATIENTS)]
#: Folds of any cross-validation at most.
MAX_FOLDS = 20
Folds = Annotated[int, Field(ge=2, le=MAX_FOLDS)]
#: Bytes of a profile file, and of a PyRadiomics parameter file, at most.
MAX_PROFILE_BYTES = 256 << 10
#: Bytes of a pretrained weights file at most (torchvision's ResNet50 is about 100 MB).
MAX_WEIGHTS_BYTES = 1 << 30


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SyntheticSpec(_Frozen):
    """Shape of the digital-twin cohort.

    The internal cohort (``n_train + n_test``) is drawn as one population and split,
    stratified by outcome, as a user's ``internal`` cohort would be.
    """

    n_train: Patients
    n_test: Patients
    n_external: Patients
    n_followup: Patients
    shape: tuple[Annotated[int, Field(gt=0, le=1024)], Annotated[int, Field(gt=0, le=1024)],
                 Annotated[int, Field(gt=0, le=1024)]] = Field(
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

    params: Annotated[str, Field(max_length=200)] = Field(
        description="PyRadiomics parameter file, a path relative to analysis/params/ (and inside it)")
    icc_threshold: Annotated[float, Field(ge=0, le=1)] = 0.75
    #: Training patients whose masks are re-segmented (eroded, dilated) for the ICC filter: a
    #: seeded random subset of this size, as radiomics studies commonly use 30; None: all.
    icc_patients: Annotated[int, Field(ge=3, le=5000)] | None = 30
    correlation_threshold: Annotated[float, Field(gt=0, le=1)] = 0.90
    lasso_folds: Folds = 10
    xgb_folds: Folds = 5
    xgb_grid: dict[Literal["max_depth", "n_estimators", "learning_rate", "min_child_weight", "subsample",
                           "colsample_bytree", "reg_lambda", "reg_alpha", "gamma"],
                   Annotated[tuple[Annotated[float, Field(ge=0, le=10_000, allow_inf_nan=False)] | int, ...],
                             Field(min_length=1, max_length=10)]] = Field(
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
    margin_mm: Annotated[float, Field(ge=0, le=200, allow_inf_nan=False)] = 15.0
    epochs: Annotated[int, Field(gt=0, le=1000)]
    batch_size: Annotated[int, Field(ge=2, le=4096)] = 32
    lr: Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)] = 3e-4
    weight_decay: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 1e-4
    compile: bool = False
    pretrained: Annotated[str, Field(max_length=1000)] | None = Field(
        None, description="local safetensors file of torchvision's ResNet50 ImageNet weights, in the profile's "
        "folder or below it (a relative path is read from there); checked when the profile loads")
    augment: AugmentSettings = Field(default_factory=AugmentSettings)


class FusionSettings(_Frozen):
    """DLR fusion: folds of the out-of-fold predictions it is fitted on."""

    folds: Folds = 5


class ImputationSettings(_Frozen):
    """Multiple imputation of missing predictors in validation patients (tace.models.imputation)."""

    m: Annotated[int, Field(ge=2, le=500)] = 20
    iterations: Annotated[int, Field(ge=1, le=100)] = 10


class Profile(_Frozen):
    """One run profile: ``smoke`` (tests), ``default`` (the embedded job), ``paper``."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    description: Annotated[str, Field(max_length=2000)]
    seed: Annotated[int, Field(ge=0, lt=2**32)]
    synthetic: SyntheticSpec
    clinical: ClinicalSettings = Field(default_factory=ClinicalSettings)
    radiomics: RadiomicsSettings
    dcnn: DCNNSettings
    fusion: FusionSettings = Field(default_factory=FusionSettings)
    imputation: ImputationSettings = Field(default_factory=ImputationSettings)
    deviations_from_paper: Annotated[tuple[Annotated[str, Field(max_length=1000)], ...], Field(max_length=50)] = ()

    @model_validator(mode="after")
    def _files_exist(self, info: ValidationInfo) -> Profile:
        context = info.context or {}
        if context.get("stored"):
            # a profile stored by a run or a bundle: its files were checked when it ran, and
            # the notebooks and tace validate need neither file (the bundle holds the
            # PyRadiomics parameters themselves), which may not exist on this machine
            return self
        _check_radiomics_params(self.radiomics.params)
        if self.dcnn.pretrained:
            folder = Path(context.get("folder") or PARAMS_DIR)
            path = _confined(folder, self.dcnn.pretrained, "dcnn.pretrained")
            _check_pretrained(path)
            # the resolved profile names the file the run read, whatever the working folder
            return self.model_copy(update={"dcnn": self.dcnn.model_copy(update={"pretrained": str(path)})})
        return self


def _confined(folder: Path, name: str, field: str) -> Path:
    """``folder/name`` resolved (links followed), refused unless it is a regular file inside
    ``folder``: a profile names files of its own folder only."""
    root = Path(os.path.realpath(folder))
    path = Path(os.path.realpath(root / name))
    if not path.is_relative_to(root):
        raise ValueError(f"{field}: {name} lies outside {root}; expected a file in that folder or below it")
    if not path.is_file():
        raise ValueError(f"{field}: {name} not found in {root}; expected a file there")
    return path


def _check_radiomics_params(name: str) -> None:
    """The PyRadiomics parameter file: inside :data:`PARAMS_DIR`, small, YAML without aliases,
    and valid by PyRadiomics' own schema."""
    from .io.limits import LimitError, load_yaml

    path = _confined(PARAMS_DIR, name, "radiomics.params")
    try:
        params = load_yaml(path, MAX_PROFILE_BYTES, "PyRadiomics parameter file")
    except LimitError as exc:
        raise ValueError(f"radiomics.params: {exc}") from None
    if not isinstance(params, dict):
        raise ValueError(f"radiomics.params: {path} holds no mapping of settings; expected PyRadiomics settings")
    from .features.radiomics import check_radiomics_params

    try:
        check_radiomics_params(params)
    except ValueError as exc:
        raise ValueError(f"radiomics.params: {path}: {exc}") from None


def _check_pretrained(path: Path) -> None:
    """The pretrained weights: a safetensors file (read by its header only, never unpickled)
    whose tensors have the shapes of torchvision's ResNet50 (the ``fc`` layer is replaced)."""
    size = path.stat().st_size
    if size > MAX_WEIGHTS_BYTES:
        raise ValueError(f"dcnn.pretrained: {path} is {size:,} bytes; expected at most {MAX_WEIGHTS_BYTES:,}")
    from safetensors import SafetensorError, safe_open

    from .models.dcnn import resnet50_shapes

    try:
        with safe_open(str(path), "pt") as fh:
            shapes = {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys() if not k.startswith("fc.")}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"dcnn.pretrained: {path} is not a safetensors file ({str(exc)[:200]}); expected "
                         "torchvision's ResNet50 ImageNet weights saved with safetensors") from None
    expected = resnet50_shapes()
    missing = sorted(k for k in set(expected) - set(shapes) if not k.endswith("num_batches_tracked"))
    unexpected = sorted(set(shapes) - set(expected))
    wrong = sorted(k for k in set(expected) & set(shapes) if shapes[k] != expected[k])
    if missing or unexpected or wrong:
        found = "; ".join(part for part in (
            f"{len(missing)} tensor(s) missing (first {missing[0]})" if missing else "",
            f"{len(unexpected)} unexpected (first {unexpected[0]})" if unexpected else "",
            f"{len(wrong)} of the wrong shape (first {wrong[0]}: {shapes[wrong[0]]}, expected {expected[wrong[0]]})"
            if wrong else "") if part)
        raise ValueError(f"dcnn.pretrained: {path} does not hold ResNet50 weights: {found}")


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
    from .io.limits import LimitError, load_yaml

    if not path.exists():
        raise ProfileError(f"profile file not found: {path}")
    try:
        raw = load_yaml(path, MAX_PROFILE_BYTES, "profile")
    except LimitError as exc:
        raise ProfileError(str(exc)) from None
    return _validate(raw, str(path), stored, folder=path.parent)


def _where(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) + ": " if loc else ""


def _validate(raw, path: str, stored: bool, folder: Path | None = None) -> Profile:
    from .io.limits import excerpt

    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: expected a mapping of settings at the top level")
    try:
        return Profile.model_validate(raw, context={"stored": stored, "folder": folder})
    except ValidationError as exc:
        # the input is quoted short: a settings file from elsewhere may hold megabytes in one value
        lines = [f"  {_where(err['loc'])}{excerpt(err['msg'].removeprefix('Value error, '), 300)[1:-1]}"
                 + ("" if err["type"] == "value_error" else f" (got {excerpt(err.get('input'))})")
                 for err in exc.errors()[:20]]
        more = f"\n  and {len(exc.errors()) - 20} more" if len(exc.errors()) > 20 else ""
        raise ProfileError(f"{path}: {len(exc.errors())} invalid setting(s)\n" + "\n".join(lines) + more) from None
