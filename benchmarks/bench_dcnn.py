"""Benchmark: DCNN training throughput, the real training step against the bare model step.

The real step is ``tace.models.dcnn.training_step`` with augmentation (what ``DCNN.fit``
runs on each batch); the bare step is the same function without augmentation, at the same
batch size and input size. Both run on batches already on the device. Goal (issue 4): on a
GPU the real step reaches at least 95% of the bare step's images/s, and at 224 px at least
6,000 images/s on an H100.

    .venv/bin/python benchmarks/bench_dcnn.py [--sizes 64 112 224] [--batch N] [--compile]
                                              [--compile-mode MODE]
                                              [--deterministic] [--seconds 20]

Without ``--deterministic`` cuDNN picks its fastest kernels (``cudnn.benchmark``); with it,
the run uses what ``set_determinism`` selects for ``tace train`` (deterministic kernels).

On a CPU the batches are small and the run short: the figures show the overhead of the
augmentation, not what a GPU does.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from tace.determinism import set_determinism
from tace.models.dcnn import build_resnet50, make_optimizer, training_step
from tace.profiles import AugmentSettings

GPU_BATCH = {64: 1024, 112: 512, 224: 256}


def throughput(size: int, batch: int, device: str, compile_: bool, seconds: float, rounds: int = 3,
               mode: str | None = None):
    """Images/s of the real and the bare step: one model, warmed up for two seconds (GPU
    clocks, cuDNN autotuning, compilation), then ``rounds`` alternating timings of each;
    the median of each is returned, so that neither is favoured by going first."""
    torch.manual_seed(0)
    model = build_resnet50().to(device)
    cuda = device.startswith("cuda")
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    step_fn = torch.compile(model, dynamic=False, mode=mode) if compile_ else model
    opt = make_optimizer(model, 1e-4, 1e-4, cuda)
    gen = torch.Generator(device=device).manual_seed(0)
    steps = {"real": training_step(step_fn, opt, None, AugmentSettings(), gen, cuda, compile_augment=compile_),
             "bare": training_step(step_fn, opt, None, None, gen, cuda)}
    x = torch.randn(batch, 3, size, size, device=device)
    y = (torch.rand(batch, device=device) > 0.5).float()
    model.train()

    def timed(step, limit):
        if cuda:
            torch.cuda.synchronize()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < limit:
            step(x, y)
            n += batch
            if cuda and n % (batch * 10) == 0:
                torch.cuda.synchronize()
        if cuda:
            torch.cuda.synchronize()
        return n / (time.perf_counter() - t0)

    for step in steps.values():
        step(x, y)  # compilation, autotuning
        timed(step, 1.0)
    rates = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            rates[name].append(timed(step, seconds / rounds))
    return statistics.median(rates["real"]), statistics.median(rates["bare"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 112, 224])
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default: by size on a GPU, 16 on a CPU)")
    parser.add_argument("--compile-mode", default=None,
                        help="torch.compile mode of the model (e.g. max-autotune-no-cudagraphs); implies --compile")
    parser.add_argument("--deterministic", action="store_true", help="deterministic kernels, as tace train")
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()
    args.compile = args.compile or args.compile_mode is not None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name() if device == "cuda" else platform.processor() or platform.machine()
    seconds = args.seconds or (15.0 if device == "cuda" else 4.0)
    if args.deterministic:
        set_determinism(0)
    else:
        torch.backends.cudnn.benchmark = True
    print(f"device: {device} ({name}), torch {torch.__version__}, compile={args.compile_mode or args.compile}, "
          f"deterministic={args.deterministic}", flush=True)
    for size in args.sizes:
        batch = args.batch or (GPU_BATCH.get(size, 256) if device == "cuda" else 16)
        real, bare = throughput(size, batch, device, args.compile, seconds, mode=args.compile_mode)
        peak = f", peak {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if device == "cuda" else ""
        print(f"{size:4d} px, batch {batch:5d}: real step {real:9.1f} images/s, bare step {bare:9.1f} images/s, "
              f"real/bare {100 * real / bare:5.1f}%{peak}", flush=True)


if __name__ == "__main__":
    main()
