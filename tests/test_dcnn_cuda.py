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


def _one_cuda_step(rank: int, world: int, port: int, out: str) -> None:
    """One float64 training step on a fixed global batch of 12 crops: DDP over ``world`` GPUs
    (NCCL, SyncBatchNorm, one process per GPU) or one plain process on cuda:0; plain SGD with
    lr 1, so that the change of the weights is the gradient. Rank 0 saves the weights."""
    import torch

    from tace.models.dcnn import build_resnet50, training_step
    from tace.profiles import AugmentSettings

    device = torch.device("cuda", rank)
    torch.cuda.set_device(device)
    torch.manual_seed(3)
    model = build_resnet50().double().to(device)  # float64: float32 rounding would hide the comparison
    x = torch.randn(12, 3, 32, 32, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(device)
    y = (torch.arange(12) % 3 == 0).float().to(device)  # the step's loss is float32
    net = model
    if world > 1:
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel

        from tace.models.distributed import global_batch_norm

        dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
        model = global_batch_norm(model, cuda=True)
        net = DistributedDataParallel(model, device_ids=[rank])
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    gen = torch.Generator(device=device).manual_seed(5)  # the same augmentation drawn on every GPU
    model.train()
    # cuda=False: no bf16 autocast, so that the step stays in float64
    training_step(net, opt, None, AugmentSettings(), gen, False, shard=(rank, world))(x, y)
    if rank == 0:
        torch.save({k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, out)
    if world > 1:
        dist.destroy_process_group()


def test_one_ddp_step_on_two_gpus_gives_the_single_gpu_weights(tmp_path):
    """NCCL's DistributedDataParallel with SyncBatchNorm on two GPUs against one GPU, one
    float64 step (issue 14: the DDP path on the GPUs a machine has). Needs two GPUs: NCCL
    refuses two processes on one device."""
    import socket

    import torch
    import torch.multiprocessing as mp

    if torch.cuda.device_count() < 2:
        pytest.skip(f"needs two CUDA devices; this machine has {torch.cuda.device_count()}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _one_cuda_step(0, 1, 0, str(tmp_path / "one.pt"))
    mp.spawn(_one_cuda_step, args=(2, port, str(tmp_path / "two.pt")), nprocs=2, join=True)
    one, two = torch.load(tmp_path / "one.pt"), torch.load(tmp_path / "two.pt")
    assert one.keys() == two.keys()
    from tace.models.dcnn import build_resnet50

    torch.manual_seed(3)
    start = build_resnet50().double().state_dict()
    moved = max(float((one[k] - start[k]).abs().max()) for k in one if one[k].is_floating_point())
    worst = max(float((one[k] - two[k]).abs().max()) for k in one if one[k].is_floating_point())
    assert moved > 1e-3  # the step did change the weights
    assert worst < 1e-5 * moved, (worst, moved)  # CPU and gloo, the same step: 7e-8 of the step
