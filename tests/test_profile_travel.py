"""A run reads the profile it was given, written once into its run folder (and the bundle's
into a validation run), never a profile looked up again by name: a custom YAML that reuses a
shipped name, a bundle trained from a custom profile, and a relative ``--profile`` path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tace.profiles import PARAMS_DIR, read_stored_profile
from tests.test_cli import tace


def _sidecar_seeds(run: Path) -> set[int]:
    seeds = set()
    for sidecar in (run / "figures").glob("*.json"):
        meta = json.loads(sidecar.read_text())
        if "id" in meta:
            seeds.add(meta["seed"])
            assert meta["profile"]["seed"] == meta["seed"], sidecar.name
    return seeds


def test_a_custom_yaml_named_like_a_shipped_profile_runs_with_its_own_seed_from_a_relative_path(tmp_path):
    settings = yaml.safe_load((PARAMS_DIR / "smoke.yaml").read_text())
    settings["seed"] = 777  # the shipped smoke profile's seed is 20260428
    settings["description"] = "my own copy of smoke"
    settings["radiomics"]["params"] = str(PARAMS_DIR / settings["radiomics"]["params"])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "custom.yaml").write_text(yaml.safe_dump(settings))
    run = tace("report", "--profile", "mine/custom.yaml", "--out", "run", "--jobs", "2", "--renderer", "fallback",
               "--format", "html",  # the seed's path through the article: one format shows it
               cwd=tmp_path, cache=tmp_path / "cache")
    assert run.returncode == 0, run.stderr[-3000:]
    stored = read_stored_profile(tmp_path / "run" / "profile.yaml")
    assert (stored.name, stored.seed, stored.description) == ("smoke", 777, "my own copy of smoke")
    assert _sidecar_seeds(tmp_path / "run") == {777}
    assert json.loads((tmp_path / "run" / "run.json").read_text())["profile"]["seed"] == 777
    assert "profile.yaml" in (tmp_path / "run" / "report.html").read_text(encoding="utf-8")


def test_a_bundle_from_a_custom_profile_validates_with_its_own_profile_and_carries_only_its_files(
        trained, small_cohort, tmp_path):
    import shutil

    _, result = trained
    bundle = tmp_path / "bundle"
    shutil.copytree(result.bundle, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["profile"].update(name="my-site-profile", seed=4242,
                               description="trained from a YAML that tace does not ship")
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    (bundle / "extra.pkl").write_bytes(b"\x80\x04N.")  # not listed: never loaded, never copied
    run = tace("validate", "--models", str(bundle), "--cohort", str(small_cohort.manifest), "--out",
               str(tmp_path / "run"), "--jobs", "2", "--renderer", "fallback", cache=tmp_path / "cache")
    assert run.returncode == 0, run.stderr[-3000:]
    stored = read_stored_profile(tmp_path / "run" / "profile.yaml")
    assert (stored.name, stored.seed) == ("my-site-profile", 4242)
    assert _sidecar_seeds(tmp_path / "run") == {4242}
    copied = sorted(p.name for p in (tmp_path / "run" / "models" / "bundle").iterdir())
    assert copied == sorted(["manifest.json", *manifest["files"]])


def test_a_notebook_without_its_run_profile_says_so(tmp_path):
    from tace.report import open_run

    with pytest.raises(FileNotFoundError, match="lacks its profile profile.yaml"):
        open_run(tmp_path, "profile.yaml", "analysis/01_cohort.ipynb", {})
