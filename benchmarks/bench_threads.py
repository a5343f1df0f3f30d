"""Benchmark: DCNN training speed on the CPU, quiet and beside one competing busy process.

Issue 14: on the 2-core machine one competing process slowed DCNN training from 27 to 4
images/s, because torch's OpenMP threads spin at each barrier while the other process holds
a core. Each setting runs in its own process (the OpenMP environment is read when torch
loads): the training step of ``tace train`` (``tace.models.dcnn.training_step``, with
augmentation) at the default profile's size (64 px, batch 32), timed for ``--seconds`` after
a warm-up, once alone and once beside ``python -c "while True: pass"``.

    .venv/bin/python benchmarks/bench_threads.py [--seconds 20] [--settings tace torch-default spin passive ...]

Settings: ``tace`` is what ``tace train`` does (``tace.parallel.set_cpu_threads``: as many
threads as usable cores, OpenMP threads that sleep rather than spin when they wait);
``torch-default`` sets nothing (libgomp spins for a while before it sleeps); ``spin`` is
OMP_WAIT_POLICY=ACTIVE (threads always spin at barriers); ``passive`` is OMP_WAIT_POLICY=PASSIVE
alone; ``one-thread`` is one torch thread; ``spin-10k`` and ``spin-100k`` shorten libgomp's
spinning (GOMP_SPINCOUNT) instead of stopping it. Prints images/s and the share of the quiet speed
kept beside the busy process (goal: at least 40%).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

SETTINGS = {
    "tace": {},  # tace.parallel.set_cpu_threads decides
    "torch-default": {},  # nothing set: libgomp spins a while, then sleeps
    "spin": {"OMP_WAIT_POLICY": "ACTIVE"},
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
    "one-thread": {"OMP_NUM_THREADS": "1"},
    "spin-10k": {"GOMP_SPINCOUNT": "10000"},
    "spin-100k": {"GOMP_SPINCOUNT": "100000"},
}


def child(seconds: float, setting: str) -> None:
    """Time the training step; print one JSON line."""
    if setting == "tace":
        from tace.parallel import set_cpu_threads

        set_cpu_threads(1)
    import torch

    from tace.models.dcnn import build_resnet50, make_optimizer, training_step
    from tace.profiles import AugmentSettings

    torch.manual_seed(0)
    model = build_resnet50().to(memory_format=torch.channels_last)
    opt = make_optimizer(model, 1e-3, 1e-4, False)
    gen = torch.Generator().manual_seed(0)
    step = training_step(model, opt, None, AugmentSettings(), gen, False)
    x, y = torch.randn(32, 3, 64, 64), (torch.rand(32) > 0.5).float()
    model.train()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 3:  # warm-up: oneDNN picks its kernels
        step(x, y)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step(x, y)
        n += x.shape[0]
    print(json.dumps({"images_per_second": n / (time.perf_counter() - t0), "threads": torch.get_num_threads(),
                      "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "")}))


def run(setting: str, seconds: float, busy: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT")}
    env.update(SETTINGS[setting])
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        out = subprocess.run([sys.executable, __file__, "--child", setting, "--seconds", str(seconds)],
                             env=env, capture_output=True, text=True, check=True)
    finally:
        if hog:
            hog.kill()
            hog.wait()
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    ap.add_argument("--child", choices=list(SETTINGS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.seconds, args.child)
        return
    print(f"machine: {platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} usable cores, "
          f"python {platform.python_version()}")
    print(f"{'setting':<12} {'threads':>7} {'quiet img/s':>12} {'busy img/s':>11} {'kept':>6}")
    for setting in args.settings:
        quiet = run(setting, args.seconds, busy=False)
        busy = run(setting, args.seconds, busy=True)
        kept = busy["images_per_second"] / quiet["images_per_second"]
        print(f"{setting:<12} {quiet['threads']:>7} {quiet['images_per_second']:>12.1f} "
              f"{busy['images_per_second']:>11.1f} {100 * kept:>5.0f}%", flush=True)


if __name__ == "__main__":
    main()
