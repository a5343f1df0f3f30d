"""Benchmark: how long and how much memory tace takes to refuse hostile or careless input.

Goals: every case refused in at most 60 s, with memory that does not grow without bound
(issue 10: the 10,000-row manifest took 67 s, 12.7 GB and printed 2 GB before the fix);
a YAML bomb profile refused in under 5 s with under 500 MB (issue 23: it ran 270 s and died
of MemoryError); a web server at the --scheduler address refused within the handshake
timeout (it hung); a 100,000-character note no slower than a short one (it took 4 minutes
against 1).

    .venv/bin/python benchmarks/bench_hostile.py [--rows 10000] [--jobs 2] [--validate]

Cases: a manifest of ROWS rows of nonsense (every column wrong, every row a duplicate),
/dev/zero as the manifest, a FIFO as an image, a 353-byte YAML bomb as the profile, a 50 MB
profile, a bundle manifest nested 200,000 levels deep, a malformed scheduler address and a
plain HTTP server at the scheduler address. With ``--validate``, also ``tace validate`` of a
smoke bundle (trained here first, about a minute) on five patients with a short note and with
a 100,000-character note. Prints, per case, the exit status, wall time, that process's own
peak resident memory (``wait4``) and the size of what it printed.
"""

from __future__ import annotations

import argparse
import csv
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TACE = str(Path(sys.executable).with_name("tace"))

#: A "billion laughs": nine levels of nine aliases each, 9**9 strings once expanded.
_BOMB = ('a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
         + "".join(f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)))


def _run(args: list[str], folder: Path, env: dict | None = None) -> tuple[int, float, float, int]:
    """Exit status, seconds, this process's peak RSS in MB, bytes printed."""
    out = folder / "printed.txt"
    with out.open("wb") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen([TACE, *args], stdout=fh, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, seconds, usage.ru_maxrss / 1024, out.stat().st_size


def _nonsense(path: Path, rows: int) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["patient_id", "cohort", "image", "mask", "age", "sex", "bclc", "tumor_number",
                         "tumor_size_cm", "afp_ng_ml", "child_pugh", "mrecist"])
        for _ in range(rows):
            writer.writerow(["same", "nowhere", "img.nii", "msk.nii", "old", "X", "Z", "many", "big", "-1", "D", "?"])


def _validate_cases(root: Path, jobs: str) -> dict[str, list[str]]:
    """A smoke twin and bundle, five of its patients, and the two validate commands."""
    twin, models = root / "twin", root / "models"
    subprocess.run([TACE, "synth", "--out", str(twin), "--profile", "smoke", "--jobs", jobs], check=True,
                   capture_output=True)
    subprocess.run([TACE, "train", "--cohort", str(twin / "manifest.csv"), "--profile", "smoke", "--out",
                    str(models), "--jobs", jobs], check=True, capture_output=True)
    with (twin / "manifest.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        header, rows = reader.fieldnames, list(reader)
    five = [r for r in rows if r["cohort"] == "external"][:3] + [r for r in rows if r["cohort"] == "followup"][:2]
    with (twin / "five.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(five)
    base = ["validate", "--models", str(models), "--cohort", str(twin / "five.csv"), "--jobs", jobs,
            "--renderer", "fallback"]
    return {"validate, a short note": [*base, "--out", str(root / "v1"), "--note", "outcomes are made up"],
            "validate, a 100,000-char note": [*base, "--out", str(root / "v2"), "--note", "n" * 100_000]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--jobs", default="2")
    parser.add_argument("--validate", action="store_true", help="also time tace validate with a long note")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _nonsense(root / "nonsense.csv", args.rows)
        os.mkfifo(root / "pipe.nii.gz")
        fifo = root / "fifo.csv"
        fifo.write_text("patient_id,cohort,image,mask,age,sex,bclc,tumor_number,tumor_size_cm,afp_ng_ml,"
                        "child_pugh,mrecist\np1,train,pipe.nii.gz,pipe.nii.gz,60,M,A,1,3,10,A,PR\n")
        (root / "bomb.yaml").write_text(_BOMB)
        with (root / "big.yaml").open("wb") as fh:
            fh.truncate(50 << 20)
        deep = root / "deep"
        deep.mkdir()
        (deep / "manifest.json").write_text("[" * 200_000 + "]" * 200_000)

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *a):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        web = f"tcp://127.0.0.1:{server.server_address[1]}"
        synth = ["synth", "--out", str(root / "never")]
        cases = {f"{args.rows} rows of nonsense": ["check-cohort", str(root / "nonsense.csv"), "--jobs", args.jobs],
                 "/dev/zero as the manifest": ["check-cohort", "/dev/zero"],
                 "a FIFO as image and mask": ["check-cohort", str(fifo)],
                 f"YAML bomb profile ({len(_BOMB)} B)": [*synth, "--profile", str(root / "bomb.yaml")],
                 "a 50 MB profile": [*synth, "--profile", str(root / "big.yaml")],
                 "bundle nested 200,000 deep": ["validate", "--models", str(deep), "--cohort", str(fifo), "--out",
                                                str(root / "never")],
                 "scheduler tcp://host:notaport": [*synth, "--profile", "smoke", "--scheduler", "tcp://h:notaport"],
                 "HTTP server as scheduler": [*synth, "--profile", "smoke", "--scheduler", web]}
        if args.validate:
            cases.update(_validate_cases(root, args.jobs))
        try:
            for name, argv in cases.items():
                rc, seconds, peak_mb, printed = _run(argv, root, {"TACE_CACHE": str(root / "cache")})
                print(f"{name:30s}: exit {rc}, {seconds:6.1f} s, peak RSS {peak_mb:7.0f} MB, "
                      f"printed {printed / 1024:8.1f} KiB", flush=True)
        finally:
            server.shutdown()
            server.server_close()
        for folder in ("v1", "v2"):
            if (root / folder / "run.json").is_file():
                print(folder, json.loads((root / folder / "run.json").read_text())["data_source"][:60] + "...")
        shutil.rmtree(root / "never", ignore_errors=True)


if __name__ == "__main__":
    main()
