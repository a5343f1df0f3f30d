"""Image I/O through SimpleITK: NIfTI, NRRD, MHA/MHD files and DICOM series folders.

Every failure is an :class:`ImageReadError` whose message says what was found and what
was expected, so that the manifest checks can quote it next to the patient's row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Geometry",
    "GeometryTolerance",
    "ImageReadError",
    "geometry_differences",
    "read_image",
]

#: File name endings read as image files; a folder is read as one DICOM series.
SUPPORTED_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")
_EXPECTED = "a NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr) or MetaImage (.mha, .mhd) file, or a folder holding one DICOM series"


class ImageReadError(ValueError):
    """An image path that cannot be read as a 3-D scalar volume."""


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def _itk_reason(exc: RuntimeError) -> str:
    """The informative line of an ITK exception (they run to many lines)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for ln in lines:
        if "description:" in ln.lower():
            return ln.split(":", 1)[1].strip()
    return lines[-1] if lines else "unknown error"


def _read_dicom_series(folder: Path) -> sitk.Image:
    # GDCM warns on stderr when a folder holds no series; the error below says it better.
    shown = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        series = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(shown)
    if not series:
        raise ImageReadError(
            f"{folder} is a directory, not an image file, and holds no DICOM series; "
            f"expected {_EXPECTED}")
    if len(series) > 1:
        raise ImageReadError(
            f"{folder} holds {len(series)} DICOM series; expected a folder holding exactly one")
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series[0]))
    return reader.Execute()


def read_image(path: Path | str) -> sitk.Image:
    """Read a 3-D scalar image from a file or a DICOM series folder.

    Parameters
    ----------
    path
        A NIfTI, NRRD or MetaImage file, or a folder that holds exactly one DICOM series.

    Returns
    -------
    SimpleITK.Image

    Raises
    ------
    ImageReadError
        When the path is missing, of an unsupported kind, unreadable, not 3-D or not scalar.
    """
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"file not found: {path}; expected {_EXPECTED}")
    try:
        if path.is_dir():
            image = _read_dicom_series(path)
        else:
            suffix = _suffix(path)
            if suffix == ".dcm":
                raise ImageReadError(
                    f"{path} is a single DICOM file; expected the folder of its DICOM series")
            if suffix not in SUPPORTED_SUFFIXES:
                raise ImageReadError(f"unsupported file type {suffix or '(none)'!r} for {path}; "
                                     f"expected {_EXPECTED}")
            image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise ImageReadError(f"cannot read {path} as an image ({_itk_reason(exc)}); "
                             f"expected {_EXPECTED}") from None
    except PermissionError:
        raise ImageReadError(f"no permission to read {path}") from None
    if image.GetDimension() != 3:
        raise ImageReadError(f"{path} is {image.GetDimension()}-D; expected a 3-D volume")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ImageReadError(f"{path} has {image.GetNumberOfComponentsPerPixel()} components per "
                             "voxel (colour or vector image); expected a scalar (grey-level) volume")
    return image


@dataclass(frozen=True)
class Geometry:
    """Where a volume lies in patient space (LPS, millimetres)."""

    size: tuple[int, ...]
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    direction: tuple[float, ...]

    @classmethod
    def of(cls, image: sitk.Image) -> Geometry:
        return cls(tuple(image.GetSize()), tuple(image.GetSpacing()),
                   tuple(image.GetOrigin()), tuple(image.GetDirection()))


@dataclass(frozen=True)
class GeometryTolerance:
    """How far a mask's geometry may stray from its image's.

    Spacing and origin may differ by ``coordinate`` times the image's smallest voxel
    spacing, each direction cosine by ``direction``; sizes must match exactly. The
    defaults absorb the float32 rounding of NIfTI headers (about 1e-5 mm) and nothing a
    resampling or a mis-registration would produce (ITK's own default is 1e-6 for both).
    """

    coordinate: float = 1e-4
    direction: float = 1e-4


def _fmt(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in values) + ")"


def geometry_differences(image: Geometry, mask: Geometry,
                         tolerance: GeometryTolerance = GeometryTolerance()) -> list[str]:
    """Describe each way in which ``mask`` does not lie on ``image``'s voxel grid.

    Returns an empty list when the two agree within ``tolerance``.
    """
    out = []
    if image.size != mask.size:
        return [f"size {mask.size} differs from the image's {image.size}"]
    coord_tol = tolerance.coordinate * min(image.spacing)
    for name in ("spacing", "origin"):
        a, b = np.asarray(getattr(image, name)), np.asarray(getattr(mask, name))
        if np.max(np.abs(a - b)) > coord_tol:
            out.append(f"{name} {_fmt(tuple(b))} mm differs from the image's {_fmt(tuple(a))} mm")
    a, b = np.asarray(image.direction), np.asarray(mask.direction)
    if np.max(np.abs(a - b)) > tolerance.direction:
        out.append(f"direction {_fmt(tuple(b))} differs from the image's {_fmt(tuple(a))}")
    return out
