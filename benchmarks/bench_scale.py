"""Benchmark: how each stage's cost grows with the cohort, on local cores and on a Dask cluster.

Issue 14. For twins of 100, 300, 1,000 and 3,000 patients (the smoke profile's small images
and models, the default split in proportion: 50% train, 15% test, 15% external, 20%
follow-up), times every stage of ``tace report`` and the peak memory of its process tree,
and prints seconds per patient per stage. Each stage runs in a process of its own, in
order, on one run folder per size, as ``tace report`` runs them:

    twin        drawing the digital twin (tace.cohort.synthetic.generate_twin)
    check       the data contract, every image read (tace.cohort.load_cohort)
    extraction  PyRadiomics features of every patient's tumour (a cold cache)
    icc         the ICC filter's re-segmentations of its patient subset, and the filter
    selection   correlation filter, LASSO and the XGBoost grid on the training patients
    dcnn_epoch  the training patients' crops and one epoch of the DCNN
    train       the rest of tace train (out-of-fold refits, fusion, the bundle; warm cache)
    scoring     every patient scored by the bundle (a cold cache: features, crops, DCNN)
    notebooks   the report's notebooks (papermill)
    rendering   the article in HTML, PDF and DOCX

Per patient is per patient of the cohort, except the training-only stages (icc, selection,
dcnn_epoch, train), which are per training patient. Peak memory is the largest total
resident memory of the stage's process and its children (joblib's workers), polled every
0.1 s. With ``--dask`` the parallel stages (twin, check, extraction, icc, scoring) also run
on a local Dask cluster of 2 worker processes; memory is then not comparable (the workers
belong to the cluster) and is not shown.

    .venv/bin/python benchmarks/bench_scale.py [--sizes 100 300 1000 3000] [--dask 300 1000]
                                               [--work DIR] [--jobs 2]

Goals: seconds per patient at 3,000 within 1.2x of 300 for every stage; peak memory of
check, extraction and scoring flat (within 1.2x) from 300 to 3,000.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGES = ("twin", "check", "extraction", "icc", "selection", "dcnn_epoch", "train", "scoring", "notebooks",
          "rendering")
PARALLEL = ("twin", "check", "extraction", "icc", "scoring")
PER_TRAINING_PATIENT = ("icc", "selection", "dcnn_epoch", "train")


def _profile(n: int):
    from tace.profiles import load_profile

    smoke = load_profile("smoke")
    n_train, n_test, n_external = round(0.5 * n), round(0.15 * n), round(0.15 * n)
    spec = smoke.synthetic.model_copy(update={"n_train": n_train, "n_test": n_test, "n_external": n_external,
                                              "n_followup": n - n_train - n_test - n_external})
    return smoke.model_copy(update={"synthetic": spec, "name": f"scale-{n}"})


def _cohort(run: Path):
    from tace.cohort import load_cohort

    return load_cohort(run / "cohort" / "manifest.csv", n_jobs=1)


def stage(name: str, run: Path, jobs: int) -> dict:
    """Run one stage on the run folder ``run``; return what it counts."""
    from rich.console import Console

    from tace.profiles import RUN_PROFILE, load_profile

    quiet = Console(quiet=True)
    prof = load_profile(str(run / RUN_PROFILE))
    if name == "twin":
        from tace.cohort.synthetic import generate_twin

        twin = generate_twin(run / "cohort", prof.synthetic, prof.seed, n_jobs=jobs, preview=True)
        return {"patients": sum(twin.counts.values())}
    if name == "check":
        from tace.cohort import load_cohort

        return {"patients": len(load_cohort(run / "cohort" / "manifest.csv", n_jobs=jobs))}
    from tace.cohort import tumour_labels
    from tace.features.radiomics import RadiomicsCase, extract_radiomics, load_radiomics_params
    from tace.models.train import icc_subset, training_table

    cohort = _cohort(run)
    train = training_table(cohort, prof.seed)
    params = load_radiomics_params(prof.radiomics.params_path)
    if name == "extraction":
        table = cohort.table
        cases = [RadiomicsCase(r.patient_id, Path(r.image), Path(r.mask), lab)
                 for r, lab in zip(table.itertuples(index=False), tumour_labels(table), strict=True)]
        extract_radiomics(cases, params, cache_dir=run / "cache", n_jobs=jobs)
        return {"patients": len(cases)}
    labels = tumour_labels(train)
    originals = [RadiomicsCase(r.patient_id, Path(r.image), Path(r.mask), lab)
                 for r, lab in zip(train.itertuples(index=False), labels, strict=True)]
    y = train["nonresponse"].astype(bool).to_numpy()
    if name == "icc":
        from tace.features.robustness import icc_filter

        rows = icc_subset(len(train), prof.radiomics.icc_patients, prof.seed)
        cases = [RadiomicsCase(c.patient_id, c.image, c.mask, c.label, pert) for pert in ("erode", "dilate")
                 for k, c in enumerate(originals) if k in rows]
        feats = extract_radiomics(originals + cases, params, cache_dir=run / "cache", n_jobs=jobs)
        by = {p: feats.xs(p, level="perturbation") for p in ("original", "erode", "dilate")}
        robust, _ = icc_filter(by["original"], [by["erode"], by["dilate"]], prof.radiomics.icc_threshold)
        (run / "robust.json").write_text(json.dumps(robust))
        return {"patients": len(train), "re-segmented": len(rows)}
    if name == "selection":
        from tace.models.radiomics_model import RadiomicsModel

        feats = extract_radiomics(originals, params, cache_dir=run / "cache", n_jobs=1)
        RadiomicsModel.fit(feats.droplevel("perturbation").loc[train["patient_id"]], y,
                           json.loads((run / "robust.json").read_text()), prof.radiomics, prof.seed)
        return {"patients": len(train)}
    if name == "dcnn_epoch":
        from tace.features.crops import make_crops
        from tace.models.dcnn import DCNN
        from tace.models.train import _crop_spec

        crops, owner = make_crops(list(train["image"]), list(train["mask"]), _crop_spec(prof), labels, n_jobs=jobs)
        history = DCNN(device="cpu").fit(crops, owner, y, prof.dcnn.model_copy(update={"epochs": 1}), prof.seed)
        return {"patients": len(train), "crops": len(crops), "resident_crops_mb": round(crops.nbytes / 2 ** 20, 1),
                "images_per_second": round(history.images_per_second, 1)}
    if name == "train":
        from tace.models import train_models

        train_models(cohort, prof, run / "models", cache_dir=run / "cache", n_jobs=jobs, progress=False,
                     console=quiet)
        return {"patients": len(train)}
    if name == "scoring":
        from tace.io import atomic_write_text, csv_text
        from tace.models import score_cohort
        from tace.report.stages import OUTCOME_COLUMNS

        scored = score_cohort(run / "models", cohort, cache_dir=run / "cache-scoring", n_jobs=jobs)
        atomic_write_text(run / "scores.csv", csv_text(scored.scores, float_format="%.6g"))
        atomic_write_text(run / "imputations.csv", csv_text(scored.imputations, float_format="%.6g"))
        atomic_write_text(run / "outcomes.csv", csv_text(cohort.table[OUTCOME_COLUMNS]))
        return {"patients": len(cohort)}
    if name == "notebooks":
        from tace.report.notebooks import NOTEBOOKS
        from tace.report.stages import run_notebooks

        run_notebooks(NOTEBOOKS, run, RUN_PROFILE, quiet, first_stage=1)
        return {"patients": len(cohort)}
    if name == "rendering":
        from tace.report.stages import publish, run_environment

        record = {**run_environment(), "profile": prof.model_dump(mode="json"),
                  "data_source": "synthetic (digital twin)", "manifest": "cohort/manifest.csv",
                  "manifest_sha256": cohort.sha256, "stages_done": list(STAGES)}
        publish(run, record, "fallback", synthetic=True)
        return {"patients": len(cohort)}
    raise ValueError(f"unknown stage {name!r}")


def measure(name: str, run: Path, jobs: int, scheduler: str | None) -> dict:
    """Run a stage in a process of its own; its seconds and the peak memory of its tree."""
    import psutil

    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    if scheduler:
        env["DASK_SCHEDULER_ADDRESS"] = scheduler
    out = run / f".{name}.json"
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--stage", name, "--run", str(run), "--jobs", str(jobs),
                             "--result", str(out)], env=env)
    parent, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            tree = [parent, *parent.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.1)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"stage {name} failed at {run} (exit {proc.returncode})")
    return {"stage": name, "seconds": seconds, "peak_mb": peak / 2 ** 20, **json.loads(out.read_text())}


def _child(args) -> None:
    from tace.parallel import scheduler_address, work_on

    with work_on(scheduler_address(None)):
        result = stage(args.stage, Path(args.run), args.jobs)
    Path(args.result).write_text(json.dumps(result))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000, 3000])
    ap.add_argument("--dask", type=int, nargs="*", default=[300, 1000],
                    help="sizes whose parallel stages also run on a local Dask cluster of 2 workers")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", type=Path, default=None, help="where the run folders go [a temporary folder]")
    ap.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    ap.add_argument("--run", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage:
        _child(args)
        return
    from tace.profiles import RUN_PROFILE, write_profile

    print(f"machine: {platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} usable cores, "
          f"python {platform.python_version()}; profile smoke, images {_profile(100).synthetic.shape}", flush=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="tace-scale-"))
    results = []
    for n in args.sizes:
        modes = [("local", None)] + ([("dask", "cluster")] if n in args.dask else [])
        for mode, _ in modes:
            run = work / f"{n}-{mode}"
            shutil.rmtree(run, ignore_errors=True)
            run.mkdir(parents=True)
            write_profile(_profile(n), run / RUN_PROFILE)
            cluster = None
            if mode == "dask":
                from distributed import LocalCluster

                saved = dict(os.environ)
                cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)
                # its nannies set OMP_NUM_THREADS=1 in this process's environment for their
                # workers; the stages run here must not inherit it
                os.environ.clear()
                os.environ.update(saved)
            try:
                for name in STAGES:
                    if mode == "dask" and name not in PARALLEL and name != "train":
                        continue  # the same code as the local run: not timed twice
                    address = cluster.scheduler_address if cluster and name in PARALLEL else None
                    r = {"n": n, "mode": mode, **measure(name, run, args.jobs, address)}
                    if name == "train" and mode == "dask":
                        continue  # only there to make the bundle that scoring needs
                    per = r.get("patients") or n
                    r["seconds_per_patient"] = r["seconds"] / per
                    results.append(r)
                    extra = {k: v for k, v in r.items() if k in ("crops", "resident_crops_mb", "images_per_second",
                                                                   "re-segmented")}
                    mem = f"{r['peak_mb']:8.0f}" if mode == "local" else "       -"
                    print(f"n={n:<5} {mode:<5} {name:<11} {r['seconds']:9.1f} s {1000 * r['seconds_per_patient']:9.1f} "
                          f"ms/patient (of {per}) peak {mem} MB {extra or ''}", flush=True)
            finally:
                if cluster is not None:
                    cluster.close()
    (work / "bench_scale.json").write_text(json.dumps(results, indent=1))
    print(f"all figures: {work / 'bench_scale.json'}")
    sizes = sorted({r["n"] for r in results if r["mode"] == "local"})
    if 300 in sizes and max(sizes) > 300:
        top = max(sizes)
        print(f"\nratio {top} / 300 (local): seconds per patient, peak memory")
        for name in STAGES:
            a = next(r for r in results if r["n"] == 300 and r["mode"] == "local" and r["stage"] == name)
            b = next(r for r in results if r["n"] == top and r["mode"] == "local" and r["stage"] == name)
            print(f"  {name:<11} {b['seconds_per_patient'] / a['seconds_per_patient']:5.2f}x time per patient, "
                  f"{b['peak_mb'] / a['peak_mb']:5.2f}x peak memory")


if __name__ == "__main__":
    main()
