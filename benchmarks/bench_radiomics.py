"""Benchmark: radiomics extraction, serial vs parallel, cold vs cached.

Goal (issue 4): the parallel run on 2 cores at least 1.7x faster than the serial one.

    .venv/bin/python benchmarks/bench_radiomics.py [--profile default] [--patients 24] [--jobs 2]

Generates a digital twin of the profile in a temporary folder and extracts the first
``--patients`` patients with the profile's PyRadiomics parameters.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from tace.cohort.synthetic import generate_twin
from tace.features import RadiomicsCase, extract_radiomics, load_radiomics_params
from tace.profiles import load_profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--patients", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    profile = load_profile(args.profile)
    params = load_radiomics_params(profile.radiomics.params_path)
    print(f"{os.cpu_count()} cores; profile {profile.name}; {profile.radiomics.params}")
    with tempfile.TemporaryDirectory() as tmp:
        twin = generate_twin(Path(tmp) / "twin", profile.synthetic, profile.seed, n_jobs=args.jobs)
        manifest = pd.read_csv(twin.manifest).head(args.patients)
        cases = [RadiomicsCase(r.patient_id, twin.root / r.image, twin.root / r.mask) for r in manifest.itertuples()]
        timings = {}
        for label, jobs, cache in (("serial, cold", 1, None), ("parallel, cold", args.jobs, Path(tmp) / "cache"),
                                   ("parallel, cached", args.jobs, Path(tmp) / "cache")):
            t0 = time.perf_counter()
            feats = extract_radiomics(cases, params, cache_dir=cache, n_jobs=jobs)
            timings[label] = time.perf_counter() - t0
            print(f"{label:17s}: {timings[label]:6.1f} s, {timings[label] / len(cases):.3f} s/case, "
                  f"{feats.shape[1]} features")
        print(f"parallel speed-up ({args.jobs} jobs): {timings['serial, cold'] / timings['parallel, cold']:.2f}x; "
              f"cache speed-up: {timings['parallel, cold'] / timings['parallel, cached']:.1f}x")


if __name__ == "__main__":
    main()
