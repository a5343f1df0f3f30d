"""Time the article's three formats on an existing run folder (no notebook is rerun).

    .venv/bin/python benchmarks/bench_render.py reports/default

Renders a copy of the run folder (the original is only read) with the fallback renderer,
each format alone, best of ``--repeat``; prints seconds per format and the outputs' sizes.
Record the output in benchmarks/RESULTS.md with the machine.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
import time
from pathlib import Path

from tace.report.render import FORMATS, render_report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a run folder made by tace report or tace validate")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {platform.system()}, python {platform.python_version()}; "
          f"run folder {args.run}")
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        shutil.copytree(args.run, run, ignore=shutil.ignore_patterns("report.*", "cohort"))
        if (args.run / "cohort" / "manifest.csv").is_file():  # the synthetic label needs the manifest only
            (run / "cohort").mkdir()
            shutil.copy2(args.run / "cohort" / "manifest.csv", run / "cohort" / "manifest.csv")
        total = 0.0
        for fmt in FORMATS:
            best = float("inf")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                made = render_report(run, "fallback", (fmt,))
                best = min(best, time.perf_counter() - t0)
            total += best
            size = made.outputs[0][1].stat().st_size / 1e6
            print(f"{fmt:5s} {best:6.2f} s  {size:6.2f} MB")
        print(f"all   {total:6.2f} s")


if __name__ == "__main__":
    main()
