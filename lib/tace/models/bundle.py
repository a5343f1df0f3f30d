"""Frozen model bundles: a folder another site can validate without the development data.

``manifest.json`` records the package versions, the profile, the seed, a hash of the
training cohort, the feature lists and preprocessing parameters, the thresholds fixed on the
training data, summary statistics of the training cohort (for case-mix comparison), and the
sha256 of every weight file, which :func:`read_bundle` checks before anything is loaded.
No file is a pickle: JSON, XGBoost's JSON and safetensors only.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import stat
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..io import sha256_file
from ..io.limits import LimitError, excerpt, load_json
from ..profiles import Profile, ProfileError, profile_from_dict

__all__ = ["BUNDLE_FILES", "BUNDLE_FORMAT", "Bundle", "BundleError", "cohort_fingerprint", "package_versions",
           "OPTIONAL_BUNDLE_FILES", "read_bundle",
           "write_manifest"]

BUNDLE_FORMAT = "tace-bundle/1"
_PACKAGES = ("tace", "numpy", "scipy", "pandas", "scikit-learn", "statsmodels", "xgboost", "torch",
             "torchvision", "pyradiomics", "simpleitk", "safetensors", "lifelines")


class BundleError(ValueError):
    """A bundle that is missing, incomplete or altered."""


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def write_manifest(folder: Path, manifest: dict, files: list[str]) -> Path:
    """Write ``manifest.json`` with the sha256 of each listed file (relative to ``folder``)."""
    folder = Path(folder)
    manifest = dict(manifest)
    manifest["format"] = BUNDLE_FORMAT
    manifest["files"] = {name: sha256_file(folder / name) for name in sorted(files)}
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


#: The weight files of a bundle, each listed with its sha256 in the manifest; nothing else is read.
BUNDLE_FILES = ("clinical.json", "dcnn.safetensors", "fusion.json", "radiomics_pipeline.json",
                "radiomics_xgboost.json")
#: Files a bundle may list besides those: bundles from before missing-predictor imputation
#: (issue 12) lack the imputation model and can score complete cohorts only.
OPTIONAL_BUNDLE_FILES = ("imputation.json",)
_MAX_MANIFEST_BYTES = 4 << 20


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _TrainingCohort(_Open):
    n: Annotated[int, Field(ge=1)]
    sha256: str


class _Crops(_Open):
    size: Annotated[int, Field(ge=16, le=512)]
    slices: Annotated[int, Field(ge=1, le=9)]
    margin_mm: Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _DCNNPart(_Open):
    crops: _Crops
    # bundles from before test-time augmentation (issue 11) scored each crop as it is
    test_time_views: Annotated[list[Literal["as_is", "left_right", "up_down"]], Field(min_length=1)] = ["as_is"]


#: A PyRadiomics feature name: ``<image type>_<class>_<feature>``, e.g. ``original_firstorder_Mean``,
#: ``wavelet-LHL_glcm_Idm``, ``log-sigma-3-0-mm-3D_glszm_ZoneEntropy``; nothing else is a feature.
FEATURE_NAME = r"^[a-z]+(-[A-Za-z0-9-]+)?_[a-z]+(2D)?_[A-Za-z0-9]+$"
FeatureName = Annotated[str, Field(pattern=FEATURE_NAME, max_length=128)]
#: A probability threshold: a predicted risk.
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
#: The models a bundle holds, each with its threshold.
MODELS = ("clinical", "radiomics", "dcnn", "dlr")


class _RadiomicsPart(_Open):
    pyradiomics_params: dict
    robust_features: Annotated[list[FeatureName], Field(max_length=100_000)]
    selected_features: Annotated[list[FeatureName], Field(min_length=1, max_length=10_000)]

    @model_validator(mode="after")
    def _selected_are_robust(self) -> _RadiomicsPart:
        stray = sorted(set(self.selected_features) - set(self.robust_features))
        if stray:
            raise ValueError(f"{len(stray)} selected feature(s) are not among the robust ones (first {stray[0]!r}); "
                             "expected the selection to come from the robust features")
        from ..features.radiomics import check_radiomics_params

        check_radiomics_params(self.pyradiomics_params)
        return self


class _Thresholds(_Open):
    youden: dict[Literal[MODELS], Probability]
    dlr_survival_cutoff: Probability

    @model_validator(mode="after")
    def _every_model(self) -> _Thresholds:
        missing = [m for m in MODELS if m not in self.youden]
        if missing:
            raise ValueError(f"no Youden threshold for {', '.join(missing)}; expected one for each of "
                             f"{', '.join(MODELS)}")
        return self


class _Manifest(_Open):
    """The fields of ``manifest.json`` that tace reads; validated before any file is opened."""

    format: str
    files: dict[str, Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]]
    profile: dict
    seed: int
    training_cohort: _TrainingCohort
    radiomics: _RadiomicsPart
    dcnn: _DCNNPart
    thresholds: _Thresholds
    development_summary: dict


@dataclass(frozen=True)
class Bundle:
    """A bundle whose manifest is valid and whose listed files all match their sha256."""

    folder: Path
    manifest: dict
    profile: Profile

    def path(self, name: str) -> Path:
        """A listed file of the bundle (nothing else can be named)."""
        if name not in self.manifest["files"]:
            raise BundleError(f"{name} is not a file of the bundle {self.folder}")
        return self.folder / name

    def copy_to(self, dest: Path) -> Path:
        """Copy the manifest and the listed files, and nothing else, into a new folder ``dest``."""
        dest = Path(dest)
        dest.mkdir(parents=True)
        for name in ("manifest.json", *self.manifest["files"]):
            shutil.copyfile(self.folder / name, dest / name, follow_symlinks=False)
        return dest


def _regular_file(folder: Path, name: str) -> str | None:
    """Why ``folder/name`` is not a regular file of the bundle itself, or None."""
    if Path(name).name != name or name in (".", "..") or "\\" in name:
        return f"{name!r}: not a plain file name (a bundle lists only files in its own folder)"
    path = folder / name
    try:
        st = path.lstat()
    except FileNotFoundError:
        return f"{name}: missing"
    if stat.S_ISLNK(st.st_mode):
        return f"{name}: is a symbolic link; expected a regular file inside the bundle"
    if not stat.S_ISREG(st.st_mode):
        return f"{name}: not a regular file"
    return None


def read_bundle(folder: Path | str) -> Bundle:
    """Open a bundle after checking its manifest and every listed file's sha256.

    ``folder`` is the bundle itself or a ``tace train`` output folder holding ``bundle/``.
    Only the files the manifest lists are ever read, each a regular file of the bundle's own
    folder (no link, no path outside it) whose sha256 matches; the manifest must list exactly
    the bundle's weight files (:data:`BUNDLE_FILES`) and its fields must be valid.

    Raises
    ------
    BundleError
        Naming the file or the manifest field and what was expected.
    """
    folder = Path(folder)
    if (folder / "bundle" / "manifest.json").is_file():
        folder = folder / "bundle"
    path = folder / "manifest.json"
    problem = _regular_file(folder, "manifest.json") if folder.is_dir() else "the folder does not exist"
    if problem:
        raise BundleError(f"{folder} is not a model bundle: {problem.replace(': missing', ' not found')}")
    try:
        raw = load_json(path, _MAX_MANIFEST_BYTES, "bundle manifest")
    except LimitError as exc:
        raise BundleError(f"{exc}; the bundle is damaged or not tace's") from None
    if not isinstance(raw, dict) or raw.get("format") != BUNDLE_FORMAT:
        got = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
        raise BundleError(f"{path}: format {got!r}; expected {BUNDLE_FORMAT!r}")
    try:
        manifest = _Manifest.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{'.'.join(map(str, e['loc'])) or 'manifest'}: {excerpt(e['msg'], 300)[1:-1]}"
                 + ("" if e["type"] in ("value_error", "missing") else f" (got {excerpt(e.get('input'))})")
                 for e in exc.errors()[:20]]
        raise BundleError(f"{path}: invalid manifest\n  - " + "\n  - ".join(lines)) from None
    problems = []
    unknown = sorted(set(manifest.files) - set(BUNDLE_FILES) - set(OPTIONAL_BUNDLE_FILES))
    unlisted = sorted(set(BUNDLE_FILES) - set(manifest.files))
    known = ", ".join(BUNDLE_FILES + OPTIONAL_BUNDLE_FILES)
    problems += [f"{name!r}: listed, but not a file of a tace bundle (expected only {known})"
                 for name in unknown]
    problems += [f"{name}: not listed in the manifest (every weight file must be, with its sha256)"
                 for name in unlisted]
    for name, digest in manifest.files.items():
        if name in unknown:
            continue
        why = _regular_file(folder, name)
        if why:
            problems.append(why)
        elif sha256_file(folder / name) != digest:
            problems.append(f"{name}: sha256 {sha256_file(folder / name)[:12]}... differs from the manifest's "
                            f"{digest[:12]}... (altered or corrupted)")
    if problems:
        raise BundleError(f"model bundle {folder} failed its integrity check:\n  - " + "\n  - ".join(problems))
    try:
        profile = profile_from_dict(manifest.profile, f"{path} (profile)")
    except ProfileError as exc:
        raise BundleError(str(exc)) from None
    return Bundle(folder, raw, profile)


def cohort_fingerprint(rows: list[dict], files: list[Path]) -> str:
    """sha256 over the training rows (as sorted JSON) and the bytes of their image files."""
    h = hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode())
    for f in files:
        h.update(sha256_file(f).encode())
    return h.hexdigest()
