"""Image I/O through SimpleITK: NIfTI, NRRD, MHA/MHD files and DICOM series folders.

Every failure is an :class:`ImageReadError` whose message says what was found and what
was expected, so that the manifest checks can quote it next to the patient's row.
"""

from __future__ import annotations

import gzip
import zlib
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
_EXPECTED = ("a NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr) or MetaImage (.mha, .mhd) file, or a folder holding "
             "one DICOM series")


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


#: NIfTI datatype codes of floating-point voxels and their numpy kinds (NIfTI-1 standard).
_NIFTI_FLOATS = {16: "f4", 64: "f8"}


def _nifti_header(head: bytes) -> tuple[str, np.ndarray, int, int, int] | None:
    """(byte order, dims, datatype, bitpix, voxel offset) of a NIfTI-1 or -2 header, or None."""
    for order in "<>":
        size = np.frombuffer(head[:4], dtype=f"{order}i4")[0] if len(head) >= 4 else 0
        if size == 348 and len(head) >= 348:  # NIfTI-1
            dim = np.frombuffer(head[40:56], dtype=f"{order}i2").astype(np.int64)
            datatype = int(np.frombuffer(head[70:72], dtype=f"{order}i2")[0])
            bitpix = int(np.frombuffer(head[72:74], dtype=f"{order}i2")[0])
            offset = int(np.frombuffer(head[108:112], dtype=f"{order}f4")[0])
            return order, dim, datatype, bitpix, offset
        if size == 540 and len(head) >= 540:  # NIfTI-2
            dim = np.frombuffer(head[16:80], dtype=f"{order}i8")
            datatype = int(np.frombuffer(head[12:14], dtype=f"{order}i2")[0])
            bitpix = int(np.frombuffer(head[14:16], dtype=f"{order}i2")[0])
            offset = int(np.frombuffer(head[168:176], dtype=f"{order}i8")[0])
            return order, dim, datatype, bitpix, offset
    return None


def _check_nifti(path: Path) -> None:
    """Two things ITK's NIfTI reader hides: a truncated file's missing voxels are filled with
    zeros, and NaN or infinite voxels are read as 0. Read the file's own bytes (the whole
    decompressed stream for .nii.gz, which is also what exposes a damaged gzip), compare its
    length with what the header promises, and look at every floating-point voxel."""
    opener = gzip.open if _suffix(path) == ".nii.gz" else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(544)
            parsed = _nifti_header(head)
            if parsed is None:
                return  # not a NIfTI header: ITK's own error will say so
            order, dim, datatype, bitpix, offset = parsed
            ndim = int(dim[0])
            if not 1 <= ndim <= 7:
                return
            kind = _NIFTI_FLOATS.get(datatype)
            item = np.dtype(f"{order}{kind or 'u1'}")  # read only for floating-point voxels
            total, bad, pending = len(head), 0, b""
            skip = max(offset, 0)  # bytes before the first voxel
            block = head
            while block:
                if kind:
                    data = block[skip:] if skip < len(block) else b""
                    skip = max(skip - len(block), 0)
                    pending += data
                    usable = len(pending) - len(pending) % item.itemsize
                    bad += int(np.count_nonzero(~np.isfinite(np.frombuffer(pending[:usable], dtype=item))))
                    pending = pending[usable:]
                block = fh.read(1 << 22)
                total += len(block)
    except PermissionError:
        raise
    except (EOFError, OSError, zlib.error) as exc:
        raise ImageReadError(f"cannot read {path} as an image: its gzip stream is damaged or truncated "
                             f"({exc}); expected a complete .nii.gz file") from None
    expected = max(offset, 0) + int(np.prod(dim[1:ndim + 1])) * bitpix // 8
    if total < expected:
        raise ImageReadError(f"{path} is truncated: its header promises {expected} bytes of "
                             f"header and voxels, the file holds {total}; expected a complete file")
    if bad:
        raise ImageReadError(f"{path} holds {bad} NaN or infinite voxel(s) (which ITK would read as 0); "
                             "expected finite intensities")


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
    if not path.is_dir() and not path.is_file():  # a FIFO or a device: reading may never end
        raise ImageReadError(f"{path} is not a regular file (a pipe, a socket or a device?); expected {_EXPECTED}")
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
                _check_nifti(path)
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
