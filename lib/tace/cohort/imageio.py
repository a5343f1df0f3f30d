"""Image I/O through SimpleITK: NIfTI, NRRD, MHA/MHD files and DICOM series folders.

Every failure is an :class:`ImageReadError` whose message says what was found and what
was expected, so that the manifest checks can quote it next to the patient's row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gzip
import zlib

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


def _nifti_payload(path: Path) -> tuple[bytes, int]:
    """The header bytes of a NIfTI file and its data length: the whole decompressed stream
    for .nii.gz (decompressing it all is what exposes a truncated gzip), else the size."""
    if _suffix(path) == ".nii.gz":
        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(544)
                total = len(head)
                while block := fh.read(1 << 20):
                    total += len(block)
        except (EOFError, OSError, zlib.error) as exc:
            raise ImageReadError(f"cannot read {path} as an image: its gzip stream is damaged or truncated "
                                 f"({exc}); expected a complete .nii.gz file") from None
        return head, total
    with path.open("rb") as fh:
        head = fh.read(544)
    return head, path.stat().st_size


def _check_nifti_complete(path: Path) -> None:
    """ITK's NIfTI reader fills a truncated file's missing voxels with zeros, silently.
    Compare the file's length with what its header promises (NIfTI-1 and NIfTI-2)."""
    head, length = _nifti_payload(path)
    for order in "<>":
        size = np.frombuffer(head[:4], dtype=f"{order}i4")[0] if len(head) >= 4 else 0
        if size == 348 and len(head) >= 348:  # NIfTI-1
            dim = np.frombuffer(head[40:56], dtype=f"{order}i2").astype(np.int64)
            bitpix = int(np.frombuffer(head[72:74], dtype=f"{order}i2")[0])
            offset = int(np.frombuffer(head[108:112], dtype=f"{order}f4")[0])
            break
        if size == 540 and len(head) >= 540:  # NIfTI-2
            dim = np.frombuffer(head[16:80], dtype=f"{order}i8")
            bitpix = int(np.frombuffer(head[14:16], dtype=f"{order}i2")[0])
            offset = int(np.frombuffer(head[168:176], dtype=f"{order}i8")[0])
            break
    else:
        return  # not a NIfTI header: ITK's own error will say so
    ndim = int(dim[0])
    if not 1 <= ndim <= 7:
        return
    expected = max(offset, 0) + int(np.prod(dim[1:ndim + 1])) * bitpix // 8
    if length < expected:
        raise ImageReadError(f"{path} is truncated: its header promises {expected} bytes of "
                             f"header and voxels, the file holds {length}; expected a complete file")


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
            if suffix in (".nii", ".nii.gz"):
                _check_nifti_complete(path)
            image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise ImageReadError(f"cannot read {path} as an image: damaged, truncated or not an "
                             f"image (ITK: {_itk_reason(exc)}); expected {_EXPECTED}") from None
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
