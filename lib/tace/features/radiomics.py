"""Radiomics features with PyRadiomics: parallel over patients, cached by content hash.

The extraction settings come from a PyRadiomics parameter file (YAML) in
``analysis/params/``. The tumour mask is binarised by the cohort contract's rules (a chosen
label, or any non-zero voxel) and handed to PyRadiomics as label 1, on the image's grid
(the contract has already checked that the two agree within tolerance).

For the robustness filter, a case can be extracted with its mask eroded or dilated by one
voxel (a 3x3x3 ball), the perturbations of Zwanenburg et al. (2019). A tumour too small or too
thin to survive that erosion with at least ``MIN_ROI_VOXELS`` voxels (a small lobulated lesion
on thick slices) is eroded in-plane only, and left as it is if even that leaves too little: its
features are then the same under that perturbation, so it counts as perfectly reproducible.

Each result is cached as JSON under ``cache_dir/<sha256>.json``, the hash covering the
image's and mask's bytes, the settings, the label, the perturbation, the PyRadiomics version
and the entry format; a second run reads instead of computing. Each entry carries the sha256
of its features: an entry that is unreadable (a truncated write from another tool, a full
disk) or altered is computed afresh and rewritten, with a :class:`CacheWarning` naming it.

References
----------
van Griethuysen JJM, Fedorov A, Parmar C, et al. Computational radiomics system to decode
the radiographic phenotype. Cancer Res 2017;77:e104-7.

Zwanenburg A, Leger S, Agolli L, et al. Assessing robustness of radiomic features by image
perturbation. Sci Rep 2019;9:614.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import SimpleITK as sitk
from joblib import delayed

from ..cohort import read_image, tumour_mask
from ..cohort.images import MIN_ROI_VOXELS
from ..io import atomic_write_text
from ..parallel import parallel_map

__all__ = ["CACHE_FORMAT", "CacheWarning", "RadiomicsCase", "check_radiomics_params", "default_cache_dir",
           "extract_radiomics", "load_radiomics_params"]

Perturbation = Literal["original", "erode", "dilate"]


@dataclass(frozen=True)
class RadiomicsCase:
    """One extraction: a patient's image and mask, the tumour label, and a mask perturbation."""

    patient_id: str
    image: Path
    mask: Path
    label: int | None = None
    perturbation: Perturbation = "original"


def default_cache_dir() -> Path:
    """``$TACE_CACHE`` or ``$XDG_CACHE_HOME/tace`` or ``~/.cache/tace``, plus ``/radiomics``."""
    root = os.environ.get("TACE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "tace")
    return Path(root) / "radiomics"


def load_radiomics_params(path: Path | str) -> dict:
    """Read a PyRadiomics parameter file (YAML without aliases, at most
    :data:`tace.profiles.MAX_PROFILE_BYTES`) and check it with PyRadiomics' own schema."""
    from ..io.limits import LimitError, load_yaml
    from ..profiles import MAX_PROFILE_BYTES

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"radiomics parameter file not found: {path}")
    try:
        params = load_yaml(path, MAX_PROFILE_BYTES, "PyRadiomics parameter file")
        check_radiomics_params(params)
    except (LimitError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    return params


def check_radiomics_params(params: object) -> None:
    """Raise ValueError unless ``params`` are settings PyRadiomics accepts (its own schema)."""
    if not isinstance(params, dict):
        raise ValueError(f"not valid PyRadiomics settings (a {type(params).__name__}, expected a mapping)")
    try:
        _extractor(params)
    except (ValueError, TypeError, KeyError, RuntimeError, AttributeError) as exc:  # pykwalify's: RuntimeError
        raise ValueError(f"not valid PyRadiomics settings ({str(exc)[:300]})") from None


def _extractor(params: dict):
    """A PyRadiomics extractor; pykwalify's deprecated module loading stays quiet."""
    from radiomics import featureextractor

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="the load_module", category=DeprecationWarning)
        return featureextractor.RadiomicsFeatureExtractor(_settings(params))


def _settings(params: dict) -> dict:
    """The parameters with the label fixed to 1 (masks are binarised before extraction)."""
    params = json.loads(json.dumps(params))
    params.setdefault("setting", {})
    params["setting"]["label"] = 1
    return params


def _case_key(case: RadiomicsCase, params: dict) -> str:
    import radiomics

    h = hashlib.sha256()
    for path in (case.image, case.mask):
        if Path(path).is_dir():  # a DICOM series: hash its files in order
            for f in sorted(Path(path).iterdir()):
                h.update(f.read_bytes())
        else:
            h.update(Path(path).read_bytes())
    h.update(json.dumps([_settings(params), case.label, case.perturbation, radiomics.__version__, CACHE_FORMAT],
                        sort_keys=True).encode())
    return h.hexdigest()


def _perturbed_mask(image: sitk.Image, mask: sitk.Image, label: int | None,
                    perturbation: Perturbation) -> sitk.Image:
    binary = tumour_mask(mask, label)
    binary.CopyInformation(image)  # the contract checked the geometry; align exactly
    if perturbation == "erode":
        for radius in ([1, 1, 1], [1, 1, 0]):
            eroded = sitk.BinaryErode(binary, radius, sitk.sitkBall, 0, 1)
            if int(np.count_nonzero(sitk.GetArrayViewFromImage(eroded))) >= MIN_ROI_VOXELS:
                binary = eroded
                break
    elif perturbation == "dilate":
        binary = sitk.BinaryDilate(binary, [1, 1, 1], sitk.sitkBall, 0, 1)
    if not np.any(sitk.GetArrayViewFromImage(binary)):
        raise ValueError(f"the {perturbation} mask is empty")
    return binary


