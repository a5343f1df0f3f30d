"""Frozen model bundles: a folder another site can validate without the development data.

``manifest.json`` records the package versions, the profile, the seed, a hash of the
training cohort, the feature lists and preprocessing parameters, the thresholds fixed on the
training data, summary statistics of the training cohort (for case-mix comparison), and the
sha256 of every weight file, which :func:`read_bundle` checks before anything is loaded.
No file is a pickle: JSON, XGBoost's JSON and safetensors only.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from ..io import sha256_file

__all__ = ["BUNDLE_FORMAT", "Bundle", "BundleError", "cohort_fingerprint", "package_versions", "read_bundle",
           "write_manifest"]

BUNDLE_FORMAT = "tace-bundle/1"
_PACKAGES = ("tace", "numpy", "scipy", "pandas", "scikit-learn", "statsmodels", "xgboost", "torch",
             "torchvision", "pyradiomics", "simpleitk", "safetensors", "lifelines")


class BundleError(ValueError):
    """A bundle that is missing, incomplete or altered."""


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def write_manifest(folder: Path, manifest: dict, files: list[str]) -> Path:
    """Write ``manifest.json`` with the sha256 of each listed file (relative to ``folder``)."""
    folder = Path(folder)
    manifest = dict(manifest)
    manifest["format"] = BUNDLE_FORMAT
    manifest["files"] = {name: sha256_file(folder / name) for name in sorted(files)}
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Bundle:
    folder: Path
    manifest: dict

    def path(self, name: str) -> Path:
        return self.folder / name


def read_bundle(folder: Path | str) -> Bundle:
    """Open a bundle after checking every file's sha256 against its manifest.

    ``folder`` is the bundle itself or a ``tace train`` output folder holding ``bundle/``.
    """
    folder = Path(folder)
    if (folder / "bundle" / "manifest.json").is_file():
        folder = folder / "bundle"
    path = folder / "manifest.json"
    if not path.is_file():
        raise BundleError(f"{folder} is not a model bundle: manifest.json not found")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path} is not valid JSON ({exc}); the bundle is damaged") from None
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{path}: format {manifest.get('format')!r}; expected {BUNDLE_FORMAT!r}")
    problems = []
    for name, digest in manifest.get("files", {}).items():
        f = folder / name
        if not f.is_file():
            problems.append(f"{name}: missing")
        elif sha256_file(f) != digest:
            problems.append(f"{name}: sha256 {sha256_file(f)[:12]}... differs from the manifest's "
                            f"{digest[:12]}... (altered or corrupted)")
    if problems:
        raise BundleError(f"model bundle {folder} failed its integrity check:\n  - " + "\n  - ".join(problems))
    return Bundle(folder, manifest)


def cohort_fingerprint(rows: list[dict], files: list[Path]) -> str:
    """sha256 over the training rows (as sorted JSON) and the bytes of their image files."""
    h = hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode())
    for f in files:
        h.update(sha256_file(f).encode())
    return h.hexdigest()
