"""The command line, run as a user runs it: real processes, exit codes, messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import tree_digest

TACE = str(Path(sys.executable).with_name("tace"))


def tace(*args: str, cwd: Path | None = None, cache: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, TACE_CACHE=str(cache)) if cache else None
    return subprocess.run([TACE, *args], capture_output=True, text=True, encoding="utf-8", cwd=cwd,
                          timeout=900, env=env)


def test_synth_then_check_cohort_exits_zero(tmp_path):
    out = tmp_path / "t"
    made = tace("synth", "--out", str(out), "--profile", "smoke", "--jobs", "1")
    assert made.returncode == 0, made.stderr
    assert "synthetic data" in made.stdout
    checked = tace("check-cohort", str(out / "manifest.csv"))
    assert checked.returncode == 0, checked.stderr
    assert "satisfies the data contract" in checked.stdout
    assert "train" in checked.stdout and "followup" in checked.stdout


def test_check_cohort_lists_every_error_with_its_patient_and_exits_one(small_cohort):
    small_cohort.rows[0]["bclc"] = "C"
    small_cohort.rows[2]["age"] = "130"  # out of range (a blank age is a missing predictor: imputed)
    small_cohort.rows[4]["os_event"] = "2"
    small_cohort.rows[1]["mask"] = "masks/absent.nii.gz"
    small_cohort.write()
    before = tree_digest(small_cohort.root)
    result = tace("check-cohort", str(small_cohort.manifest))
    assert result.returncode == 1
    assert "4 problems" in result.stderr
    for i, column in ((0, "bclc"), (1, "mask"), (2, "age"), (4, "os_event")):
        pid = small_cohort.rows[i]["patient_id"]
        assert f"row {i + 2}, patient_id {pid}, column {column}:" in result.stderr
    assert "Traceback" not in result.stderr
    assert tree_digest(small_cohort.root) == before  # inputs never modified


def test_check_cohort_on_a_missing_manifest_exits_one(tmp_path):
    result = tace("check-cohort", str(tmp_path / "none.csv"))
    assert result.returncode == 1
    assert "file not found" in result.stderr


def test_synth_refuses_to_overwrite_a_folder_and_leaves_it_alone(tmp_path):
    out = tmp_path / "t"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = tace("synth", "--out", str(out), "--profile", "smoke")
    assert result.returncode == 2
    assert "non-empty folder that tace did not write" in result.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    result = tace("synth", "--out", str(out), "--profile", "smoke", "--overwrite")  # not even with --overwrite
    assert result.returncode == 2 and "tace did not write" in result.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_synth_rejects_an_unknown_profile(tmp_path):
    result = tace("synth", "--out", str(tmp_path / "t"), "--profile", "huge")
    assert result.returncode == 2
    assert "unknown profile 'huge'" in result.stderr
    assert not (tmp_path / "t").exists()


def test_report_on_a_users_cohort_reads_it_without_copying_or_changing_it(user_cohort_run, smoke_twin):
    out, result, before = user_cohort_run
    assert result.returncode == 0, result.stderr
    record = json.loads((out / "run.json").read_text())
    assert record["data_source"] == "user cohort"
    assert not (out / "cohort").exists()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "SYNTHETIC DATA" not in page and "user cohort" in page
    # the twin's truth section: one sentence on why a user's cohort has none
    assert "no one knows a real patient's true probability of non-response" in page.replace("&#x27;", "'")
    assert not (out / "figures" / "tab-truth-recovery.csv").exists()
    assert tree_digest(smoke_twin) == before


def test_report_on_a_cohort_too_small_to_train_on_says_why(small_cohort, tmp_path):
    result = tace("report", "--profile", "smoke", "--cohort", str(small_cohort.manifest),
                  "--out", str(tmp_path / "run"), "--jobs", "1", cache=tmp_path / "cache")
    assert result.returncode == 1
    assert "the cohort has 2 training patients; expected at least 10" in result.stderr
    assert not (tmp_path / "run").exists()


def test_report_on_a_broken_cohort_exits_one_and_writes_no_run_folder(small_cohort, tmp_path):
    small_cohort.rows[2]["bclc"] = "C"
    small_cohort.write()
    out = tmp_path / "run"
    result = tace("report", "--profile", "smoke", "--cohort", str(small_cohort.manifest),
                  "--out", str(out), "--jobs", "1")
    assert result.returncode == 1
    assert f"patient_id {small_cohort.rows[2]['patient_id']}, column bclc: unknown category 'C'" in result.stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort"]


@pytest.mark.parametrize("args", [["--help"], ["synth", "--help"], ["check-cohort", "--help"],
                                  ["report", "--help"]])
def test_every_command_explains_itself(args):
    result = tace(*args)
    assert result.returncode == 0
    assert "Usage: tace" in result.stdout


def test_python_dash_m_tace_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "tace", "--version"], capture_output=True, text=True,
                            encoding="utf-8")
    assert result.returncode == 0
    assert result.stdout.startswith("tace, version ")


@pytest.mark.parametrize("command", ["report", "validate"])
def test_an_unknown_report_format_is_refused_before_any_work(command, tmp_path):
    args = ["--out", str(tmp_path / "run"), "--format", "html,rtf"]
    if command == "validate":
        args += ["--models", str(tmp_path / "none"), "--cohort", str(tmp_path / "none.csv")]
    result = tace(command, *args)
    assert result.returncode == 2
    assert "formats must be a comma-separated choice of html, pdf, docx; got 'html,rtf'" in result.stderr
    assert not (tmp_path / "run").exists()
