"""The DCNN on several processes (tace.models.distributed): DistributedDataParallel with the
gloo backend on this CPU, launched for real (torch.multiprocessing and torchrun), set
against one process.

How close: one training step on two processes (in float64) gives the single process's updated
weights to 1e-7 of the step's size (the gradients are summed in another order and the loss is
float32: not bit for bit; in float32 a changed thread count alone moves early-layer
gradients of a freshly initialised ResNet50 by about 2%, as two processes do). A
whole training is not compared bit for bit either: AdamW turns rounding-level differences
in near-zero gradients into steps of the learning rate's size, so two runs on one process
with 1 and 2 threads already differ (on the smoke twin by up to 0.04 in a patient's DCNN
probability, benchmarks/RESULTS.md); torchrun on two processes stays within that.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from tace.models.distributed import shard_bounds
from tests.ddp_step import free_port, one_step, step_sizes

TORCHRUN = str(Path(sys.executable).with_name("torchrun"))


def test_shards_cover_the_global_batch_in_order_with_sizes_one_apart():
    for n in (2, 7, 16, 33):
        for world in (1, 2, 3, 4):
            parts = [shard_bounds(n, r, world) for r in range(world)]
            assert parts[0][0] == 0 and parts[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(parts, parts[1:], strict=False))
            sizes = [hi - lo for lo, hi in parts]
            assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_one_step_on_two_processes_gives_the_single_process_weights(tmp_path):
    """Global-batch BatchNorm, the split of the batch, the augmentation drawn for all of it
    and the loss weighting together give the single-process gradient (gloo, CPU)."""
    import torch.multiprocessing as mp

    one_step(0, 1, 0, str(tmp_path / "one.pt"))
    mp.spawn(one_step, args=(2, free_port(), str(tmp_path / "two.pt")), nprocs=2, join=True)
    moved, worst = step_sizes(tmp_path / "one.pt", tmp_path / "two.pt")
    assert moved > 1e-3  # the step did change the weights
    assert worst < 1e-5 * moved, (worst, moved)  # measured: 7e-8 (the loss is float32)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_torchrun_on_two_processes_trains_the_smoke_bundle_as_one_process_does(trained, smoke_twin, radiomics_cache,
                                                                               tmp_path):
    """``torchrun --nproc_per_node 2 -m tace train`` (gloo, CPU): the first process alone
    writes the bundle; everything but the DCNN is the single process's, byte for byte; the
    DCNN's probabilities are within the stated tolerance of the single process's."""
    _, local = trained
    cache = tmp_path / "cache"
    shutil.copytree(radiomics_cache, cache)  # the features extracted once already
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    run = subprocess.run([TORCHRUN, "--standalone", "--nproc_per_node", "2", "-m", "tace", "train", "--cohort",
                          str(smoke_twin / "manifest.csv"), "--profile", "smoke", "--out", str(tmp_path / "ddp"),
                          "--cache-dir", str(cache), "--device", "cpu"],
                         capture_output=True, text=True, timeout=900, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("Trained in") == 1  # one process speaks for both
    bundle = tmp_path / "ddp" / "bundle"
    for name in ("clinical.json", "imputation.json", "radiomics_pipeline.json", "radiomics_xgboost.json"):
        assert _digest(bundle / name) == _digest(local.bundle / name), name
    ours = pd.read_csv(tmp_path / "ddp" / "training" / "fitted_predictions.csv")
    theirs = pd.read_csv(local.out / "training" / "fitted_predictions.csv")
    assert list(ours["patient_id"]) == list(theirs["patient_id"])
    assert np.abs(ours["dcnn"] - theirs["dcnn"]).max() < 0.1
    history = pd.read_csv(tmp_path / "ddp" / "training" / "dcnn_history.csv")
    assert np.isfinite(history["loss"]).all() and len(history) == 2
