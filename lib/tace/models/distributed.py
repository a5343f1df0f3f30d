"""The DCNN on several processes: DistributedDataParallel, launched by ``torchrun``.

``torchrun --nproc_per_node N -m tace train ...`` starts N copies of ``tace train``, one per
GPU (or, on a CPU, per process, with the gloo backend). Every copy runs the same
deterministic development; the DCNN's training is shared: each global batch (the one a
single process would take, from the same seeded permutation, with the same augmentation
drawn for all of it) is cut into N contiguous parts, each process computes its part, and
DistributedDataParallel averages the gradients. Batch normalisation uses the statistics of
the whole global batch (``SyncBatchNorm`` on CUDA; :class:`GlobalBatchNorm2d` on the CPU,
where ``SyncBatchNorm`` does not run), and each part's loss is weighted so that the averaged
gradient is the single-process gradient of the global batch's mean loss. So the same seed
gives the same model on one process or several, up to the order of floating-point sums
(tests/test_distributed.py states how close). Only the first process writes the bundle.

References
----------
Li S, Zhao Y, Varma R, et al. PyTorch distributed: experiences on accelerating data parallel
training. Proc. VLDB Endow. 2020;13(12):3005-3018.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from datetime import timedelta

__all__ = ["Ranks", "barrier", "current_ranks", "global_batch_norm", "global_batch_norm_class", "shard_bounds",
           "start_from_env", "stop"]


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """True for the process that writes outputs and prints."""
        return self.rank == 0


def _env_ranks() -> Ranks:
    """The ranks ``torchrun`` sets in the environment (one process when absent)."""
    try:
        return Ranks(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                     int(os.environ.get("LOCAL_RANK", 0)))
    except ValueError as exc:
        raise ValueError(f"RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers as torchrun sets them ({exc})"
                         ) from None


def start_from_env(device: str | None) -> tuple[Ranks, str | None]:
    """Join the process group ``torchrun`` set up, when there is one (``WORLD_SIZE`` > 1):
    NCCL and one GPU per process (``cuda:LOCAL_RANK``) on CUDA, gloo on the CPU. Returns the
    ranks and the device this process trains on (``device`` unchanged with one process)."""
    ranks = _env_ranks()
    if ranks.world <= 1:
        return ranks, device
    import torch
    import torch.distributed as dist

    cuda = (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    if cuda:
        device = f"cuda:{ranks.local_rank}"
        torch.cuda.set_device(ranks.local_rank)
    if not dist.is_initialized():
        # the other processes wait at a barrier while the first extracts the radiomics
        # features, which on a large cohort takes longer than the default 10-30 minutes
        dist.init_process_group(backend="nccl" if cuda else "gloo", timeout=timedelta(hours=6))
    return ranks, device or "cpu"


def current_ranks() -> Ranks:
    """The ranks of the initialised process group, else one process."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return Ranks(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    return Ranks()


def barrier() -> None:
    """Wait for every process (nothing with one)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def stop() -> None:
    """Leave the process group, if this process joined one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard_bounds(n: int, rank: int, world: int) -> tuple[int, int]:
    """The contiguous part [lo, hi) of a global batch of ``n`` that ``rank`` of ``world``
    computes: sizes differ by at most one, larger parts first (as ``torch.tensor_split``)."""
    base, extra = divmod(n, world)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (rank < extra)


@functools.cache
def global_batch_norm_class():
    """The class :class:`GlobalBatchNorm2d` (made on first use, so that importing this module
    does not import torch)."""
    import torch
    import torch.distributed as dist

    class _SumAcrossProcesses(torch.autograd.Function):
        """The sum over the process group, differentiable: the gradient of a sum that every
        process uses is the sum of their gradients."""

        @staticmethod
        def forward(ctx, x):
            out = x.clone()
            dist.all_reduce(out)
            return out

        @staticmethod
        def backward(ctx, grad):
            out = grad.clone()
            dist.all_reduce(out)
            return out

    all_reduce = _SumAcrossProcesses.apply

    class GlobalBatchNorm2d(torch.nn.BatchNorm2d):
        """BatchNorm2d whose training statistics are those of the whole global batch across
        the process group, for the CPU (gloo), where ``torch.nn.SyncBatchNorm`` does not run.

        Two differentiable all-reduces per layer (the backward of a sum across processes is
        the sum of the gradients): the count and sum give the mean, then the sum of
        squared deviations gives the biased variance that normalises, as in BatchNorm; the
        running variance takes the unbiased one. Same parameters and buffers as BatchNorm2d,
        so its state dict is a BatchNorm2d's. In eval mode, or with one process, it is
        BatchNorm2d.
        """

        def forward(self, x):
            if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
                return super().forward(x)
            dims = (0, 2, 3)
            local_n = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
            sums = all_reduce(torch.cat([local_n, x.sum(dims)]))
            n, mean = sums[0], sums[1:] / sums[0]
            centred = x - mean.view(1, -1, 1, 1)
            var = all_reduce((centred * centred).sum(dims)) / n
            if self.track_running_stats:
                with torch.no_grad():
                    self.num_batches_tracked.add_(1)
                    m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                    self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                    self.running_var.mul_(1 - m).add_(var.detach() * (n / (n - 1)), alpha=m)
            out = centred * torch.rsqrt(var + self.eps).view(1, -1, 1, 1)
            if self.affine:
                out = out * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
            return out

    return GlobalBatchNorm2d


def global_batch_norm(model, cuda: bool):
    """``model`` with every BatchNorm2d computing its statistics over the global batch:
    ``torch.nn.SyncBatchNorm`` on CUDA, :func:`global_batch_norm_class` on the CPU (parameters
    and running statistics carried over)."""
    import torch

    if cuda:
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    cls = global_batch_norm_class()

    def convert(module):
        for name, child in module.named_children():
            if type(child) is torch.nn.BatchNorm2d:
                new = cls(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats)
                new.load_state_dict(child.state_dict())
                new.to(child.weight.device)
                setattr(module, name, new)
            else:
                convert(child)
        return module

    return convert(model)
