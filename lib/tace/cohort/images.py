"""Checks of one patient's image and tumour mask: readable, on the same grid, non-empty."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .imageio import Geometry, GeometryTolerance, ImageReadError, geometry_differences, read_image

__all__ = ["MIN_ROI_VOXELS", "MIN_SIZE", "PairCheck", "check_image_pair", "tumour_mask"]

#: The smallest volume (x, y, slices) and tumour (voxels) the models can use: the crops take
#: three adjacent slices, and PyRadiomics cannot describe a region of a few voxels.
MIN_SIZE = (8, 8, 3)
MIN_ROI_VOXELS = 8


@dataclass(frozen=True)
class PairCheck:
    """Outcome of :func:`check_image_pair`: problems by column, and ROI facts when sound."""

    problems: tuple[tuple[str, str], ...] = ()
    roi_voxels: int | None = None
    roi_volume_ml: float | None = None
    labels: tuple[int, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems


def _mask_labels(mask: sitk.Image) -> tuple[np.ndarray, np.ndarray]:
    arr = sitk.GetArrayViewFromImage(mask)
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)):
            raise ValueError("holds NaN or infinite values; expected integer labels")
        frac = arr[arr != np.round(arr)]
        if frac.size:
            raise ValueError(f"holds non-integer values (e.g. {float(frac.flat[0]):g}); "
                             "expected integer labels (0 = background)")
    labels, counts = np.unique(arr, return_counts=True)
    return labels.astype(np.int64), counts


def tumour_mask(mask: sitk.Image, label: int | None = None) -> sitk.Image:
    """Binary (uint8) tumour mask: voxels equal to ``label``, or all non-zero voxels."""
    arr = sitk.GetArrayViewFromImage(mask)
    binary = (arr == label) if label is not None else (arr != 0)
    out = sitk.GetImageFromArray(binary.astype(np.uint8))
    out.CopyInformation(mask)
    return out


def _tumour_voxels(labels: np.ndarray, present: dict[int, int], label: int | None,
                   mask_path: Path) -> tuple[int | None, str | None]:
    """The tumour's voxel count, or what is wrong with the mask's labels."""
    if (labels < 0).any():
        return None, f"{mask_path} holds negative labels; expected 0 (background) and labels >= 1"
    if not present:
        return None, f"mask is empty (no voxel is non-zero) in {mask_path}; expected a tumour segmentation"
    listed = ", ".join(map(str, sorted(present)))
    if label is not None:
        if label not in present:
            return None, f"label {label} is absent from the mask {mask_path}; labels present: {listed}"
        return present[label], None
    if len(present) > 1:
        return None, (f"mask holds several labels ({listed}) in {mask_path}; expected one, or choose the "
                      "tumour's label with the mask_label column or --mask-label")
    return next(iter(present.values())), None


def check_image_pair(image_path: Path, mask_path: Path, *, label: int | None = None,
                     tolerance: GeometryTolerance = GeometryTolerance()) -> PairCheck:
    """Check that a patient's image and mask can be used together.

    Checks, in order: both read as 3-D scalar volumes; the image holds only finite
    values; the mask holds integer labels; the mask lies on the image's voxel grid
    (:class:`GeometryTolerance`); the tumour is not empty; a chosen ``label`` is present;
    without a chosen label, the mask holds a single non-zero label.

    Returns
    -------
    PairCheck
        ``problems`` pairs a column (``image`` or ``mask``) with what is wrong.
    """
    problems: list[tuple[str, str]] = []
    image = mask = None
    try:
        image = read_image(image_path)
    except ImageReadError as exc:
        problems.append(("image", str(exc)))
    try:
        mask = read_image(mask_path)
    except ImageReadError as exc:
        problems.append(("mask", str(exc)))

    if image is not None:
        arr = sitk.GetArrayViewFromImage(image)
        if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
            problems.append(("image", f"{image_path} holds NaN or infinite values; expected finite intensities"))
    if mask is None:
        return PairCheck(tuple(problems))

    try:
        labels, counts = _mask_labels(mask)
    except ValueError as exc:
        problems.append(("mask", f"{mask_path} {exc}"))
        return PairCheck(tuple(problems))
    if image is not None:
        for diff in geometry_differences(Geometry.of(image), Geometry.of(mask), tolerance):
            problems.append(("mask", f"geometry mismatch: mask {diff} ({mask_path})"))

    present = {int(lab): int(n) for lab, n in zip(labels, counts, strict=True) if lab != 0}
    roi, problem = _tumour_voxels(labels, present, label, mask_path)
    if problem:
        problems.append(("mask", problem))

    size = tuple(mask.GetSize())
    if any(n < m for n, m in zip(size, MIN_SIZE, strict=True)):
        problems.append(("mask", f"the volume is {' x '.join(map(str, size))} voxels ({mask_path}); expected at "
                                 f"least {' x '.join(map(str, MIN_SIZE))} (x, y, slices): an MRI volume"))
    elif roi is not None and roi < MIN_ROI_VOXELS:
        problems.append(("mask", f"the tumour holds {roi} voxel(s) in {mask_path}; expected at least "
                                 f"{MIN_ROI_VOXELS} (radiomics and crops need a region, not a point)"))
    if problems or roi is None:
        return PairCheck(tuple(problems), labels=tuple(sorted(present)))
    voxel_ml = float(np.prod(mask.GetSpacing())) / 1000.0
    return PairCheck((), roi, roi * voxel_ml, tuple(sorted(present)))
