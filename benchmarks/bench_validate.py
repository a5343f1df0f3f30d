"""Benchmark: `tace validate` of a 38-patient external cohort with a default-profile bundle.

Goal (issue 6): under 3 minutes on 2 CPU cores, radiomics cache cold (the cohort is new).

    .venv/bin/python benchmarks/bench_validate.py --models BUNDLE [--seed 7] [--jobs 2]

Draws a default-profile digital twin with another seed, keeps its 38 external patients in a
manifest of their own, and times the whole command (bundle check, cohort check, scoring,
notebooks, rendering) with an empty radiomics cache. Prints wall time and peak memory.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tace.cohort.synthetic import generate_twin
from tace.profiles import load_profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        spec = load_profile("default").synthetic
        twin = generate_twin(tmp / "twin", spec, args.seed, n_jobs=args.jobs)
        with twin.manifest.open(newline="") as fh:
            reader = csv.DictReader(fh)
            rows = [r for r in reader if r["cohort"] == "external"]
            header = reader.fieldnames
        manifest = tmp / "twin" / "external.csv"
        with manifest.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        env = dict(os.environ, TACE_CACHE=str(tmp / "cache"))
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "tace", "validate", "--models", str(args.models), "--cohort",
                               str(manifest), "--out", str(tmp / "run"), "--jobs", str(args.jobs), "--renderer",
                               "fallback"], env=env, capture_output=True, text=True, encoding="utf-8")
        seconds = time.perf_counter() - t0
        if done.returncode != 0:
            sys.exit(done.stderr)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"{len(rows)} external patients, {os.cpu_count()} cores, jobs {args.jobs}: tace validate {seconds:.1f} s "
              f"(goal 180 s), peak RSS of the largest child {peak:.0f} MB")


if __name__ == "__main__":
    main()
