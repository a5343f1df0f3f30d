"""Write the digital-twin cohort: images, masks, manifest, truth and README, atomically."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
from joblib import delayed

from ...io import atomic_directory
from ...parallel import parallel_map
from ...profiles import SyntheticSpec
from ..split import split_internal
from .model import TwinModel, draw_patients, twin_model
from .oracle import oracle_summary
from .phantom import CaseTraits, Grid, render_case
from .readme import twin_readme
from .scanners import Scanner

__all__ = ["MANIFEST_COLUMNS", "TRUTH_COLUMNS", "TWIN_JSON", "TwinCohort", "generate_twin", "read_twin_json"]

MANIFEST_COLUMNS = ["patient_id", "cohort", "image", "mask", "age", "sex", "bclc", "tumor_number",
                    "tumor_size_cm", "afp_ng_ml", "child_pugh", "mrecist", "os_months", "os_event",
                    "site", "scanner"]
TRUTH_COLUMNS = ["patient_id", "cohort", "p_nonresponse", "survival_lp", "heterogeneity",
                 "margin_irregularity", "peritumoural_hypointensity", "satellite_nodules",
                 "clinical_logit", "imaging_logit"]
#: The twin's machine-readable description (signal preset, seed, expected oracle figures).
TWIN_JSON = "twin.json"


@dataclass(frozen=True)
class TwinCohort:
    """A written digital-twin cohort."""

    root: Path
    manifest: Path
    truth: Path
    counts: dict[str, int]
    preview: Path | None = None


def _write_case(image_path: Path, mask_path: Path, traits: CaseTraits, grid: Grid,
                scanner: Scanner, seed: np.random.SeedSequence) -> None:
    image, mask = render_case(traits, grid, scanner, np.random.default_rng(seed))
    for array, path in ((image, image_path), (mask, mask_path)):
        volume = sitk.GetImageFromArray(array)
        volume.SetSpacing(grid.spacing)
        volume.SetOrigin(grid.origin)
        sitk.WriteImage(volume, str(path), useCompression=True)


def _assign_scanners(df: pd.DataFrame, rng: np.random.Generator, model: TwinModel) -> list[Scanner]:
    out = []
    for cohort in df["cohort"]:
        pool = model.external_scanners if cohort == "external" else model.internal_scanners
        out.append(pool[int(rng.integers(len(pool)))])
    return out


def generate_twin(out: Path | str, spec: SyntheticSpec, seed: int, *, n_jobs: int = -1,
                  overwrite: bool = False, progress: bool = False, preview: bool = False,
                  model: TwinModel | None = None) -> TwinCohort:
    """Generate the digital-twin cohort into ``out``.

    The folder appears only when complete (it is built under a temporary name). The same
    ``seed`` and ``spec`` give byte-identical files, whatever ``n_jobs``.

    Parameters
    ----------
    out
        Folder to create; it must not exist or be empty unless ``overwrite``.
    spec
        Cohort sizes, voxel grid and signal preset (a profile's ``synthetic`` section).
    seed
        Seed of every random step.
    n_jobs
        Parallel worker processes (joblib; -1 for all cores).
    overwrite
        Replace a folder tace wrote before (never another non-empty folder).
    progress
        Show a progress bar.
    preview
        Also write ``preview.png``: a few patients' tumour slices.
    model
        The generating model; by default the preset ``spec.signal`` names.

    Returns
    -------
    TwinCohort
    """
    model = twin_model(spec.signal) if model is None else model
    root_seed = np.random.SeedSequence(seed)
    patients_seed, split_seed, scanner_seed, image_seed = root_seed.spawn(4)
    df = draw_patients(spec.n_internal, spec.n_external, spec.n_followup, patients_seed, model)
    df.insert(0, "patient_id", [f"twin-{i + 1:04d}" for i in range(len(df))])
    split_state = int(split_seed.generate_state(1)[0])
    df = split_internal(df, test_size=spec.n_test, seed=split_state)
    scanners = _assign_scanners(df, np.random.default_rng(scanner_seed), model)
    df["site"] = [s.site for s in scanners]
    df["scanner"] = [s.name for s in scanners]
    df["image"] = [f"images/{pid}_hbp.nii.gz" for pid in df["patient_id"]]
    df["mask"] = [f"masks/{pid}_tumour.nii.gz" for pid in df["patient_id"]]
    case_seeds = image_seed.spawn(len(df))

    with atomic_directory(out, overwrite=overwrite, marker="tace synth") as tmp:
        (tmp / "images").mkdir()
        (tmp / "masks").mkdir()
        jobs = []
        for row, scanner, case_seed in zip(df.itertuples(index=False), scanners, case_seeds, strict=True):
            sx, sy, sz = (s * f for s, f in zip(spec.spacing_mm, scanner.spacing_factor, strict=True))
            grid = Grid(spec.shape, (sx, sy, sz))
            traits = CaseTraits(row.tumor_size_cm, int(row.tumor_number), row.heterogeneity,
                                row.margin_irregularity, bool(row.peritumoural_hypointensity),
                                int(row.satellite_nodules))
            jobs.append(delayed(_write_case)(tmp / row.image, tmp / row.mask, traits, grid,
                                             scanner, case_seed))
        results: Iterable = parallel_map(jobs, n_jobs)
        if progress:
            from rich.progress import track
            results = track(results, total=len(jobs), description="Drawing the digital twin")
        for _ in results:
            pass

        manifest = df[MANIFEST_COLUMNS].copy()
        manifest.to_csv(tmp / "manifest.csv", index=False, lineterminator="\n")
        df[TRUTH_COLUMNS].to_csv(tmp / "truth.csv", index=False, lineterminator="\n",
                                 float_format="%.6f")
        oracle = oracle_summary(model)
        (tmp / "README.md").write_text(twin_readme(spec, seed, model, df, oracle), encoding="utf-8")
        (tmp / TWIN_JSON).write_text(json.dumps({
            "synthetic_data": True, "seed": seed, "signal": model.signal, "generated_by": "tace synth",
            "expected_oracle": _rounded(asdict(oracle))}, indent=2) + "\n", encoding="utf-8")
        if preview:
            from .preview import write_preview
            write_preview(tmp, tmp / "preview.png")

    root = Path(out)
    counts = df["cohort"].value_counts().to_dict()
    return TwinCohort(root, root / "manifest.csv", root / "truth.csv",
                      {k: int(counts.get(k, 0)) for k in ("train", "test", "external", "followup")},
                      root / "preview.png" if preview else None)


def _rounded(value):
    """Floats to 4 decimals: the file stays byte-identical where BLAS differs in the last bits."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def read_twin_json(cohort_dir: Path | str) -> dict | None:
    """The twin's ``twin.json`` beside a manifest, or None when the folder is not a twin."""
    path = Path(cohort_dir) / TWIN_JSON
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