#: The format of a cache entry; part of every key, so an entry of another format is never read.
CACHE_FORMAT = "tace-radiomics-cache/2"


class CacheWarning(UserWarning):
    """A radiomics cache entry was damaged or altered, and its features were computed afresh."""


def _values_digest(values: dict[str, float]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def _read_entry(path: Path) -> tuple[dict[str, float] | None, str | None]:
    """A cache entry's features, or None and why it cannot be used: unreadable, not JSON of
    the entry's shape, or features that do not match the checksum written with them."""
    try:
        entry = json.loads(path.read_bytes())
        values, digest = entry["values"], entry["sha256"]
        if entry.get("format") != CACHE_FORMAT or not isinstance(values, dict):
            return None, f"not an entry of the format {CACHE_FORMAT}"
        if _values_digest(values) != digest:
            return None, "its features do not match their checksum (altered)"
        return {str(k): float(v) for k, v in values.items()}, None
    except (OSError, ValueError, KeyError, TypeError) as exc:  # JSONDecodeError is a ValueError
        return None, f"unreadable ({str(exc)[:120]})"


def _extract_one(case: RadiomicsCase, params: dict, cache_dir: Path | None) -> tuple[dict[str, float], str | None]:
    """The case's features, and what was wrong with its cache entry (None when nothing was)."""
    key = _case_key(case, params) if cache_dir is not None else None
    problem = None
    if key is not None:
        cached = cache_dir / f"{key}.json"
        if cached.is_file():
            values, why = _read_entry(cached)
            if values is not None:
                return values, None
            problem = f"radiomics cache entry {cached} (patient {case.patient_id}, {case.perturbation} mask): {why}; " \
                      "recomputed and rewritten"
    return _compute(case, params, cache_dir, key), problem


def _compute(case: RadiomicsCase, params: dict, cache_dir: Path | None, key: str | None) -> dict[str, float]:
    import radiomics

    radiomics.setVerbosity(logging.ERROR)
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    image = read_image(case.image)
    try:
        mask = _perturbed_mask(image, read_image(case.mask), case.label, case.perturbation)
    except ValueError:
        if case.perturbation == "original":
            raise ValueError(f"patient {case.patient_id}: the tumour mask is empty") from None
        return {}  # erosion removed a tiny tumour: this patient drops out of the ICC only
    extractor = _extractor(params)
    try:
        raw = extractor.execute(image, mask, label=1)
    except (ValueError, RuntimeError, AssertionError, ArithmeticError, IndexError) as exc:  # PyRadiomics' failures
        raise ValueError(f"patient {case.patient_id} ({case.perturbation} mask): PyRadiomics "
                         f"failed: {exc}") from None
    values = {k: float(v) for k, v in raw.items() if not k.startswith("diagnostics_")}
    if key is not None and cache_dir is not None:
        entry = {"format": CACHE_FORMAT, "sha256": _values_digest(values), "values": values}
        atomic_write_text(cache_dir / f"{key}.json", json.dumps(entry, sort_keys=True))
    return values


def extract_radiomics(cases: list[RadiomicsCase], params: dict, *, cache_dir: Path | None = None,
                      n_jobs: int = 1, progress: bool = False) -> pd.DataFrame:
    """Extract PyRadiomics features for each case.

    Parameters
    ----------
    cases
        The extractions to run.
    params
        PyRadiomics parameters (:func:`load_radiomics_params`).
    cache_dir
        Folder of cached results; None to compute everything afresh.
    n_jobs
        Parallel worker processes (-1 for all usable cores); on a Dask cluster inside
        :func:`tace.parallel.work_on`, every worker.
    progress
        Show a progress bar.

    Returns
    -------
    pandas.DataFrame
        One row per case, indexed by (patient_id, perturbation), in the order of ``cases``;
        one column per feature (``<image type>_<class>_<feature>``), sorted by name.
    """
    if cache_dir is not None:
        cache_dir = Path(cache_dir)
        cache_dir.mkdir(parents=True, exist_ok=True)
    jobs = (delayed(_extract_one)(case, params, cache_dir) for case in cases)
    results = parallel_map(jobs, n_jobs)
    if progress:
        from rich.progress import track
        results = track(results, total=len(cases), description="Radiomics features")
    index = pd.MultiIndex.from_tuples([(c.patient_id, c.perturbation) for c in cases],
                                      names=["patient_id", "perturbation"])
    # Each case's features become a row of floats as they arrive (8 bytes a feature, not a
    # dict of Python floats: memory stays small for thousands of patients). One column order,
    # sorted, whether a value was computed or read from the cache (the greedy correlation
    # filter downstream depends on it); a feature some case lacks is NaN for it.
    names: list[str] = []
    rows: list[np.ndarray] = []
    damaged: list[str] = []
    for values, problem in results:
        if problem:
            damaged.append(problem)
        if not names:
            names = sorted(values)
        elif not values.keys() <= set(names):  # a feature the cases before lack: widen their rows
            wider = sorted(set(names) | values.keys())
            at = [wider.index(n) for n in names]
            for k, row in enumerate(rows):
                rows[k] = np.full(len(wider), np.nan)
                rows[k][at] = row
            names = wider
        rows.append(np.fromiter((values.get(n, np.nan) for n in names), dtype=np.float64, count=len(names)))
    for problem in damaged:  # said here, in the calling process: a worker's warnings would be lost
        warnings.warn(CacheWarning(problem), stacklevel=2)
    return pd.DataFrame(np.vstack(rows) if rows else np.empty((len(cases), 0)), index=index, columns=names)
