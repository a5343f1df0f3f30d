"""The deep learning model: torchvision ResNet50 with a single logit, trained on 2.5D crops.

One training loop serves CPU and GPU. On CUDA the whole training set is moved to the
device once, augmentation runs there on whole batches (flips, rotation, small affine,
intensity jitter, all from one seeded generator), the forward pass runs under bf16
autocast, and ``torch.compile`` is optional; memory is channels_last on both devices. A
patient's score is the mean of its crops' probabilities, each crop scored as it is and flipped both ways
(:data:`TEST_TIME_VIEWS`).

Weights are saved with safetensors (no pickle). ImageNet weights can be loaded from a
local safetensors file; nothing is downloaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..parallel import set_cpu_threads

if TYPE_CHECKING:  # the settings are declared once, in the profile's schema
    from ..profiles import AugmentSettings, DCNNSettings

__all__ = ["CROP_VIEWS", "DCNN", "TEST_TIME_VIEWS", "TrainHistory", "apply_augmentation", "augment_batch",
           "build_resnet50", "draw_augmentation", "resnet50_shapes", "make_optimizer", "training_step"]


#: Ways a crop can be shown to the network: the dimensions of (N, 3, H, W) flipped.
CROP_VIEWS: dict[str, tuple[int, ...]] = {"as_is": (), "left_right": (3,), "up_down": (2,)}
#: The views a patient's crops are scored in (test-time augmentation). Training already flips
#: crops both ways, so these views are in distribution; averaging them removes the network's
#: leftover orientation preference. On a seed-7 twin with 300 test and 150 external patients,
#: over five trainings (16, 24 and 32 epochs, two seeds), it raised the test AUC by 0.006 to
#: 0.018 every time, moved the external AUC by -0.006 to +0.025, and raised Spearman's
#: correlation with the true imaging logit in 9 of 10 cohort-trainings (issue 11).
#: Written to a bundle's manifest and checked when the bundle is applied.
TEST_TIME_VIEWS: tuple[str, ...] = ("as_is", "left_right", "up_down")


@dataclass(frozen=True)
class TrainHistory:
    """Loss per epoch (and the learning rate it ended with)."""

    epoch: tuple[int, ...]
    loss: tuple[float, ...]
    lr: tuple[float, ...]
    images_per_second: float


def resnet50_shapes() -> dict[str, tuple[int, ...]]:
    """The shape of every tensor of torchvision's ResNet50 but its ``fc`` layer (built on the
    ``meta`` device: no memory, no weights), what a pretrained file must hold."""
    import torch
    import torchvision

    with torch.device("meta"):
        model = torchvision.models.resnet50(weights=None)
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.startswith("fc.")}


def build_resnet50(pretrained: str | Path | None = None):
    """ResNet50 with one output logit; ``pretrained`` is a local safetensors file of
    torchvision's ImageNet weights (its ``fc`` layer is replaced)."""
    import torch
    import torchvision

    model = torchvision.models.resnet50(weights=None, num_classes=1)
    if pretrained:
        from safetensors.torch import load_file

        state = load_file(str(pretrained))
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or {k for k in missing if not k.endswith("num_batches_tracked")} - {"fc.weight", "fc.bias"}:
            raise ValueError(f"{pretrained} does not hold ResNet50 weights (missing "
                             f"{sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})")
    with torch.no_grad():
        model.fc.bias.zero_()
    return model


def augment_batch(x, spec: AugmentSettings, generator):
    """Augment a batch (N, 3, H, W) on its own device with a seeded ``torch.Generator``."""
    return apply_augmentation(x, *draw_augmentation(x.shape[0], spec, generator, x.device))


def draw_augmentation(n: int, spec: AugmentSettings, generator, device):
    """The random part of the augmentation: per image an affine matrix (rotation, scale,
    flips, shift) and an intensity gain and offset, all from ``generator``."""
    import torch

    def uniform(lo, hi):
        return torch.rand((n,), generator=generator, device=device) * (hi - lo) + lo

    angle = uniform(-1, 1) * math.radians(spec.rotate_deg)
    scale = 1 + uniform(-1, 1) * spec.scale
    flip_x = torch.where(uniform(0, 1) < 0.5, -1.0, 1.0) if spec.flip else torch.ones(n, device=device)
    flip_y = torch.where(uniform(0, 1) < 0.5, -1.0, 1.0) if spec.flip else torch.ones(n, device=device)
    tx, ty = uniform(-1, 1) * spec.translate * 2, uniform(-1, 1) * spec.translate * 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip_x, -sin, tx], 1),
                         torch.stack([sin, cos * flip_y, ty], 1)], 1)
    gain = 1 + uniform(-1, 1) * spec.intensity
    shift = uniform(-1, 1) * spec.intensity
    return theta, gain, shift


