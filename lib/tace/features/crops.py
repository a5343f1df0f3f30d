"""2.5D tumour crops for the CNN: three neighbouring slices as the three channels.

For each patient the ``slices`` axial slices with the largest tumour area are taken; slice
k gives the channels (k-1, k, k+1) (edges repeat the border slice). Every crop of a patient
shares one square in-plane window: the tumour's bounding box over all slices, widened by
``margin_mm`` on each side so that the margin and the peritumoural liver are in view, then
resized to ``size`` x ``size``.

Intensities are referenced to the patient's own liver: 0 at the volume's 1st percentile (air
and background, whatever the scanner's offset) and 1 at the liver parenchyma around the
tumour (the 75th percentile of the voxels 10-20 mm outside the mask: the brightest tissue
there is the functioning liver, and the peritumoural rim, a trait the network must see, lies
nearer). In HBP images the tumour is read against the liver; so referenced, a scanner with
another gain, offset or smooth bias field gives the same tumour-to-liver contrast. (The first
version scaled the volume's 1st-99th percentile range to [0, 1]. Trained once each on the
default twin, the DCNN's Spearman correlation with the planted imaging signal was 0.51 in test
and 0.21 in external with it, 0.61 and 0.35 with this: issue 11.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from joblib import delayed
from scipy import ndimage

from ..cohort import read_image, tumour_mask
from ..parallel import parallel_map

__all__ = ["CROP_NORMALISATION", "LIVER_SHELL_MM", "CropSpec", "make_crops", "normalise_to_liver",
           "largest_slice_crops", "patient_crop_regions", "patient_crops"]


@dataclass(frozen=True)
class CropSpec:
    """How crops are made: output ``size`` (pixels), ``slices`` per patient, ``margin_mm``."""

    size: int = 64
    slices: int = 3
    margin_mm: float = 15.0


#: How crops are normalised: written to a bundle's manifest and checked when it is applied.
CROP_NORMALISATION = "per patient: 1st percentile of the volume = 0, liver 10-20 mm around the tumour = 1"
#: The shell around the tumour (mm outside the mask) whose bright voxels are the reference liver.
LIVER_SHELL_MM = (10.0, 20.0)


def normalise_to_liver(volume: np.ndarray, tumour: np.ndarray, spacing_zyx: tuple[float, ...]) -> np.ndarray:
    """``volume`` scaled so that its 1st percentile is 0 and the liver around ``tumour`` is 1
    (see the module's docstring); the volume's 1st-99th percentile range when the shell is
    empty or no brighter than the background."""
    lo = float(np.percentile(volume, 1.0))
    dist = ndimage.distance_transform_edt(~tumour, sampling=spacing_zyx)
    shell = (dist > LIVER_SHELL_MM[0]) & (dist <= LIVER_SHELL_MM[1])
    ref = float(np.percentile(volume[shell], 75.0)) if shell.any() else lo
    if ref <= lo:
        ref = float(np.percentile(volume, 99.0))
    scale = ref - lo if ref > lo else 1.0
    return ((volume - lo) / scale).astype(np.float32)


def _window(tum: np.ndarray, spacing_xy: tuple[float, float], spec: CropSpec
            ) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The slices a patient's crops come from (largest tumour area first) and the in-plane
    sampling grid (rows, columns) of their shared square window."""
    area = tum.reshape(tum.shape[0], -1).sum(axis=1)
    ranked = np.argsort(-area, kind="stable")
    chosen = [int(k) for k in ranked[:spec.slices] if area[k] > 0]
    while len(chosen) < spec.slices:  # thin tumours: repeat the largest slice
        chosen.append(chosen[len(chosen) % max(len(chosen), 1)])
    ys, xs = np.nonzero(tum.any(axis=0))
    sx, sy = spacing_xy
    half = max((ys.max() - ys.min() + 1) * sy, (xs.max() - xs.min() + 1) * sx) / 2 + spec.margin_mm
    cy, cx = (ys.min() + ys.max()) / 2, (xs.min() + xs.max()) / 2
    # a square window of side 2 * half mm on the output grid
    grid = (np.arange(spec.size) + 0.5) / spec.size * 2 - 1
    rr, cc = np.meshgrid(cy + grid * half / sy, cx + grid * half / sx, indexing="ij")
    return chosen, rr, cc


def patient_crops(image: sitk.Image, mask: sitk.Image, spec: CropSpec,
                  label: int | None = None) -> np.ndarray:
    """Crops of one patient: float32 array (spec.slices, 3, size, size)."""
    tum = sitk.GetArrayFromImage(tumour_mask(mask, label)).astype(bool)
    if not tum.any():
        raise ValueError("the tumour mask is empty")
    vol = normalise_to_liver(sitk.GetArrayFromImage(image).astype(np.float32), tum,
                             tuple(float(s) for s in reversed(image.GetSpacing())))
    chosen, rr, cc = _window(tum, image.GetSpacing()[:2], spec)
    out = np.empty((spec.slices, 3, spec.size, spec.size), dtype=np.float32)
    nz = vol.shape[0]
    for i, k in enumerate(chosen):
        for c, dk in enumerate((-1, 0, 1)):  # bilinear, edges repeated
            plane = vol[min(max(k + dk, 0), nz - 1)]
            out[i, c] = ndimage.map_coordinates(plane, [rr, cc], order=1, mode="nearest")
    return out


def patient_crop_regions(image: sitk.Image, mask: sitk.Image, spec: CropSpec, label: int | None = None, *,
                         rim_mm: float = 10.0) -> np.ndarray:
    """Where the tumour and its rim lie in each of a patient's crops: bool array
    (spec.slices, size, size), True within ``rim_mm`` of the tumour (in its slice's plane,
    the tumour included), on the same grid as :func:`patient_crops`'s centre channel."""
    tum = sitk.GetArrayFromImage(tumour_mask(mask, label)).astype(bool)
    if not tum.any():
        raise ValueError("the tumour mask is empty")
    chosen, rr, cc = _window(tum, image.GetSpacing()[:2], spec)
    sx, sy = image.GetSpacing()[:2]
    out = np.empty((spec.slices, spec.size, spec.size), dtype=bool)
    for i, k in enumerate(chosen):
        dist = ndimage.distance_transform_edt(~tum[k], sampling=(sy, sx))
        out[i] = ndimage.map_coordinates(dist, [rr, cc], order=1, mode="nearest") <= rim_mm
    return out


def _crops_from_paths(image, mask, spec: CropSpec, label) -> np.ndarray:
    return patient_crops(read_image(image), read_image(mask), spec, label)


def make_crops(images: list, masks: list, spec: CropSpec, labels: list | None = None, *,
               n_jobs: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Crops of many patients from image and mask paths, one task per patient
    (:func:`tace.parallel.parallel_map`: ``n_jobs`` local processes, or the Dask cluster).

    Returns
    -------
    crops : float32 array (n_patients * spec.slices, 3, size, size)
    owner : int array, the patient index of each crop
    """
    labels = labels or [None] * len(images)
    crops = list(parallel_map((delayed(_crops_from_paths)(i, m, spec, lab)
                               for i, m, lab in zip(images, masks, labels, strict=True)), n_jobs))
    owner = np.repeat(np.arange(len(crops)), spec.slices)
    return np.concatenate(crops) if crops else np.empty((0, 3, spec.size, spec.size), np.float32), owner


def largest_slice_crops(images: list, masks: list, spec: CropSpec, labels: list | None = None, *,
                        rim_mm: float = 10.0, n_jobs: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Each patient's crop of its largest tumour slice (N, 3, size, size) and, on the same
    grid, where the tumour and a ``rim_mm`` rim lie in it (N, size, size, bool): what a
    Grad-CAM map is measured against."""
    from ..cohort import read_image

    labels = labels or [None] * len(images)
    crops, owner = make_crops(images, masks, spec, labels, n_jobs=n_jobs)
    first = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    regions = np.stack([patient_crop_regions(read_image(i), read_image(m), spec, lab, rim_mm=rim_mm)[0]
                        for i, m, lab in zip(images, masks, labels, strict=True)])
    return crops[first], regions
