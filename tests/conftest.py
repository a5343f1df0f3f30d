"""Shared fixtures: the smoke digital twin, small cohorts to break, the reference cases."""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TACE_SHARED", REPO.parent / "shared"))
REFCASES = SHARED / "refdata" / "pyradiomics-cases"


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` skip, with the reason, where no CUDA device is present."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device; none is present on this machine")
    for item in gpu_items:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def refcases() -> Path:
    """The real scanner cases of ../shared/refdata (PyRadiomics' test data)."""
    if not REFCASES.is_dir():
        pytest.skip(f"reference cases not found at {REFCASES}: ../shared is absent "
                    "(set TACE_SHARED to its location)")
    return REFCASES


@pytest.fixture(scope="session")
def smoke_profile():
    # Imported here, not at the top: the CUDA tests run on a machine that has torch and
    # numpy but not the whole stack (tests/test_dcnn_cuda.py).
    from tace.profiles import load_profile

    return load_profile("smoke")


@pytest.fixture(scope="session")
def smoke_twin(tmp_path_factory, smoke_profile) -> Path:
    """The smoke-profile digital twin, generated once per test session. Do not modify it:
    copy it (``small_cohort``) first."""
    from tace.cohort.synthetic import generate_twin

    out = tmp_path_factory.mktemp("twin") / "smoke"
    generate_twin(out, smoke_profile.synthetic, smoke_profile.seed, n_jobs=1, preview=True)
    return out


@pytest.fixture(scope="session")
def default_twin(tmp_path_factory):
    """The default profile's digital twin (the paper's cohort sizes), drawn once per test
    session for the slow tests that need it. Do not modify it."""
    from tace.cohort.synthetic import generate_twin
    from tace.profiles import load_profile

    profile = load_profile("default")
    return generate_twin(tmp_path_factory.mktemp("twin") / "default", profile.synthetic, profile.seed, n_jobs=-1)


@pytest.fixture(scope="session")
def radiomics_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("radiomics-cache")


@pytest.fixture(scope="session")
def trained(smoke_twin, smoke_profile, radiomics_cache, tmp_path_factory):
    """The smoke bundle, trained once per session on the smoke twin: (cohort, TrainResult)."""
    from rich.console import Console

    from tace.cohort import load_cohort
    from tace.models import train_models

    cohort = load_cohort(smoke_twin / "manifest.csv")
    out = tmp_path_factory.mktemp("trained") / "models"
    result = train_models(cohort, smoke_profile, out, cache_dir=radiomics_cache, n_jobs=2,
                          progress=False, console=Console(quiet=True))
    return cohort, result


class SmallCohort:
    """A few twin patients copied to a folder of their own, to be broken by a test."""

    def __init__(self, root: Path, header: list[str], rows: list[dict[str, str]]):
        self.root = root
        self.header = header
        self.rows = rows

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.csv"

    def row(self, patient_id: str) -> dict[str, str]:
        return next(r for r in self.rows if r["patient_id"] == patient_id)

    def write(self) -> Path:
        with self.manifest.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.header, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(self.rows)
        return self.manifest


@pytest.fixture
def small_cohort(smoke_twin, tmp_path) -> SmallCohort:
    """Two train, one external and two follow-up patients of the smoke twin, with their files."""
    with (smoke_twin / "manifest.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames)
        everyone = list(reader)
    rows = []
    for cohort, n in (("train", 2), ("external", 1), ("followup", 2)):
        rows += [r for r in everyone if r["cohort"] == cohort][:n]
    root = tmp_path / "cohort"
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True)
    for r in rows:
        for col in ("image", "mask"):
            shutil.copy2(smoke_twin / r[col], root / r[col])
    cohort = SmallCohort(root, header, rows)
    cohort.write()
    return cohort


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, with its modification time, by relative path."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = (hashlib.sha256(p.read_bytes()).hexdigest()
                                             + f"@{p.stat().st_mtime_ns}")
    return out


@pytest.fixture(scope="session")
def installed_tace(tmp_path_factory) -> Path:
    """tace built as a wheel and installed into a fresh virtual environment, not editable:
    the wheel from this checkout (``pip wheel --no-deps``), a new venv whose only link to
    this one is a ``.pth`` line naming its site-packages (the dependencies: PyTorch and the
    rest are not installed twice), ``pip install --no-deps`` of the wheel. Returns the venv's
    ``tace`` executable; its package data (notebooks, profiles, article sources) come from
    the wheel through importlib.resources."""
    import subprocess
    import sys
    import sysconfig

    root = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(root / "dist"), str(REPO)], check=True, capture_output=True, timeout=600)
    (wheel,) = (root / "dist").glob("tace-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # the dependencies of this environment, but not its editable tace (a .pth line adds the
    # folder; the folder's own .pth files, the editable finder among them, are not run)
    Path(purelib, "tace-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                    str(wheel)], check=True, capture_output=True, timeout=600)
    return venv / "bin" / "tace"


@pytest.fixture(scope="session")
def report_run(tmp_path_factory, installed_tace):
    """`tace report --profile smoke` on the digital twin, once per session, by tace installed
    from its wheel (the paper report in all three formats): (run folder, the finished
    process, the temporary root)."""
    import subprocess

    root = tmp_path_factory.mktemp("report")
    out = root / "run"
    env = dict(os.environ, TACE_CACHE=str(root / "cache"))
    result = subprocess.run([str(installed_tace), "report", "--profile", "smoke", "--out", str(out), "--jobs", "2",
                             "--renderer", "fallback"], capture_output=True, text=True, encoding="utf-8",
                            timeout=1800, env=env, cwd=root)
    assert result.returncode == 0, result.stderr
    return out, result, root


@pytest.fixture(scope="session")
def user_cohort_run(tmp_path_factory, smoke_twin):
    """`tace report --profile smoke --cohort` on the smoke twin's manifest, as a user's own
    cohort (the same patients and seed as :func:`report_run`'s embedded twin), by the
    checkout's tace: (run folder, the finished process, the twin's digest before the run)."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("user-report")
    before = tree_digest(smoke_twin)
    out = root / "run"
    env = dict(os.environ, TACE_CACHE=str(root / "cache"))
    result = subprocess.run([str(Path(sys.executable).with_name("tace")), "report", "--profile", "smoke", "--cohort",
                             str(smoke_twin / "manifest.csv"), "--out", str(out), "--jobs", "2",
                             "--renderer", "fallback", "--format", "html"],  # report_run checks the other two
                            capture_output=True, text=True, encoding="utf-8",
                            timeout=1800, env=env, cwd=root)
    return out, result, before