def apply_augmentation(x, theta, gain, shift):
    """The deterministic part: resample ``x`` through ``theta`` (bilinear, border padding),
    then scale and shift intensities. Free of random state, so ``torch.compile`` can fuse it."""
    import torch.nn.functional as F

    n = x.shape[0]
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out * gain.view(n, 1, 1, 1).to(x.dtype) + shift.view(n, 1, 1, 1).to(x.dtype)


def make_optimizer(model, lr: float, weight_decay: float, cuda: bool):
    """AdamW; on CUDA its fused kernel (one launch for all 161 parameter tensors), on the
    CPU the default implementation, so that CPU results do not depend on the GPU path."""
    import torch

    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, fused=cuda or None)


def training_step(step_fn, opt, sched, augment: AugmentSettings | None, generator, cuda: bool,
                  compile_augment: bool = False, shard: tuple[int, int] = (0, 1)):
    """One optimisation step on a batch already on the device: augmentation (when given),
    channels_last, bf16 autocast on CUDA, BCE-with-logits, AdamW, scheduler. The same
    function serves training and ``benchmarks/bench_dcnn.py``. With ``compile_augment`` the
    resampling and intensity change run as one compiled kernel.

    With ``shard = (rank, world)`` and world > 1 (DistributedDataParallel,
    :mod:`tace.models.distributed`), the step is given the global batch, draws the
    augmentation for all of it (as one process would), and computes its own contiguous part;
    the part's loss is its share of the global batch's mean loss times ``world``, so that the
    gradients DDP averages are those of the global batch's mean loss."""
    import torch
    import torch.nn.functional as F

    apply = torch.compile(apply_augmentation, dynamic=False) if compile_augment else apply_augmentation
    rank, world = shard

    def step(xb, yb):
        n = xb.shape[0]
        drawn = draw_augmentation(n, augment, generator, xb.device) if augment is not None else None
        if world > 1:
            from .distributed import shard_bounds

            lo, hi = shard_bounds(n, rank, world)
            xb, yb = xb[lo:hi], yb[lo:hi]
            drawn = tuple(d[lo:hi] for d in drawn) if drawn is not None else None
        if drawn is not None:
            xb = apply(xb, *drawn)
        xb = xb.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=cuda):
            logits = step_fn(xb).float().squeeze(1)
        if world > 1:
            loss = F.binary_cross_entropy_with_logits(logits, yb, reduction="sum") * (world / n)
        else:  # the single-process step, unchanged to the bit
            loss = F.binary_cross_entropy_with_logits(logits, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        return loss.detach()

    return step


class DCNN:
    """A trained (or trainable) ResNet50 patient scorer."""

    def __init__(self, model=None, device: str | None = None):
        import torch

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = (model or build_resnet50()).to(self.device)

    @property
    def _cuda(self) -> bool:
        return self.device.startswith("cuda")

    def fit(self, crops: np.ndarray, owner: np.ndarray, y_patient: np.ndarray, spec: DCNNSettings,
            seed: int, progress: bool = False) -> TrainHistory:
        """Train on crops (N, 3, S, S) whose patient index is ``owner``; labels per patient.
        ``spec`` is the profile's ``dcnn`` section (epochs, batch size, optimiser, augmentation)."""
        import time

        import torch

        from .distributed import current_ranks, global_batch_norm

        ranks = current_ranks()  # several processes under torchrun (tace.models.distributed)
        if not self._cuda:
            set_cpu_threads(ranks.world)
        if spec.pretrained:
            self.model = build_resnet50(spec.pretrained).to(self.device)
        model = self.model
        # channels_last on both devices: on a 2-core CPU too, oneDNN's NHWC kernels train
        # ResNet50 at 64 px about 8% faster (59 -> 66 and 54 -> 59 images/s, measured twice)
        model = model.to(memory_format=torch.channels_last)
        net = model
        if ranks.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.model = model = global_batch_norm(model, self._cuda)
            net = DistributedDataParallel(model, device_ids=[torch.device(self.device).index] if self._cuda else None)
        # Static shapes: the last, smaller batch of an epoch costs one more compilation, not
        # slower dynamic-shape kernels for every batch.
        step_fn = torch.compile(net, dynamic=False) if spec.compile else net
        x_all = torch.as_tensor(crops, dtype=torch.float32, device=self.device)
        y_all = torch.as_tensor(np.asarray(y_patient, dtype=np.float32)[owner], device=self.device)
        n = x_all.shape[0]
        steps_per_epoch = max(1, math.ceil(n / spec.batch_size))
        opt = make_optimizer(model, spec.lr, spec.weight_decay, self._cuda)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=spec.epochs * steps_per_epoch)
        gen = torch.Generator(device=self.device).manual_seed(seed)
        losses, lrs = [], []
        epochs = range(spec.epochs)
        if progress:
            from rich.progress import track
            epochs = track(epochs, description="Training the DCNN")
        model.train()
        step = training_step(step_fn, opt, sched, spec.augment, gen, self._cuda, compile_augment=spec.compile,
                             shard=(ranks.rank, ranks.world))
        seen, t0 = 0, time.perf_counter()
        for _ in epochs:
            order = torch.randperm(n, generator=gen, device=self.device)
            total = torch.zeros((), dtype=torch.float64, device=self.device)  # no per-step sync
            used = 0
            for start in range(0, n, spec.batch_size):
                idx = order[start:start + spec.batch_size]
                if idx.numel() < 2:
                    continue  # BatchNorm needs two samples
                loss = step(x_all[idx], y_all[idx])
                total += loss.double() * idx.numel()
                used += idx.numel()
            seen += used
            if ranks.world > 1:  # each process holds its part's share times world
                torch.distributed.all_reduce(total)
                total /= ranks.world
            losses.append(float(total) / max(used, 1))  # the mean over the crops it trained on
            lrs.append(float(sched.get_last_lr()[0]))
        if self._cuda:
            torch.cuda.synchronize()
        # back to the layout a reloaded bundle has, so that the trained model and its saved
        # weights score every crop with the same kernels, bit for bit
        self.model.to(memory_format=torch.contiguous_format)
        rate = seen / max(time.perf_counter() - t0, 1e-9)
        return TrainHistory(tuple(range(1, spec.epochs + 1)), tuple(losses), tuple(lrs), rate)

    def predict_crops(self, crops: np.ndarray, batch_size: int = 128,
                      views: tuple[str, ...] = ("as_is",)) -> np.ndarray:
        """Probability of the positive class for each crop: the mean over ``views`` (any of
        :data:`CROP_VIEWS`), each flip applied per batch on the device."""
        import torch

        unknown = set(views) - set(CROP_VIEWS)
        if not views or unknown:
            raise ValueError(f"views must be some of {tuple(CROP_VIEWS)}, not {views!r}")
        model = self.model.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(crops), batch_size):
                xb = torch.as_tensor(crops[start:start + batch_size], dtype=torch.float32, device=self.device)
                n = xb.shape[0]
                # Every batch has batch_size crops (the last one padded with zeros): oneDNN
                # picks its kernels by batch size, and a crop's score must not change in its
                # last bit with the number of other patients scored alongside it.
                if n < batch_size:
                    xb = torch.cat([xb, xb.new_zeros((batch_size - n, *xb.shape[1:]))])
                p = torch.zeros(xb.shape[0], dtype=torch.float32, device=self.device)
                for view in views:
                    xv = torch.flip(xb, CROP_VIEWS[view]) if CROP_VIEWS[view] else xb
                    with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=self._cuda):
                        p += torch.sigmoid(model(xv).float().squeeze(1))
                out.append((p[:n] / len(views)).cpu().numpy())
        return np.concatenate(out) if out else np.empty(0, dtype=np.float32)

    def predict_patients(self, crops: np.ndarray, owner: np.ndarray, n_patients: int,
                         views: tuple[str, ...] = TEST_TIME_VIEWS) -> np.ndarray:
        """Patient score: the mean of its crops' probabilities, each crop scored in ``views``
        (by default :data:`TEST_TIME_VIEWS`, the test-time augmentation a bundle records)."""
        p = self.predict_crops(crops, views=views).astype(np.float64)
        return np.bincount(owner, weights=p, minlength=n_patients) / np.bincount(owner, minlength=n_patients)

    def save(self, path: Path) -> None:
        from safetensors.torch import save_file

        state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, str(path))

    @classmethod
    def load(cls, path: Path, device: str | None = None) -> DCNN:
        from safetensors.torch import load_file

        model = build_resnet50()
        model.load_state_dict(load_file(str(path)))
        return cls(model, device)
