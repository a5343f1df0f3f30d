"""The cohort data contract accepts sound cohorts and rejects each kind of malformed one
with one clear message naming the row, patient, column, the fault and what was expected."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from tace.cohort import CohortError, CohortName, load_cohort, summarize
from tests.conftest import SmallCohort, tree_digest


def _rewrite(path: Path, change) -> None:
    """Read an image, change it, and write it back in place (test data only)."""
    image = sitk.ReadImage(str(path))
    sitk.WriteImage(change(image), str(path), useCompression=True)


def _problems(manifest: Path, **kwargs) -> list:
    with pytest.raises(CohortError) as info:
        load_cohort(manifest, **kwargs)
    return info.value.problems


# --- accepted ------------------------------------------------------------------------------

def test_contract_accepts_the_smoke_twin_with_every_cohort(smoke_twin, smoke_profile):
    cohort = load_cohort(smoke_twin / "manifest.csv")
    spec = smoke_profile.synthetic
    counts = cohort.table["cohort"].value_counts().to_dict()
    assert counts == {"train": spec.n_train, "test": spec.n_test,
                      "external": spec.n_external, "followup": spec.n_followup}
    assert cohort.table["roi_voxels"].min() > 0
    # Outcome: SD/PD is non-response, the positive class; follow-up rows have no mRECIST.
    labelled = cohort.table.dropna(subset=["mrecist"])
    assert (labelled["nonresponse"] == labelled["mrecist"].isin(["SD", "PD"])).all()
    assert cohort.subset(CohortName.FOLLOWUP)["nonresponse"].isna().all()
    assert cohort.subset("followup")["os_event"].isin([0, 1]).all()
    # Paths are resolved against the manifest's folder.
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in cohort.table["image"])


def _ref_manifest(tmp_path: Path, refcases: Path, cases: list[str], labels: dict[str, int]) -> Path:
    """A manifest over the real reference images with made-up clinical values."""
    header = ("patient_id,cohort,image,mask,age,sex,bclc,tumor_number,tumor_size_cm,afp_ng_ml,"
              "child_pugh,mrecist,os_months,os_event,mask_label")
    lines = [header]
    for i, case in enumerate(cases):
        image = os.path.relpath(refcases / f"{case}_image.nrrd", tmp_path)
        mask = os.path.relpath(refcases / f"{case}_label.nrrd", tmp_path)
        mrecist = ["PR", "SD", "PD", "CR"][i % 4]
        lines.append(f"ref-{i + 1},external,{image},{mask},{50 + i},M,A,1,4.2,12.5,A,{mrecist},,,"
                     f"{labels.get(case, '')}")
    path = tmp_path / "manifest.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_contract_accepts_real_scanner_cases_and_counts_their_roi_voxels(refcases, tmp_path):
    """ROI voxel counts are those of ../shared/refdata/README.md (brain1 4137, brain2 453,
    breast1 143) and, for the phantom's label 8, its mask's own histogram (2997 voxels)."""
    manifest = _ref_manifest(tmp_path, refcases, ["brain1", "brain2", "breast1", "prostate_phantom"],
                             {"prostate_phantom": 8})
    before = tree_digest(refcases)
    cohort = load_cohort(manifest)
    assert cohort.table["roi_voxels"].tolist() == [4137, 453, 143, 2997]
    # brain1: 4137 voxels of 0.78125 x 0.78125 x 6.5 mm
    assert cohort.table["roi_volume_ml"].iloc[0] == pytest.approx(4137 * 0.78125 ** 2 * 6.5 / 1000, rel=1e-9)
    assert tree_digest(refcases) == before


def test_contract_takes_the_phantom_label_from_the_command_line_option(refcases, tmp_path):
    manifest = _ref_manifest(tmp_path, refcases, ["prostate_phantom"], {})
    cohort = load_cohort(manifest, mask_label=9)
    assert cohort.table["roi_voxels"].tolist() == [9088]


def test_contract_rejects_a_multi_label_mask_without_a_chosen_label(refcases, tmp_path):
    manifest = _ref_manifest(tmp_path, refcases, ["prostate_phantom"], {})
    (problem,) = _problems(manifest)
    assert problem.column == "mask"
    assert re.search(r"mask holds several labels \(1, 7, 8, 9\).*mask_label column or --mask-label",
                     problem.message)


# --- the corpus of malformed manifests -----------------------------------------------------

def _garbage(c: SmallCohort):
    (c.root / "images" / "garbage.nii.gz").write_bytes(b"this is not an image" * 50)
    c.rows[1]["image"] = "images/garbage.nii.gz"


def _garbage_nrrd(c: SmallCohort):
    (c.root / "images" / "garbage.nrrd").write_bytes(b"NRRD0004\nnot really\n")
    c.rows[1]["image"] = "images/garbage.nrrd"


def _truncated(c: SmallCohort):
    src = c.root / c.rows[1]["image"]
    data = src.read_bytes()
    (c.root / "images" / "truncated.nii.gz").write_bytes(data[: len(data) // 2])
    c.rows[1]["image"] = "images/truncated.nii.gz"


def _truncated_raw(c: SmallCohort):
    import gzip
    raw = gzip.decompress((c.root / c.rows[1]["image"]).read_bytes())
    (c.root / "images" / "truncated.nii").write_bytes(raw[: len(raw) - 1000])
    c.rows[1]["image"] = "images/truncated.nii"


def _spacing(c: SmallCohort):
    def change(img):
        img.SetSpacing(tuple(s * 1.1 for s in img.GetSpacing()))
        return img
    _rewrite(c.root / c.rows[0]["mask"], change)


def _origin(c: SmallCohort):
    def change(img):
        img.SetOrigin(tuple(o + 2.0 for o in img.GetOrigin()))
        return img
    _rewrite(c.root / c.rows[0]["mask"], change)


def _direction(c: SmallCohort):
    def change(img):
        img.SetDirection((-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
        return img
    _rewrite(c.root / c.rows[0]["mask"], change)


def _size(c: SmallCohort):
    _rewrite(c.root / c.rows[0]["mask"], lambda img: img[:-1, :, :])


def _empty(c: SmallCohort):
    _rewrite(c.root / c.rows[2]["mask"], lambda img: img * 0)


def _absent_label(c: SmallCohort):
    c.header.append("mask_label")
    c.rows[0]["mask_label"] = "3"


def _multi_label(c: SmallCohort):
    def change(img):
        arr = sitk.GetArrayFromImage(img)
        arr[0, 0, 0] = 2
        out = sitk.GetImageFromArray(arr)
        out.CopyInformation(img)
        return out
    _rewrite(c.root / c.rows[0]["mask"], change)


def _fractional_mask(c: SmallCohort):
    def change(img):
        out = sitk.Cast(img, sitk.sitkFloat32) * 0.5
        return out
    _rewrite(c.root / c.rows[0]["mask"], change)


def _two_d(c: SmallCohort):
    img = sitk.ReadImage(str(c.root / c.rows[0]["image"]))
    sitk.WriteImage(img[:, :, 5], str(c.root / "images" / "flat.nii.gz"))
    c.rows[0]["image"] = "images/flat.nii.gz"


def _png(c: SmallCohort):
    (c.root / "images" / "slice.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    c.rows[0]["image"] = "images/slice.png"


def _drop(column):
    def mutate(c: SmallCohort):
        c.header.remove(column)
    return mutate


def _rename(old, new):
    def mutate(c: SmallCohort):
        c.header[c.header.index(old)] = new
        for r in c.rows:
            r[new] = r.pop(old)
    return mutate


def _set(i, column, value):
    def mutate(c: SmallCohort):
        c.rows[i][column] = value
    return mutate


CORPUS = {
    # name: (mutation, row index of the patient reported or None, column, message pattern)
    "missing file": (_set(0, "image", "images/absent.nii.gz"), 0, "image",
                     r"file not found: .*absent\.nii\.gz; expected a NIfTI"),
    "unreadable file": (_garbage, 1, "image", r"cannot read .*garbage\.nii\.gz as an image"),
    "unreadable file (.nrrd)": (_garbage_nrrd, 1, "image",
                                r"cannot read .*garbage\.nrrd as an image: damaged, truncated or not "
                                r"an image \(ITK: .+\)"),
    # ITK itself reads a truncated NIfTI without complaint, zero-filling the missing voxels.
    "truncated file (.nii.gz)": (_truncated, 1, "image",
                                 r"truncated\.nii\.gz as an image: its gzip stream is damaged or truncated"),
    "truncated file (.nii)": (_truncated_raw, 1, "image",
                              r"truncated\.nii is truncated: its header promises 164192 bytes .* "
                              r"holds 163192"),
    "unsupported file type": (_png, 0, "image", r"unsupported file type '\.png'"),
    "2-D image": (_two_d, 0, "image", r"flat\.nii\.gz is 2-D; expected a 3-D volume"),
    "geometry mismatch: spacing": (_spacing, 0, "mask",
                                   r"geometry mismatch: mask spacing \(3\.3, 3\.3, 8\.8\) mm differs "
                                   r"from the image's \(3, 3, 8\) mm"),
    "geometry mismatch: origin": (_origin, 0, "mask", r"geometry mismatch: mask origin .* differs"),
    "geometry mismatch: direction": (_direction, 0, "mask", r"geometry mismatch: mask direction"),
    "geometry mismatch: size": (_size, 0, "mask",
                                r"geometry mismatch: mask size \(63, 64, 20\) differs from the "
                                r"image's \(64, 64, 20\)"),
    "empty mask": (_empty, 2, "mask", r"mask is empty \(no voxel is non-zero\)"),
    "absent label": (_absent_label, 0, "mask", r"label 3 is absent from the mask .*labels present: 1$"),
    "several labels, none chosen": (_multi_label, 0, "mask", r"mask holds several labels \(1, 2\)"),
    "non-integer mask": (_fractional_mask, 0, "mask", r"holds non-integer values \(e\.g\. 0\.5\)"),
    "directory where a file is expected": (_set(2, "mask", "masks"), 2, "mask",
                                           r"masks is a directory, not an image file"),
    "duplicate patient_id": (lambda c: c.rows[1].update(patient_id=c.rows[0]["patient_id"]), 1,
                             "patient_id", r"duplicate patient_id 'twin-\d+' \(also on row 2\)"),
    "duplicate image": (lambda c: c.rows[1].update(image=c.rows[0]["image"]), 1, "image",
                        r"duplicate image file .* \(also on row 2\)"),
    "duplicate image, spelt differently": (lambda c: c.rows[1].update(image="./" + c.rows[0]["image"]),
                                           1, "image", r"duplicate image file .* \(also on row 2\)"),
    "unknown category (BCLC C)": (_set(0, "bclc", "C"), 0, "bclc",
                                  r"unknown category 'C'; expected one of A, B"),
    "unknown category (sex)": (_set(2, "sex", "male"), 2, "sex", r"unknown category 'male'; expected one of M, F"),
    "NaN in a required column": (_set(2, "image", "NaN"), 2, "image",
                                 r"missing value \('NaN'\); expected the HBP image"),
    "blank in a required column": (_set(2, "mask", ""), 2, "mask",
                                   r"^missing value; expected the tumour mask"),
    "not a number": (_set(0, "afp_ng_ml", "high"), 0, "afp_ng_ml",
                     r"invalid value 'high' \(input should be a valid number"),
    "fractional tumour number": (_set(0, "tumor_number", "1.5"), 0, "tumor_number",
                                 r"invalid value '1\.5'.*expected a whole number >= 1"),
    "mRECIST missing outside follow-up": (_set(1, "mrecist", ""), 1, "mrecist",
                                          r"missing value \(required in the train cohort\)"),
    "negative survival time": (_set(3, "os_months", "-1.5"), 3, "os_months",
                               r"invalid value '-1\.5' .*; expected overall survival time in months, a number >= 0"),
    "survival missing in follow-up": (_set(4, "os_months", ""), 4, "os_months",
                                      r"missing value \(required in the followup cohort\)"),
    "event not 0/1": (_set(4, "os_event", "2"), 4, "os_event",
                      r"invalid value 2 .*; expected 1 \(death observed\) or 0 \(censored\)"),
    "event as text": (_set(3, "os_event", "dead"), 3, "os_event", r"invalid value 'dead'"),
    "patient name as patient_id": (_set(0, "patient_id", "Jane Doe"), 0, "patient_id",
                                   r"invalid value 'Jane Doe' .*pseudonymous code"),
    "unknown cohort": (_set(0, "cohort", "validation"), 0, "cohort", r"unknown category 'validation'"),
    "missing required column": (_drop("afp_ng_ml"), None, "afp_ng_ml",
                                r"required column is missing; expected a header named 'afp_ng_ml'"),
    "misspelt column": (_rename("tumor_size_cm", "tumour_size_cm"), None, "tumor_size_cm",
                        r"required column is missing \(found 'tumour_size_cm': a misspelling\?\)"),
    "internal mixed with train": (_set(2, "cohort", "internal"), None, "cohort",
                                  r"mixes 'internal' with 'train'/'test'"),
}


@pytest.mark.parametrize("case", list(CORPUS), ids=list(CORPUS))
def test_contract_rejects_malformed_manifest_with_one_clear_message(small_cohort, case):
    mutate, row_index, column, pattern = CORPUS[case]
    expected_pid = None if row_index is None else small_cohort.rows[row_index]["patient_id"]
    mutate(small_cohort)
    if row_index is not None:
        expected_pid = small_cohort.rows[row_index]["patient_id"]
    manifest = small_cohort.write()
    before = tree_digest(small_cohort.root)
    problems = _problems(manifest)
    assert len(problems) == 1, "\n".join(map(str, problems))
    (problem,) = problems
    assert problem.column == column
    assert problem.patient_id == expected_pid
    if row_index is not None:
        assert problem.row == row_index + 2  # spreadsheet rows: header is row 1
    assert re.search(pattern, problem.message), problem.message
    assert tree_digest(small_cohort.root) == before


def test_contract_reports_every_problem_at_once(small_cohort):
    for name in ("missing file", "unknown category (BCLC C)", "duplicate patient_id", "empty mask",
                 "negative survival time", "event not 0/1", "misspelt column"):
        CORPUS[name][0](small_cohort)
    problems = _problems(small_cohort.write())
    assert len(problems) == 7, "\n".join(map(str, problems))
    assert {(p.row, p.column) for p in problems} == {
        (1, "tumor_size_cm"), (2, "image"), (2, "bclc"), (3, "patient_id"), (4, "mask"),
        (5, "os_months"), (6, "os_event")}
    assert [p.row for p in problems] == sorted(p.row for p in problems)


@pytest.mark.parametrize(("content", "pattern"), [
    (b"", r"the file is empty"),
    (b"patient_id,cohort\n", r"no patient rows"),
    (b"\xff\xfe\x00garbage", r"not UTF-8 text"),
])
def test_contract_rejects_a_manifest_file_that_is_not_a_cohort(tmp_path, content, pattern):
    path = tmp_path / "manifest.csv"
    path.write_bytes(content)
    problems = _problems(path)
    assert any(re.search(pattern, p.message) for p in problems), problems


def test_contract_rejects_a_row_with_the_wrong_number_of_fields(small_cohort):
    text = small_cohort.manifest.read_text().splitlines()
    text[2] += ",extra"
    small_cohort.manifest.write_text("\n".join(text) + "\n")
    (problem,) = _problems(small_cohort.manifest)
    assert problem.row == 3
    assert re.search(r"17 fields, but the header has 16", problem.message)


def test_contract_rejects_a_missing_manifest_and_a_directory(tmp_path):
    (p1,) = _problems(tmp_path / "nope.csv")
    assert "file not found" in p1.message
    (p2,) = _problems(tmp_path)
    assert "is a directory; expected a CSV file" in p2.message


def test_contract_accepts_spreadsheet_spellings_of_numbers_and_missing_values(small_cohort):
    small_cohort.rows[0]["tumor_number"] = "1.0"
    small_cohort.rows[3]["os_event"] = "1.0"
    small_cohort.rows[3]["mrecist"] = "NA"
    cohort = load_cohort(small_cohort.write())
    assert cohort.table["tumor_number"].iloc[0] == 1
    assert cohort.table["os_event"].iloc[3] == 1


def test_contract_keeps_extra_columns_as_text(small_cohort):
    small_cohort.header.append("albumin_g_l")
    for r in small_cohort.rows:
        r["albumin_g_l"] = "38"
    cohort = load_cohort(small_cohort.write())
    assert cohort.table["albumin_g_l"].tolist() == ["38"] * len(small_cohort.rows)


def test_geometry_tolerance_absorbs_header_rounding_but_not_a_shift(small_cohort):
    mask = small_cohort.root / small_cohort.rows[0]["mask"]

    def shift(mm):
        def change(img):
            img.SetOrigin(tuple(o + mm for o in img.GetOrigin()))
            return img
        return change

    _rewrite(mask, shift(1e-5))  # float32 rounding of a NIfTI header is about this size
    load_cohort(small_cohort.manifest)
    _rewrite(mask, shift(0.01))  # 1/300 of a 3 mm voxel: beyond the 1e-4 tolerance
    (problem,) = _problems(small_cohort.manifest)
    assert "geometry mismatch: mask origin" in problem.message


def test_summary_counts_patients_outcomes_and_missing_values(smoke_twin, smoke_profile):
    cohort = load_cohort(smoke_twin / "manifest.csv")
    summary = summarize(cohort.table)
    by = summary.by_cohort.set_index("cohort")
    assert by.loc["train", "patients"] == smoke_profile.synthetic.n_train
    train = cohort.subset("train")
    assert by.loc["train", "nonresponders"] == int(train["mrecist"].isin(["SD", "PD"]).sum())
    follow = cohort.subset("followup")
    assert by.loc["followup", "deaths"] == int(follow["os_event"].sum())
    assert by.loc["followup", "median_os_months"] == pytest.approx(float(np.median(follow["os_months"])))
    missing = summary.missing.set_index("column")
    n_follow = smoke_profile.synthetic.n_followup
    assert missing.loc["mrecist", "missing"] == n_follow
    assert missing.loc["mrecist", "missing_where_required"] == 0  # follow-up needs no mRECIST
    assert missing.loc["mrecist", "missing_where_optional"] == n_follow
    assert missing.loc["os_months", "missing_where_optional"] == len(cohort) - n_follow
    assert missing.loc["age", "missing"] == 0
    assert missing.loc["site", "missing_where_optional"] == 0


def test_a_missing_predictor_is_accepted_counted_and_announced_but_training_patients_are_named(small_cohort):
    """A validation patient may lack a predictor (it is imputed); the check says so and names
    the training patients who lack one, since the models cannot be developed on them."""
    from tace.models.train import training_table

    small_cohort.rows[2]["afp_ng_ml"] = ""  # the external patient
    small_cohort.rows[3]["tumor_size_cm"] = "NA"  # a follow-up patient
    small_cohort.rows[0]["sex"] = ""  # a training patient
    cohort = load_cohort(small_cohort.write())
    assert cohort.table["afp_ng_ml"].isna().sum() == 1 and cohort.table["sex"].isna().sum() == 1
    text = " ".join(cohort.warnings)
    assert "3 of 5 patients miss at least one clinical predictor (sex 1, tumor_size_cm 1, afp_ng_ml 1)" in text
    assert f"1 train or internal patient(s) miss a predictor: {small_cohort.rows[0]['patient_id']} (sex)" in text
    missing = summarize(cohort.table).missing.set_index("column")
    assert missing.loc["sex", ["missing_where_required", "missing_where_optional"]].tolist() == [1, 0]
    assert missing.loc["afp_ng_ml", ["missing_where_required", "missing_where_optional"]].tolist() == [0, 1]
    with pytest.raises(ValueError, match=rf"1 training patient\(s\) miss a clinical predictor "
                                         rf"\({small_cohort.rows[0]['patient_id']}: sex\)"):
        training_table(cohort, seed=1)
