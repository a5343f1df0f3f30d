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


# === second round (issue 23): text, addresses, profiles, bundles and faults ===================

CANARY = "CANARY-7f3c9e41-the-secret-content"


def _payloads(secret: Path) -> list[str]:
    """The secret file named in every link and image syntax Markdown, HTML, Typst and LaTeX
    know, and the markup that would run in a browser."""
    p = str(secret)
    return [f"![n]({p})", f"[l]({p})", f"<file://{p}>", f"![r][ref]\n\n[ref]: {p}", f'<img src="{p}">',
            f'<img src="file://{p}">', "<img src=x onerror=alert('x')>", "<script>alert('s')</script>",
            f'<iframe src="{p}"></iframe>', f'<object data="{p}"></object>', f'<embed src="{p}">',
            f'<link rel="stylesheet" href="{p}">', '<a href="javascript:alert(1)">j</a>', "<svg onload=alert(1)>",
            f'#image("{p}")', f'#read("{p}")', f"\\input{{{p}}}", f"<style>@import url({p});</style>",
            f"x\n```\n![fenced]({p})\n```\n<script>alert('fence')</script>", "BEL\x07 RLO\u202e end"]


def _outputs_hold(folder: Path, needle: bytes) -> list[str]:
    """Every file under ``folder`` (each part of a DOCX or other zip, the text of a PDF) that
    holds ``needle``."""
    import zipfile

    from pypdf import PdfReader

    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if needle in data:
            found.append(str(path.relative_to(folder)))
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                found += [f"{path.name}:{n}" for n in zf.namelist() if needle in zf.read(n)]
        if path.suffix == ".pdf":
            text = "".join(page.extract_text() or "" for page in PdfReader(path).pages)
            if needle.decode() in text:
                found.append(f"{path.name} (text)")
    return found


def _live_markup(html_text: str) -> list[str]:
    """What would run or fetch in a browser: script, frames, objects, handlers, javascript: links."""
    page = BeautifulSoup(html_text, "html.parser")
    bad = [f"<{t.name}>" for t in page.find_all(["script", "iframe", "object", "embed", "link"])]
    for tag in page.find_all(True):
        bad += [f"<{tag.name} {k}>" for k in tag.attrs if k.lower().startswith("on")]
        bad += [f"<{tag.name} {k}={v}>" for k, v in tag.attrs.items()
                if k in ("href", "src", "data") and str(v).strip().lower().startswith(("javascript:", "file:", "/"))]
    return bad


def test_a_secret_named_in_every_text_field_reaches_no_output_of_any_format(trained, small_cohort, tmp_path):
    """Canary: note, site, scanner, an extra column, the bundle's profile description and
    deviations (a shared bundle's manifest.json is not hashed: anyone can edit it) name a
    secret file in every syntax; patient ids are missing-value tokens of the alphabet."""
    secret = tmp_path / "secret.txt"
    secret.write_text(CANARY)
    payloads = _payloads(secret)
    joined = " ".join(payloads)
    bundle = _copy_bundle(trained, tmp_path)

    def poison(m):
        m["profile"]["description"] = "\n".join(payloads)  # multi-line: it once closed the appendix's fence
        m["profile"]["deviations_from_paper"] = payloads
        # every free-text field of the bundle (what tace computes with, names and numbers, is validated)
        for k, (part, key) in enumerate([("fusion", "method"), ("fusion", "fitted_on"), ("thresholds", "fixed_on"),
                                         ("dcnn", "architecture"), ("imputation", "method")]):
            m[part][key] = payloads[k % len(payloads)]
        m["created_by"], m["outcome"] = payloads[4], payloads[6]
        for k, predictor in enumerate(m["development_summary"]["predictors"].values()):
            predictor["encoding"] = payloads[k % len(payloads)]

    _edit_manifest(bundle, poison)
    small_cohort.header.append("referrer")
    for r, pid in zip(small_cohort.rows, ["NA", "None", "null", "nan", "NaN"], strict=True):
        r["patient_id"], r["site"], r["scanner"], r["referrer"] = pid, joined[:190], payloads[0], payloads[5]
    small_cohort.write()
    out = tmp_path / "run"
    note = joined + " " + "x" * 5000  # past the cap: cut, marked
    run = tace("validate", "--models", str(bundle), "--cohort", str(small_cohort.manifest), "--out", str(out),
               "--jobs", "2", "--renderer", "fallback", "--format", "html,pdf,docx", "--note", note,
               cache=tmp_path / "cache")
    assert run.returncode == 0, run.stderr[-3000:]
    assert _outputs_hold(out, CANARY.encode()) == []
    for page in [out / "report.html", *sorted(out.rglob("*.html"))]:
        assert _live_markup(page.read_text(encoding="utf-8")) == [], page.name
    notebooks = [json.loads(p.read_text()) for p in sorted((out / "analysis").glob("*.ipynb"))]
    for nb in notebooks:
        for cell in nb["cells"]:
            for output in cell.get("outputs", []):
                html_out = output.get("data", {}).get("text/html")
                if html_out:
                    assert _live_markup("".join(html_out)) == []
    text = BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser").get_text()
    assert "(truncated)" in text and "[U+0007]" in text and "[U+202E]" in text and "\u202e" not in text
    assert "<script>alert('fence')</script>" in text  # shown as its characters
    outcomes = pd.read_csv(out / "outcomes.csv", keep_default_na=False)
    assert sorted(outcomes["patient_id"]) == sorted(["NA", "None", "null", "nan", "NaN"])
    assert not (out / "scores.csv").read_text().count(",,,,")  # every id scored


