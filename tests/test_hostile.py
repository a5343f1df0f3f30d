"""Hostile and careless input, as a user or an attacker would give it: every case ends with
one clear error that names what is wrong, a non-zero exit, inputs byte-identical and no
half-written output; never a hang, never a traceback, never a deleted folder."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from bs4 import BeautifulSoup

from tests.conftest import tree_digest
from tests.test_cli import TACE, tace


def _no_partials(*folders: Path) -> None:
    for folder in folders:
        left = [p.name for p in Path(folder).iterdir() if ".partial-" in p.name or ".old-" in p.name]
        assert not left, f"half-written folders left in {folder}: {left}"


def _clean_failure(run: subprocess.CompletedProcess, *needles: str) -> None:
    assert run.returncode != 0, run.stdout[-2000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    for needle in needles:
        assert needle in run.stderr, (needle, run.stderr[-3000:])


# --- --out never deletes what tace did not write --------------------------------------------

def test_validate_refuses_a_users_non_empty_folder_as_out_and_leaves_it_alone(trained, small_cohort, tmp_path):
    _, result = trained
    mine = tmp_path / "my-thesis"
    mine.mkdir()
    (mine / "chapter1.docx").write_bytes(b"years of work")
    before = tree_digest(mine)
    run = tace("validate", "--models", str(result.bundle), "--cohort", str(small_cohort.manifest), "--out", str(mine))
    _clean_failure(run, "tace did not write")
    assert tree_digest(mine) == before
    _no_partials(tmp_path)


@pytest.mark.parametrize("target", ["cohort", "bundle", "cohort_parent"])
def test_validate_refuses_an_out_that_overlaps_the_cohort_or_the_bundle(trained, small_cohort, tmp_path, target):
    _, result = trained
    bundle = tmp_path / "bundle"
    shutil.copytree(result.bundle, bundle)
    out = {"cohort": small_cohort.root, "bundle": bundle, "cohort_parent": small_cohort.root.parent}[target]
    before = {"cohort": tree_digest(small_cohort.root), "bundle": tree_digest(bundle)}
    run = tace("validate", "--models", str(bundle), "--cohort", str(small_cohort.manifest), "--out", str(out))
    _clean_failure(run, "--out")
    assert {"cohort": tree_digest(small_cohort.root), "bundle": tree_digest(bundle)} == before
    _no_partials(tmp_path, small_cohort.root)


@pytest.mark.parametrize("out", ["/", "."])
def test_train_refuses_the_root_or_a_non_empty_working_folder_before_any_work(small_cohort, out):
    before = tree_digest(small_cohort.root)
    run = tace("train", "--cohort", "manifest.csv", "--profile", "smoke", "--out", out, cwd=small_cohort.root)
    _clean_failure(run, "--out")
    assert "Checking images" not in run.stderr and "Training on" not in run.stderr  # refused before any work
    assert tree_digest(small_cohort.root) == before
    _no_partials(small_cohort.root, small_cohort.root.parent)


def test_a_previous_tace_folder_is_replaced_and_another_folder_is_not(tmp_path):
    from tace.io import OutFolderError, atomic_directory

    with atomic_directory(tmp_path / "run", marker="tace test") as tmp:
        (tmp / "a.txt").write_text("first")
    with atomic_directory(tmp_path / "run", overwrite=True, marker="tace test") as tmp:
        (tmp / "b.txt").write_text("second")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [".tace-run", "b.txt"]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "data.csv").write_text("x")
    with pytest.raises(OutFolderError, match="tace did not write"), \
            atomic_directory(tmp_path / "mine", overwrite=True, marker="tace test"):
        pass
    assert (tmp_path / "mine" / "data.csv").read_text() == "x"
    _no_partials(tmp_path)


@pytest.mark.parametrize("option, value, message", [
    ("--jobs", "0", "expected -1 (all cores) or a positive number"),
    ("--jobs", "two", "is not a whole number"),
    ("--device", "tpu:7", "is not a torch device"),
    ("--device", "cuda:3", "CUDA device"),
])
def test_bad_jobs_or_device_is_refused_before_any_work(small_cohort, tmp_path, option, value, message):
    if value == "cuda:3":
        import torch

        if torch.cuda.device_count() > 3:
            pytest.skip("this machine has a cuda:3")
    run = tace("train", "--cohort", str(small_cohort.manifest), "--out", str(tmp_path / "models"), option, value)
    assert run.returncode == 2 and message in run.stderr, run.stderr[-2000:]
    assert not (tmp_path / "models").exists()


def test_sigterm_leaves_no_partial_folder_and_no_worker_processes(smoke_twin, tmp_path):
    def workers() -> set[int]:
        out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
        return {int(line.split()[0]) for line in out.splitlines()[1:] if "loky" in line or "joblib" in line}

    already = workers()
    proc = subprocess.Popen([TACE, "train", "--cohort", str(smoke_twin / "manifest.csv"), "--profile", "smoke",
                             "--out", str(tmp_path / "models"), "--jobs", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, TACE_CACHE=str(tmp_path / "cache")))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (workers() - already):
        time.sleep(0.5)  # until the radiomics workers run
    assert workers() - already, "the training never started its workers"
    proc.send_signal(signal.SIGTERM)
    stderr = proc.communicate(timeout=60)[1]
    assert proc.returncode != 0 and "Traceback" not in stderr, stderr[-2000:]
    assert not (tmp_path / "models").exists()
    _no_partials(tmp_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and workers() - already:
        time.sleep(0.5)
    assert not workers() - already, "joblib workers outlived the run"


# --- the bundle: only its listed regular files, every one hashed -----------------------------

def _copy_bundle(trained, tmp_path) -> Path:
    _, result = trained
    bundle = tmp_path / "bundle"
    shutil.copytree(result.bundle, bundle)
    return bundle


def _edit_manifest(bundle: Path, edit) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    edit(manifest)
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def _rehash(bundle: Path, name: str) -> None:
    from tace.io import sha256_file

    _edit_manifest(bundle, lambda m: m["files"].__setitem__(name, sha256_file(bundle / name)))


def _predict(bundle: Path, small_cohort, tmp_path) -> subprocess.CompletedProcess:
    return tace("predict", "--models", str(bundle), "--cohort", str(small_cohort.manifest), "--out",
                str(tmp_path / "scores.csv"), "--jobs", "1", cache=tmp_path / "cache")


def test_a_weight_file_dropped_from_the_manifest_and_altered_is_refused(trained, small_cohort, tmp_path):
    bundle = _copy_bundle(trained, tmp_path)
    _edit_manifest(bundle, lambda m: m["files"].pop("dcnn.safetensors"))
    with (bundle / "dcnn.safetensors").open("r+b") as fh:
        fh.seek(-64, os.SEEK_END)
        fh.write(b"\x7f" * 64)
    run = _predict(bundle, small_cohort, tmp_path)
    _clean_failure(run, "dcnn.safetensors: not listed in the manifest")
    assert not (tmp_path / "scores.csv").exists()


@pytest.mark.parametrize("name", ["../../../etc/passwd", "/etc/passwd", "sub/clinical.json"])
def test_a_manifest_entry_outside_the_bundle_is_refused(trained, small_cohort, tmp_path, name):
    from tace.io import sha256_file

    bundle = _copy_bundle(trained, tmp_path)
    _edit_manifest(bundle, lambda m: m["files"].__setitem__(name, sha256_file("/etc/passwd")
                                                             if Path("/etc/passwd").is_file() else "0" * 64))
    run = _predict(bundle, small_cohort, tmp_path)
    _clean_failure(run, "not a file of a tace bundle")


@pytest.mark.parametrize("target", ["copy", "dev_zero"])
def test_a_symbolic_link_in_the_bundle_is_refused(trained, small_cohort, tmp_path, target):
    bundle = _copy_bundle(trained, tmp_path)
    real = tmp_path / "elsewhere.safetensors"
    shutil.move(bundle / "dcnn.safetensors", real)
    os.symlink(real if target == "copy" else "/dev/zero", bundle / "dcnn.safetensors")
    run = _predict(bundle, small_cohort, tmp_path)  # a link to /dev/zero is never read (no hang)
    _clean_failure(run, "dcnn.safetensors: is a symbolic link")


@pytest.mark.parametrize("content, needle", [
    (b"\x80\x04\x95" + b"\x00" * 64 + b".", "dcnn.safetensors cannot be loaded"),  # a pickle
    (None, "dcnn.safetensors cannot be loaded"),  # truncated to half
])
def test_a_weight_file_that_is_not_what_its_name_says_is_a_clear_error(trained, small_cohort, tmp_path, content,
                                                                        needle):
    bundle = _copy_bundle(trained, tmp_path)
    path = bundle / "dcnn.safetensors"
    data = path.read_bytes()
    path.write_bytes(content if content is not None else data[: len(data) // 2])
    _rehash(bundle, "dcnn.safetensors")  # a hash that matches: the loader itself must refuse it
    run = _predict(bundle, small_cohort, tmp_path)
    _clean_failure(run, needle)


@pytest.mark.parametrize("field, message", [("profile", "profile: Field required"),
                                            ("thresholds", "thresholds: Field required")])
def test_a_manifest_without_its_fields_is_a_clear_error(trained, small_cohort, tmp_path, field, message):
    bundle = _copy_bundle(trained, tmp_path)
    _edit_manifest(bundle, lambda m: m.pop(field))
    run = _predict(bundle, small_cohort, tmp_path)
    _clean_failure(run, message)


# --- text from the manifest or the command line never runs in the reader's browser ---------

def test_manifest_text_and_note_are_shown_not_run_and_csv_cells_cannot_start_a_formula(trained, small_cohort,
                                                                                       tmp_path):
    _, result = trained
    for r in small_cohort.rows:
        r["site"] = "<script>alert('site')</script>"
        r["scanner"] = "=HYPERLINK(\"http://x\",\"y\")"
    small_cohort.write()
    note = "<img src=x onerror=alert('note')> outcomes are made up"
    out = tmp_path / "run"
    run = tace("validate", "--models", str(result.bundle), "--cohort", str(small_cohort.manifest), "--out", str(out),
               "--jobs", "2", "--renderer", "fallback", "--note", note, cache=tmp_path / "cache")
    assert run.returncode == 0, run.stderr[-3000:]
    page = BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser")
    assert not [s for s in page.find_all("script") if "alert" in s.get_text()]
    assert not page.find_all(attrs={"onerror": True})
    assert "<img src=x onerror=alert('note')>" in page.get_text()  # shown as text
    for path in [out / "outcomes.csv", *sorted((out / "figures").glob("*.csv"))]:
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                bad = [c for c in row if c.startswith(("=", "+", "@")) or (c.startswith("-") and not _number(c))]
                assert not bad, (path.name, bad)
    outcomes = pd.read_csv(out / "outcomes.csv")
    assert set(outcomes["scanner"]) == {"'=HYPERLINK(\"http://x\",\"y\")"}


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- images and manifests that are not what they claim ----------------------------------------

def _check(manifest: Path, *extra: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return tace("check-cohort", str(manifest), *extra, cwd=cwd)


@pytest.mark.parametrize("what", ["image", "manifest"])
def test_a_fifo_as_image_or_manifest_is_refused_without_hanging(small_cohort, what):
    fifo = small_cohort.root / "pipe.nii.gz"
    os.mkfifo(fifo)
    if what == "image":
        small_cohort.rows[0]["image"] = "pipe.nii.gz"
        manifest = small_cohort.write()
    else:
        manifest = small_cohort.root / "pipe.csv"
        os.mkfifo(manifest)
    run = _check(manifest)  # tace() gives up after 900 s; the check answers in seconds
    _clean_failure(run, "not a regular file")


def test_dev_zero_as_the_manifest_is_refused_without_reading_it():
    run = _check(Path("/dev/zero"))
    _clean_failure(run, "not a regular file")


def test_nan_and_infinite_voxels_in_a_nifti_are_refused_with_the_patient(small_cohort):
    row = small_cohort.rows[1]
    image = sitk.ReadImage(str(small_cohort.root / row["image"]))
    arr = sitk.GetArrayFromImage(image).astype(np.float32)
    arr[arr.shape[0] // 2, 10, 10] = np.nan
    arr[arr.shape[0] // 2, 11, 10] = np.inf
    out = sitk.GetImageFromArray(arr)
    out.CopyInformation(image)
    sitk.WriteImage(out, str(small_cohort.root / row["image"]))
    assert not np.isnan(sitk.GetArrayFromImage(sitk.ReadImage(str(small_cohort.root / row["image"])))).any()  # ITK: 0
    run = _check(small_cohort.manifest)
    _clean_failure(run, f"patient_id {row['patient_id']}, column image", "holds 2 NaN or infinite voxel(s)")


def test_a_one_voxel_volume_is_refused_by_the_check(small_cohort):
    row = small_cohort.rows[0]
    one = sitk.Image([1, 1, 1], sitk.sitkInt16)
    mask = sitk.Image([1, 1, 1], sitk.sitkUInt8)
    mask[0, 0, 0] = 1
    sitk.WriteImage(one, str(small_cohort.root / row["image"]))
    sitk.WriteImage(mask, str(small_cohort.root / row["mask"]))
    run = _check(small_cohort.manifest)
    _clean_failure(run, f"patient_id {row['patient_id']}, column mask", "1 x 1 x 1 voxels", "expected at least")


def test_a_semicolon_separated_manifest_gets_one_clear_error(small_cohort):
    text = small_cohort.manifest.read_text().replace(",", ";")
    small_cohort.manifest.write_text(text)
    run = _check(small_cohort.manifest)
    _clean_failure(run, "1 problem", "separated by ';'", "comma-separated")


def test_a_manifest_without_patient_id_names_the_column(small_cohort):
    small_cohort.header.remove("patient_id")
    small_cohort.write()
    run = _check(small_cohort.manifest)
    _clean_failure(run, "column patient_id: required column is missing")


def test_ten_thousand_rows_of_nonsense_give_a_short_report(tmp_path):
    """Time and memory of this case: benchmarks/bench_hostile.py (RESULTS.md)."""
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["patient_id", "cohort", "image", "mask", "age", "sex", "bclc", "tumor_number",
                         "tumor_size_cm", "afp_ng_ml", "child_pugh", "mrecist"])
        for _ in range(10_000):
            writer.writerow(["same", "nowhere", "img.nii", "msk.nii", "old", "X", "Z", "many", "big", "-1", "D", "?"])
    before = tree_digest(tmp_path)
    run = _check(manifest, "--jobs", "2")
    _clean_failure(run, "problems", "more problems in column patient_id")
    assert len(run.stderr) < 200_000, len(run.stderr)  # 50 problems a column, then a count
    assert run.stderr.count("\n  - ") <= 50 * 13
    assert tree_digest(tmp_path) == before


def test_ids_shaped_like_names_or_record_numbers_and_a_shared_image_are_flagged(small_cohort):
    small_cohort.rows[0]["patient_id"] = "Smith.John"
    small_cohort.rows[1]["patient_id"] = "MRN-19600101-4711"
    small_cohort.write()
    run = _check(small_cohort.manifest)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Warning" in run.stderr and "'Smith.John' (row 2)" in run.stderr and "MRN-19600101-4711" in run.stderr
    # the same image file under another spelling is the same image
    small_cohort.rows[2]["image"] = str((small_cohort.root / small_cohort.rows[0]["image"]).resolve())
    small_cohort.write()
    run = _check(small_cohort.manifest)
    _clean_failure(run, "duplicate image file")
