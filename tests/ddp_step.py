"""One DCNN training step, on one process or under DistributedDataParallel, for the DDP tests
on the CPU (tests/test_distributed.py, gloo) and on GPUs (tests/test_dcnn_cuda.py, NCCL).
Imports only torch and ``tace.models`` / ``tace.profiles``, so that it runs on a GPU machine
without the rest of the stack."""

from __future__ import annotations

import socket


def one_step(rank: int, world: int, port: int, out: str, device_type: str = "cpu") -> None:
    """One training step of tace's DCNN on a fixed global batch of 12 crops: DDP over
    ``world`` processes (gloo on the CPU, NCCL and one GPU each on CUDA) or one plain process;
    float64 (float32 rounding would hide the comparison) and plain SGD with lr 1, so that the
    change of the weights is the gradient itself. Rank 0 saves the weights to ``out``."""
    import torch

    from tace.models.dcnn import training_step
    from tace.profiles import AugmentSettings

    cuda = device_type == "cuda"
    device = torch.device("cuda", rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    else:
        torch.set_num_threads(1)
    model = start_model().to(device)
    x = torch.randn(12, 3, 32, 32, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(device)
    y = (torch.arange(12) % 3 == 0).float().to(device)  # the step's loss is float32
    net = model
    if world > 1:
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel

        from tace.models.distributed import global_batch_norm

        dist.init_process_group("nccl" if cuda else "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                world_size=world)
        model = global_batch_norm(model, cuda=cuda)
        net = DistributedDataParallel(model, device_ids=[rank] if cuda else None)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    gen = torch.Generator(device=device).manual_seed(5)  # the same augmentation drawn on every process
    model.train()
    # cuda=False: no bf16 autocast, so that the step stays in float64 on a GPU too
    training_step(net, opt, None, AugmentSettings(), gen, False, shard=(rank, world))(x, y)
    if rank == 0:
        torch.save({k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, out)
    if world > 1:
        dist.destroy_process_group()


def start_model():
    """The freshly initialised float64 ResNet50 every run of :func:`one_step` starts from."""
    import torch

    from tace.models.dcnn import build_resnet50

    torch.manual_seed(3)
    return build_resnet50().double()


def step_sizes(one_path, two_path) -> tuple[float, float]:
    """(largest weight change of the single-process step, largest difference between the
    single-process and the DDP weights)."""
    import torch

    one, two = torch.load(one_path), torch.load(two_path)
    assert one.keys() == two.keys()
    start = start_model().state_dict()
    floats = [k for k in one if one[k].is_floating_point()]
    moved = max(float((one[k] - start[k]).abs().max()) for k in floats)
    worst = max(float((one[k] - two[k]).abs().max()) for k in floats)
    return moved, worst


def free_port() -> int:
    """A free TCP port on the loopback interface, for the process group's rendezvous."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
