"""2.5D tumour crops for the CNN: three neighbouring slices as the three channels.

For each patient the ``slices`` axial slices with the largest tumour area are taken; slice
k gives the channels (k-1, k, k+1) (edges repeat the border slice). Every crop of a patient
shares one square in-plane window: the tumour's bounding box over all slices, widened by
``margin_mm`` on each side so that the margin and the peritumoural liver are in view, then
resized to ``size`` x ``size``. Intensities are scaled per patient to the 1st-99th
percentile range of the volume, so that scanners with other intensity scales meet the
network on the same footing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..cohort import read_image, tumour_mask

__all__ = ["CropSpec", "make_crops", "patient_crops"]


@dataclass(frozen=True)
class CropSpec:
    """How crops are made: output ``size`` (pixels), ``slices`` per patient, ``margin_mm``."""

    size: int = 64
    slices: int = 3
    margin_mm: float = 15.0


def _normalise(volume: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(volume, [1.0, 99.0])
    scale = hi - lo if hi > lo else 1.0
    return ((volume - lo) / scale).astype(np.float32)


def patient_crops(image: sitk.Image, mask: sitk.Image, spec: CropSpec,
                  label: int | None = None) -> np.ndarray:
    """Crops of one patient: float32 array (spec.slices, 3, size, size)."""
    vol = _normalise(sitk.GetArrayFromImage(image).astype(np.float32))
    tum = sitk.GetArrayFromImage(tumour_mask(mask, label)).astype(bool)
    if not tum.any():
        raise ValueError("the tumour mask is empty")
    area = tum.reshape(tum.shape[0], -1).sum(axis=1)
    ranked = np.argsort(-area, kind="stable")
    chosen = [int(k) for k in ranked[:spec.slices] if area[k] > 0]
    while len(chosen) < spec.slices:  # thin tumours: repeat the largest slice
        chosen.append(chosen[len(chosen) % max(len(chosen), 1)])
    ys, xs = np.nonzero(tum.any(axis=0))
    sx, sy = image.GetSpacing()[:2]
    half = max((ys.max() - ys.min() + 1) * sy, (xs.max() - xs.min() + 1) * sx) / 2 + spec.margin_mm
    cy, cx = (ys.min() + ys.max()) / 2, (xs.min() + xs.max()) / 2
    # sample a square window of side 2 * half mm on the output grid, bilinear, edges repeated
    grid = (np.arange(spec.size) + 0.5) / spec.size * 2 - 1
    rows = cy + grid * half / sy
    cols = cx + grid * half / sx
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    out = np.empty((spec.slices, 3, spec.size, spec.size), dtype=np.float32)
    nz = vol.shape[0]
    for i, k in enumerate(chosen):
        for c, dk in enumerate((-1, 0, 1)):
            plane = vol[min(max(k + dk, 0), nz - 1)]
            out[i, c] = ndimage.map_coordinates(plane, [rr, cc], order=1, mode="nearest")
    return out


def make_crops(images: list, masks: list, spec: CropSpec, labels: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Crops of many patients from image and mask paths.

    Returns
    -------
    crops : float32 array (n_patients * spec.slices, 3, size, size)
    owner : int array, the patient index of each crop
    """
    labels = labels or [None] * len(images)
    crops = [patient_crops(read_image(i), read_image(m), spec, lab)
             for i, m, lab in zip(images, masks, labels, strict=True)]
    owner = np.repeat(np.arange(len(crops)), spec.slices)
    return np.concatenate(crops) if crops else np.empty((0, 3, spec.size, spec.size), np.float32), owner