def test_the_report_route_shows_a_custom_profiles_text_as_text(report_run, tmp_path):
    """tace report --profile my.yaml writes the profile's description and deviations into
    the appendix by the same code: rendered in all three formats from a poisoned record."""
    from tace.report.article import write_article
    from tace.report.render import render_report

    run_dir, _, _ = report_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    secret = tmp_path / "secret.txt"
    secret.write_text(CANARY)
    record = json.loads((copy / "run.json").read_text())
    record["profile"]["description"] = "\n".join(_payloads(secret))
    record["profile"]["deviations_from_paper"] = _payloads(secret)
    record["data_source"] = _payloads(secret)[0]
    write_article(copy, record, synthetic=True)
    render_report(copy, "fallback", ("html", "pdf", "docx"))
    assert _outputs_hold(copy, CANARY.encode()) == []
    assert _live_markup((copy / "report.html").read_text(encoding="utf-8")) == []
    text = BeautifulSoup((copy / "report.html").read_text(encoding="utf-8"), "html.parser").get_text()
    assert f"![n]({secret})" in text.replace("\u200b", "")  # shown whole (a long path may break: U+200B)
    assert "<script>alert('s')</script>" in text


# --- --scheduler: checked before any work; never a hang ---------------------------------------

@pytest.mark.parametrize("address, message", [
    ("tcp://", "the port is missing or not a number"),
    ("tcp://127.0.0.1:notaport", "the port is missing or not a number"),
    ("tcp://127.0.0.1:70000", "port 70000"),
    ("inproc://", "inproc:// is not a Dask scheduler address"),
    ("http://127.0.0.1:8786", "http:// is not a Dask scheduler address"),
    ("ucx://127.0.0.1:8786", "ucx:// is not a Dask scheduler address"),
    ("tls://127.0.0.1:8786", "tls:// needs Dask's TLS settings"),
    ("tcp://127.0.0.1:8786 ; rm -rf /", "holds spaces"),
])
def test_a_malformed_scheduler_address_is_one_line_before_any_work(tmp_path, address, message):
    run = tace("synth", "--out", str(tmp_path / "twin"), "--profile", "smoke", "--scheduler", address)
    _clean_failure(run, message)
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "Drawing" not in run.stderr and not (tmp_path / "twin").exists()


def test_a_web_server_at_the_scheduler_address_is_refused_within_the_handshake_timeout(tmp_path):
    """A plain HTTP server accepts the connection and never speaks Dask: the handshake is
    bounded (tace.parallel.HANDSHAKE_TIMEOUT_S), the command ends with one line."""
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # the binary handshake it refuses is no news
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        address = f"tcp://127.0.0.1:{server.server_address[1]}"
        run = subprocess.run([TACE, "synth", "--out", str(tmp_path / "twin"), "--profile", "smoke", "--scheduler",
                              address], capture_output=True, text=True, timeout=120)  # a hang fails here
    finally:
        server.shutdown()
        server.server_close()
    _clean_failure(run, "no Dask scheduler answered", "within 10 s")
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert not (tmp_path / "twin").exists()


# --- profiles: validated whole when they load --------------------------------------------------

_BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_a_yaml_bomb_profile_is_refused_at_its_first_alias(tmp_path):
    """Time and memory of this case: benchmarks/bench_hostile.py (RESULTS.md)."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(_BOMB)
    assert len(_BOMB.encode()) < 400
    run = tace("synth", "--out", str(tmp_path / "twin"), "--profile", str(bomb))
    _clean_failure(run, "bomb.yaml: not valid YAML at line 2", "aliases are refused")
    assert len(run.stderr) < 1000 and not (tmp_path / "twin").exists()


def _profile_with(tmp_path: Path, edit, name: str = "custom") -> Path:
    """The shipped smoke profile, edited, as ``tmp_path/NAME.yaml``."""
    import yaml

    from tace.profiles import PARAMS_DIR

    data = yaml.safe_load((PARAMS_DIR / "smoke.yaml").read_text())
    edit(data)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["radiomics"].__setitem__("params", "/etc/passwd"), "radiomics.params: /etc/passwd lies outside"),
    (lambda d: d["radiomics"].__setitem__("params", "../../x.yaml"), "radiomics.params: ../../x.yaml lies outside"),
    (lambda d: d["dcnn"].__setitem__("epochs", 10**9), "dcnn.epochs: Input should be less than or equal to 1000"),
    (lambda d: d["fusion"].__setitem__("folds", 1000), "fusion.folds: Input should be less than or equal to 20"),
    (lambda d: d["radiomics"].__setitem__("icc_patients", 10_000), "radiomics.icc_patients: Input should be less"),
    (lambda d: d.__setitem__("description", "d" * 100_000), "description: String should have at most 2000"),
    (lambda d: d["dcnn"].__setitem__("pretrained", "/etc/passwd"), "dcnn.pretrained: /etc/passwd lies outside"),
])
def test_a_profile_breaking_a_bound_or_naming_a_file_outside_its_folder_is_refused(tmp_path, edit, message):
    from tace.profiles import ProfileError, load_profile

    path = _profile_with(tmp_path, edit)
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert message in str(caught.value)
    assert len(str(caught.value)) < 1000  # a 100,000-character value is quoted short


def test_a_fifty_megabyte_profile_is_refused_unread(tmp_path):
    from tace.profiles import ProfileError, load_profile

    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:
        fh.truncate(50 << 20)
    with pytest.raises(ProfileError, match=r"big.yaml: 52,428,800 bytes; expected at most 262,144"):
        load_profile(big)


def test_a_broken_radiomics_parameter_file_is_named_with_its_line_when_the_profile_loads(tmp_path, monkeypatch):
    import tace.profiles
    from tace.profiles import ProfileError, load_profile

    params = tmp_path / "params"
    (params / "radiomics").mkdir(parents=True)
    (params / "radiomics" / "broken.yaml").write_text("setting:\n  binWidth: [1,\n")
    (params / "radiomics" / "alien.yaml").write_text("setting:\n  noSuchSetting: 3\n")
    profiles = {n: _profile_with(tmp_path, lambda d, n=n: d["radiomics"].__setitem__("params", f"radiomics/{n}.yaml"),
                                 name=n) for n in ("broken", "alien")}
    monkeypatch.setattr(tace.profiles, "PARAMS_DIR", params)  # where radiomics.params must lie
    for name, message in (("broken", "broken.yaml: not valid YAML at line 3"),
                          ("alien", "alien.yaml: not valid PyRadiomics settings")):
        path = profiles[name]
        with pytest.raises(ProfileError, match="radiomics.params") as caught:
            load_profile(path)
        assert message in str(caught.value)


@pytest.mark.parametrize("kind, message", [
    ("pickle", "is not a safetensors file"),
    ("shapes", "does not hold ResNet50 weights"),
])
def test_pretrained_weights_are_read_and_shape_checked_when_the_profile_loads(tmp_path, kind, message):
    """Refused by `tace train` before any image is read (it once failed 70 s into training)."""
    import torch
    from safetensors.torch import save_file

    weights = tmp_path / "resnet50.safetensors"
    if kind == "pickle":
        torch.save({"conv1.weight": torch.zeros(2)}, weights)  # a torch pickle under a safetensors name
    else:
        save_file({"conv1.weight": torch.zeros(64, 3, 3, 3)}, str(weights))  # 3x3, not ResNet50's 7x7
    path = _profile_with(tmp_path, lambda d: d["dcnn"].__setitem__("pretrained", weights.name))
    run = tace("train", "--cohort", "nowhere.csv", "--profile", str(path), "--out", str(tmp_path / "models"))
    _clean_failure(run, "dcnn.pretrained", message)
    assert run.returncode == 2 and "Checking images" not in run.stderr


def test_pretrained_weights_of_resnet50s_shapes_are_accepted_and_named_by_their_full_path(tmp_path):
    import torch
    import torchvision
    from safetensors.torch import save_file

    from tace.profiles import load_profile

    model = torchvision.models.resnet50(weights=None)
    (tmp_path / "w").mkdir()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "w" / "r50.safetensors"))
    profile = load_profile(_profile_with(tmp_path, lambda d: d["dcnn"].__setitem__("pretrained", "w/r50.safetensors")))
    assert profile.dcnn.pretrained == str((tmp_path / "w" / "r50.safetensors").resolve())
    from tace.models.dcnn import build_resnet50

    loaded = build_resnet50(profile.dcnn.pretrained)
    assert torch.equal(loaded.conv1.weight, model.conv1.weight)


# --- bundles: every field in its range --------------------------------------------------------

@pytest.mark.parametrize("edit, message", [
    (lambda m: m["thresholds"].__setitem__("youden", {}), "no Youden threshold for clinical, radiomics, dcnn, dlr"),
    (lambda m: m["thresholds"]["youden"].__setitem__("dlr", -1), "thresholds.youden.dlr: Input should be greater"),
    (lambda m: m["thresholds"].__setitem__("dlr_survival_cutoff", 7), "dlr_survival_cutoff: Input should be less"),
    (lambda m: m["radiomics"]["selected_features"].append("../../etc/passwd"), "String should match pattern"),
    (lambda m: m["radiomics"]["robust_features"].append("<script>"), "String should match pattern"),
])
def test_a_bundle_field_out_of_its_range_is_refused_at_load(trained, tmp_path, edit, message):
    from tace.models import BundleError, read_bundle

    bundle = _copy_bundle(trained, tmp_path)
    _edit_manifest(bundle, edit)
    with pytest.raises(BundleError, match="invalid manifest") as caught:
        read_bundle(bundle)
    assert message in str(caught.value)


def test_a_manifest_nested_two_hundred_thousand_levels_is_refused_unparsed(trained, tmp_path):
    from tace.models import BundleError, read_bundle

    bundle = _copy_bundle(trained, tmp_path)
    (bundle / "manifest.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(BundleError, match="nested 200000 levels deep; expected at most 64"):
        read_bundle(bundle)


# --- faults: a killed run, two runs at once, a damaged cache, a full disk -----------------------

def _loky_workers() -> set[int]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return {int(line.split()[0]) for line in out.splitlines()[1:]
            if "loky" in line or "joblib" in line or "resource_tracker" in line}


def _start_synth(out: Path, profile: str = "default") -> subprocess.Popen:
    return subprocess.Popen([TACE, "synth", "--out", str(out), "--profile", profile, "--jobs", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for(condition, seconds: float = 120) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_after_kill_9_the_workers_end_and_the_next_run_removes_the_half_written_folder(tmp_path):
    already = _loky_workers()
    out = tmp_path / "twin"
    proc = _start_synth(out)
    assert _wait_for(lambda: _loky_workers() - already), "the twin was never drawn in worker processes"
    partial = [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    proc.kill()  # SIGKILL: no handler runs, no clean-up
    proc.wait(timeout=30)
    assert partial and all(p.exists() for p in partial)  # what a kill -9 leaves
    assert _wait_for(lambda: not (_loky_workers() - already), 30), "joblib workers outlived their killed parent"
    rerun = tace("synth", "--out", str(out), "--profile", "smoke", "--jobs", "1")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    said = " ".join(rerun.stderr.split())
    assert f"Warning: removed {partial[0]}" in said and "ended without cleaning up" in said
    _no_partials(tmp_path)


def test_a_second_run_into_a_folder_a_live_run_writes_is_refused_naming_it(tmp_path):
    out = tmp_path / "twin"
    first = _start_synth(out)
    try:
        assert _wait_for(lambda: (tmp_path / ".twin.lock").is_file() and (tmp_path / ".twin.lock").stat().st_size)
        second = tace("synth", "--out", str(out), "--profile", "smoke", "--overwrite")
        _clean_failure(second, "is being written by another tace run", f"PID {first.pid}", "tace synth")
    finally:
        first.terminate()
        first.wait(timeout=60)
    assert not (tmp_path / ".twin.lock").exists()  # let go and removed by the run that held it
    _no_partials(tmp_path)


def test_a_folder_beside_the_out_that_tace_did_not_write_is_never_removed_as_stale(tmp_path):
    from tace.io import atomic_directory

    mine = tmp_path / ".run.partial-mine"
    mine.mkdir()
    (mine / "thesis.docx").write_bytes(b"years of work")
    with atomic_directory(tmp_path / "run", marker="tace test") as tmp:
        (tmp / "a.txt").write_text("x")
    assert (mine / "thesis.docx").read_bytes() == b"years of work"


@pytest.mark.parametrize("damage", ["truncated", "altered"])
def test_a_damaged_cache_entry_is_recomputed_with_a_warning_naming_it(smoke_twin, tmp_path, damage):
    from tace.features.radiomics import CacheWarning, RadiomicsCase, extract_radiomics, load_radiomics_params
    from tace.profiles import load_profile

    params = load_radiomics_params(load_profile("smoke").radiomics.params_path)
    with (smoke_twin / "manifest.csv").open(newline="") as fh:
        row = next(csv.DictReader(fh))
    cases = [RadiomicsCase(row["patient_id"], smoke_twin / row["image"], smoke_twin / row["mask"])]
    fresh = extract_radiomics(cases, params, cache_dir=tmp_path / "cache")
    (entry,) = (tmp_path / "cache").glob("*.json")
    text = entry.read_text()
    if damage == "truncated":
        entry.write_text(text[:69])
    else:  # well-formed, one feature changed: the checksum no longer matches
        data = json.loads(text)
        name = sorted(data["values"])[0]
        data["values"][name] += 1.0
        entry.write_text(json.dumps(data))
    with pytest.warns(CacheWarning, match=f"radiomics cache entry {entry}.*patient {row['patient_id']}"):
        again = extract_radiomics(cases, params, cache_dir=tmp_path / "cache")
    pd.testing.assert_frame_equal(again, fresh)
    assert json.loads(entry.read_text()) == json.loads(text)  # rewritten whole


@pytest.fixture
def tiny_disk(tmp_path):
    """A 3 MiB tmpfs: a real file system that fills up (root and mount(8) needed, else skip)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({made.stderr.decode().strip()[:100]})")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_full_disk_is_one_line_and_leaves_nothing_half_written(tiny_disk):
    run = tace("synth", "--out", str(tiny_disk / "twin"), "--profile", "smoke", "--jobs", "1")
    _clean_failure(run, "no space left on the device")
    assert len(run.stderr.strip().splitlines()[-1]) > 0 and "Error: no space left" in run.stderr
    assert sorted(p.name for p in tiny_disk.iterdir()) == []


