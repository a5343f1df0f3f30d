"""Benchmark: how long and how much memory tace takes to refuse hostile or careless input.

Goal (issue 10): every case refused in at most 60 s, with memory that does not grow without
bound; the 10,000-row manifest took 67 s, 12.7 GB and printed 2 GB before the fix.

    .venv/bin/python benchmarks/bench_hostile.py [--rows 10000] [--jobs 2]

Cases: a manifest of ROWS rows of nonsense (every column wrong, every row a duplicate),
/dev/zero as the manifest, and a FIFO as an image. Prints, per case, the exit status, wall
time, the child's peak resident memory and the size of what it printed.
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

TACE = str(Path(sys.executable).with_name("tace"))


def _run(args: list[str]) -> tuple[int, float, float, int]:
    """Exit status, seconds, peak RSS in MB of this child, bytes printed."""
    t0 = time.perf_counter()
    proc = subprocess.run([TACE, *args], capture_output=True, timeout=600)
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # largest child so far
    return proc.returncode, seconds, peak_kb / 1024, len(proc.stdout) + len(proc.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--jobs", default="2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        nonsense = root / "nonsense.csv"
        with nonsense.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["patient_id", "cohort", "image", "mask", "age", "sex", "bclc", "tumor_number",
                             "tumor_size_cm", "afp_ng_ml", "child_pugh", "mrecist"])
            for _ in range(args.rows):
                writer.writerow(["same", "nowhere", "img.nii", "msk.nii", "old", "X", "Z", "many", "big", "-1", "D",
                                 "?"])
        os.mkfifo(root / "pipe.nii.gz")
        fifo = root / "fifo.csv"
        fifo.write_text("patient_id,cohort,image,mask,age,sex,bclc,tumor_number,tumor_size_cm,afp_ng_ml,"
                        "child_pugh,mrecist\np1,train,pipe.nii.gz,pipe.nii.gz,60,M,A,1,3,10,A,PR\n")
        cases = {f"{args.rows} rows of nonsense": ["check-cohort", str(nonsense), "--jobs", args.jobs],
                 "/dev/zero as the manifest": ["check-cohort", "/dev/zero"],
                 "a FIFO as image and mask": ["check-cohort", str(fifo)]}
        for name, argv in cases.items():
            rc, seconds, peak_mb, printed = _run(argv)
            print(f"{name:28s}: exit {rc}, {seconds:6.1f} s, peak RSS so far {peak_mb:7.0f} MB, "
                  f"printed {printed / 1024:8.1f} KiB")


if __name__ == "__main__":
    main()
