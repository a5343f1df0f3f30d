"""One place that makes a run reproducible: ``set_determinism(seed)``."""

from __future__ import annotations

import os
import random

import numpy as np

__all__ = ["set_determinism"]


def set_determinism(seed: int) -> None:
    """Seed Python, NumPy and torch, and ask torch for deterministic kernels.

    On the CPU this makes training bit-for-bit reproducible for a fixed thread count. On
    CUDA it selects deterministic algorithms (``CUBLAS_WORKSPACE_CONFIG`` is set for cuBLAS);
    a few GPU kernels have no deterministic version, and torch then warns.
    """
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
