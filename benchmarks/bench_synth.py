"""Benchmark: generating and checking the digital-twin cohort.

Goals (issue 2): the default cohort is generated in under 60 s on 2 cores and takes under
300 MB on disk; the smoke cohort in seconds. Prints one line per figure; record the output
with the machine in benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/bench_synth.py [--profile default] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from tace.cohort import load_cohort
from tace.cohort.synthetic import generate_twin
from tace.profiles import load_profile


def _size_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    profile = load_profile(args.profile)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}")
    for name in ("smoke", args.profile):
        prof = load_profile(name)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            twin = generate_twin(Path(tmp) / "twin", prof.synthetic, prof.seed, n_jobs=args.jobs)
            gen = time.perf_counter() - t0
            t0 = time.perf_counter()
            cohort = load_cohort(twin.manifest, n_jobs=args.jobs)
            check = time.perf_counter() - t0
            print(f"{name}: {len(cohort)} patients, generate {gen:.1f} s "
                  f"({1000 * gen / len(cohort):.0f} ms/patient at {args.jobs} jobs), "
                  f"{_size_mb(twin.root):.0f} MB on disk, check-cohort {check:.1f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: main {peak:.0f} MB, largest worker {peak_children:.0f} MB "
          f"(profile {profile.name})")


if __name__ == "__main__":
    main()
