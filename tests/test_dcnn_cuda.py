"""The DCNN's CUDA path: bf16 autocast, channels_last, fused AdamW, data resident on the GPU.

These tests skip, with the reason, where no CUDA device is present (CI). They import only
torch, numpy and ``tace.models.dcnn``, so that they also run on a GPU machine that lacks the
rest of the stack: ``PYTHONPATH=lib python -m pytest tests/test_dcnn_cuda.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytestmark = pytest.mark.gpu


def _toy_set(n_patients: int = 32, size: int = 64):
    rng = np.random.default_rng(0)
    owner = np.repeat(np.arange(n_patients), 2)
    y = rng.random(n_patients) < 0.5
    crops = rng.normal(size=(owner.size, 3, size, size)).astype(np.float32)
    crops[y[owner]] += 1.0  # a signal the network can pick up
    return crops, owner, y


def test_dcnn_trains_on_cuda_with_bf16_channels_last_and_fused_adamw():
    import torch

    from tace.models.dcnn import DCNN
    from tace.profiles import DCNNSettings

    crops, owner, y = _toy_set()
    net = DCNN(device="cuda")
    history = net.fit(crops, owner, y, DCNNSettings(input_size=32, epochs=3, batch_size=16), seed=0)
    assert all(np.isfinite(history.loss))
    assert history.loss[-1] < history.loss[0]
    param = next(net.model.parameters())
    assert param.device.type == "cuda" and param.dtype == torch.float32  # autocast, not bf16 weights
    assert net.model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    scores = net.predict_patients(crops, owner, 32)
    assert scores.shape == (32,) and np.all((scores > 0) & (scores < 1))


def test_cuda_training_repeats_exactly_under_set_determinism():
    import torch

    from tace.determinism import set_determinism
    from tace.models.dcnn import DCNN
    from tace.profiles import DCNNSettings

    crops, owner, y = _toy_set()
    runs = []
    try:
        for _ in range(2):
            set_determinism(7)
            net = DCNN(device="cuda")
            with warnings.catch_warnings():
                # A few CUDA backward kernels (adaptive average pooling) have no deterministic
                # version and torch warns; the assertions below say whether it mattered.
                warnings.simplefilter("ignore", UserWarning)
                history = net.fit(crops, owner, y, DCNNSettings(input_size=32, epochs=2, batch_size=16), seed=7)
            runs.append((history.loss, net.predict_patients(crops, owner, 32)))
    finally:
        torch.use_deterministic_algorithms(False)
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_a_bundle_trained_on_cuda_predicts_the_same_on_the_cpu(tmp_path):
    from tace.models.dcnn import DCNN
    from tace.profiles import DCNNSettings

    crops, owner, y = _toy_set()
    net = DCNN(device="cuda")
    net.fit(crops, owner, y, DCNNSettings(input_size=32, epochs=1, batch_size=16), seed=0)
    net.save(tmp_path / "dcnn.safetensors")
    gpu = net.predict_patients(crops, owner, 32)
    cpu = DCNN.load(tmp_path / "dcnn.safetensors", device="cpu").predict_patients(crops, owner, 32)
    # bf16 autocast on the GPU against float32 on the CPU: equal to about 2-3 decimals.
    np.testing.assert_allclose(gpu, cpu, atol=0.02)


def test_one_ddp_step_on_two_gpus_gives_the_single_gpu_weights(tmp_path):
    """NCCL's DistributedDataParallel with SyncBatchNorm on two GPUs against one GPU, one
    float64 step (issue 14: the DDP path on the GPUs a machine has; tests/test_distributed.py
    runs the same step on the CPU with gloo). Needs two GPUs: NCCL refuses two processes on
    one device."""
    import torch
    import torch.multiprocessing as mp

    from tests.ddp_step import free_port, one_step, step_sizes

    if torch.cuda.device_count() < 2:
        pytest.skip(f"needs two CUDA devices; this machine has {torch.cuda.device_count()}")
    one_step(0, 1, 0, str(tmp_path / "one.pt"), "cuda")
    mp.spawn(one_step, args=(2, free_port(), str(tmp_path / "two.pt"), "cuda"), nprocs=2, join=True)
    moved, worst = step_sizes(tmp_path / "one.pt", tmp_path / "two.pt")
    assert moved > 1e-3  # the step did change the weights
    assert worst < 1e-5 * moved, (worst, moved)  # CPU and gloo, the same step: 7e-8 of the step