def test_a_full_disk_while_the_report_renders_is_one_line(report_run, tiny_disk):
    """The run's notebooks and figures fit; the three formats of the article do not."""
    from tace.report.render import RenderError, render_report

    run_dir, _, _ = report_run
    copy = tiny_disk / "run"
    copy.mkdir()
    for name in ("index.qmd", "_quarto.yml"):
        shutil.copy2(run_dir / name, copy / name)
    for folder in ("_generated", "analysis"):
        shutil.copytree(run_dir / folder, copy / folder)
    used = sum(p.stat().st_size for p in copy.rglob("*") if p.is_file())
    assert used < 3 << 20, used
    try:
        render_report(copy, "fallback", ("html", "pdf", "docx"))
    except RenderError as exc:
        message = str(exc)
    except OSError as exc:
        assert exc.errno == 28, exc  # what the command line turns into one line (tace.cli._Commands)
        message = "no space"
    else:
        pytest.fail("3 MiB held the notebooks and all three formats: the test no longer fills the disk")
    assert "no space" in message.lower() or "No space" in message
    assert not [p for p in copy.iterdir() if p.name.startswith((".report", "report"))]


# --- the data contract: which tokens are missing ----------------------------------------------

def test_ids_that_spell_missing_tokens_are_ids_and_documented_tokens_are_missing(small_cohort):
    for r, pid in zip(small_cohort.rows, ["NA", "None", "null", "nan", "NaN"], strict=True):
        r["patient_id"] = pid
    small_cohort.rows[2]["afp_ng_ml"] = "n/a"  # an external patient: a missing predictor, imputed
    small_cohort.rows[3]["site"] = "A\u202e\x07B"
    small_cohort.write()
    from tace.cohort import load_cohort

    cohort = load_cohort(small_cohort.manifest)
    assert list(cohort.table["patient_id"]) == ["NA", "None", "null", "nan", "NaN"]
    assert pd.isna(cohort.table["afp_ng_ml"].iloc[2])
    assert cohort.table["site"].iloc[3] == "A[U+202E][U+0007]B"
    assert any("row 5, column site" in w for w in cohort.warnings)
    small_cohort.rows[0]["patient_id"] = " "
    small_cohort.write()
    run = _check(small_cohort.manifest)
    _clean_failure(run, "column patient_id: missing value")
