"""Image I/O reads every supported format, DICOM series included, to the same voxels and
geometry, and refuses what it cannot read with a message that says what was expected."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from tace.cohort import Geometry, GeometryTolerance, ImageReadError, read_image
from tace.cohort.imageio import geometry_differences


def write_dicom_series(image: sitk.Image, folder: Path,
                       series_uid: str = "1.2.826.0.1.3680043.2.1125.1.20260428") -> None:
    """Write a 16-bit volume as an MR DICOM series, one file per slice (SimpleITK/GDCM)."""
    folder.mkdir(parents=True)
    image = sitk.Cast(image, sitk.sitkInt16)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    direction = image.GetDirection()
    orientation = "\\".join(map(str, (direction[0], direction[3], direction[6],
                                      direction[1], direction[4], direction[7])))
    for k in range(image.GetDepth()):
        slice_k = image[:, :, k]
        tags = {
            "0008|0060": "MR",
            "0008|0016": "1.2.840.10008.5.1.4.1.1.4",
            "0008|0018": f"{series_uid}.{k + 1}",
            "0020|000d": series_uid + ".0",
            "0020|000e": series_uid,
            "0020|0037": orientation,
            "0020|0032": "\\".join(map(str, image.TransformIndexToPhysicalPoint((0, 0, k)))),
            "0020|0013": str(k + 1),
            "0018|0050": str(image.GetSpacing()[2]),
        }
        for tag, value in tags.items():
            slice_k.SetMetaData(tag, value)
        writer.SetFileName(str(folder / f"slice{k:03d}.dcm"))
        writer.Execute(slice_k)


@pytest.fixture
def volume(smoke_twin) -> sitk.Image:
    return sitk.ReadImage(str(next((smoke_twin / "images").glob("*.nii.gz"))))


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz", ".nrrd", ".mha", ".mhd"])
def test_read_image_round_trips_each_file_format(volume, tmp_path, suffix):
    path = tmp_path / f"image{suffix}"
    sitk.WriteImage(volume, str(path))
    back = read_image(path)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(volume))
    assert not geometry_differences(Geometry.of(volume), Geometry.of(back))


def test_read_image_reads_a_dicom_series_folder_with_its_geometry(volume, tmp_path):
    volume.SetOrigin((-95.5, -80.25, -60.0))
    write_dicom_series(volume, tmp_path / "series")
    back = read_image(tmp_path / "series")
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(volume))
    assert back.GetSize() == volume.GetSize()
    np.testing.assert_allclose(back.GetSpacing(), volume.GetSpacing(), rtol=1e-6)
    np.testing.assert_allclose(back.GetOrigin(), volume.GetOrigin(), atol=1e-4)


def test_read_image_refuses_a_folder_with_two_dicom_series(volume, tmp_path):
    write_dicom_series(volume, tmp_path / "a", series_uid="1.2.826.0.1.3680043.2.1125.1.1")
    write_dicom_series(volume, tmp_path / "b", series_uid="1.2.826.0.1.3680043.2.1125.1.2")
    for f in (tmp_path / "b").iterdir():
        f.rename(tmp_path / "a" / f"b_{f.name}")
    with pytest.raises(ImageReadError, match=r"holds 2 DICOM series; expected a folder holding exactly one"):
        read_image(tmp_path / "a")


def test_read_image_refuses_a_single_dicom_file(volume, tmp_path):
    write_dicom_series(volume, tmp_path / "series")
    with pytest.raises(ImageReadError, match=r"a single DICOM file; expected the folder of its DICOM series"):
        read_image(tmp_path / "series" / "slice000.dcm")


def test_read_image_refuses_a_colour_image(tmp_path):
    rgb = sitk.Image([8, 8, 4], sitk.sitkVectorUInt8, 3)
    sitk.WriteImage(rgb, str(tmp_path / "rgb.nrrd"))
    with pytest.raises(ImageReadError, match=r"3 components per voxel .*expected a scalar"):
        read_image(tmp_path / "rgb.nrrd")


def test_geometry_differences_name_each_attribute_that_differs():
    image = Geometry((10, 10, 5), (1.0, 1.0, 3.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    assert geometry_differences(image, image) == []
    moved = Geometry((10, 10, 5), (1.0, 1.0, 3.0), (0.0, 0.5, 0.0), (1, 0, 0, 0, -1, 0, 0, 0, 1))
    diffs = geometry_differences(image, moved)
    assert len(diffs) == 2
    assert re.match(r"origin \(0, 0\.5, 0\) mm differs from the image's \(0, 0, 0\) mm", diffs[0])
    assert diffs[1].startswith("direction (1, 0, 0, 0, -1, 0, 0, 0, 1) differs")
    # the tolerance scales with the smallest voxel spacing (1 mm here)
    tiny = Geometry((10, 10, 5), (1.0, 1.0, 3.0), (0.0, 5e-5, 0.0), image.direction)
    assert geometry_differences(image, tiny) == []
    assert geometry_differences(image, tiny, GeometryTolerance(coordinate=1e-5)) != []
