"""Where the parallel work runs: this machine's cores, or a Dask cluster.

Every stage that maps one function over many patients (drawing the twin, checking the
images, extracting radiomics features, cutting the DCNN's crops) goes through
:func:`parallel_map`: one code path, which joblib runs on local worker processes (loky) or,
inside :func:`work_on` with a scheduler address, on a Dask cluster through joblib's Dask
backend. The tasks and their order are the same either way, so the results are the same
bytes; the cluster only changes where each task runs. Workers read the images by path (a
file system all of them see) and write the content-hash radiomics cache by temporary file
and rename, so a worker that dies mid-task leaves nothing half-written, and the scheduler
runs its task again on another worker (Dask's ``allowed-failures``, 3 by default).

Only tace's own maps go to the cluster: scikit-learn's and XGBoost's internal joblib use
stays local (the Dask backend is selected per call, not globally).

References
----------
Rocklin M. Dask: parallel computation with blocked algorithms and task scheduling. Proc. 14th
Python in Science Conf. 2015:130-136.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from joblib import Parallel, parallel_config

__all__ = ["SCHEDULER_ENV", "ClusterError", "parallel_map", "scheduler_address", "set_cpu_threads",
           "usable_cores", "work_on"]

#: The environment variable that names a running Dask scheduler (as Dask's own clients read it).
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"

_cluster: contextvars.ContextVar[str | None] = contextvars.ContextVar("tace_dask_cluster", default=None)


class ClusterError(RuntimeError):
    """The Dask scheduler named could not be reached."""


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, as a container or ``taskset``
    limits it), not the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def scheduler_address(option: str | None = None) -> str | None:
    """The scheduler to use: ``option`` (``--scheduler``), else :data:`SCHEDULER_ENV`, else
    None (local cores)."""
    value = (option or os.environ.get(SCHEDULER_ENV) or "").strip()
    return value or None


@contextmanager
def work_on(address: str | None, *, timeout_s: float = 10.0) -> Iterator[object | None]:
    """Send :func:`parallel_map`'s work to the Dask scheduler at ``address`` while the block
    runs; with None, leave it on local cores. Yields the ``distributed.Client`` (or None).

    Raises
    ------
    ClusterError
        When no scheduler answers at ``address`` within ``timeout_s`` seconds.
    """
    if address is None:
        yield None
        return
    from distributed import Client

    try:
        client = Client(address, timeout=f"{timeout_s}s", set_as_default=True)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"no Dask scheduler answered at {address} within {timeout_s:g} s ({exc}); start one "
                           f"with 'dask scheduler' and workers with 'dask worker {address}', or leave out "
                           f"--scheduler and {SCHEDULER_ENV} to work on local cores") from None
    token = _cluster.set(address)
    try:
        with client:
            yield client
    finally:
        _cluster.reset(token)


def parallel_map(jobs: Iterable, n_jobs: int = 1) -> Iterator:
    """Run joblib ``delayed`` calls and yield their results in order: on the Dask cluster of
    the enclosing :func:`work_on` (every worker), else on ``n_jobs`` local processes
    (-1: :func:`usable_cores`; 1: in this process)."""
    if _cluster.get() is not None:
        # joblib registers its Dask backend on first use of the name in parallel_config; the
        # Parallel object keeps the backend it was made with after the block
        with parallel_config(backend="dask"):
            return Parallel(n_jobs=-1, return_as="generator")(jobs)
    if n_jobs < 0:
        n_jobs = max(1, usable_cores() + 1 + n_jobs)
    return Parallel(n_jobs=n_jobs, return_as="generator")(jobs)


def set_cpu_threads(processes: int = 1) -> int:
    """Give torch's CPU work the usable cores shared among ``processes`` training processes
    (one per rank under ``torchrun``), and let its OpenMP threads sleep rather than spin when
    they wait (``OMP_WAIT_POLICY=PASSIVE``, unless set): a spinning thread holds its core
    while a competing process needs it, and on 2 cores that cost most of the speed
    (``benchmarks/bench_threads.py``). The wait policy is read when torch loads, so the
    command line sets it first; called later it only sets the thread count. An
    ``OMP_NUM_THREADS`` in the environment (``torchrun`` sets 1) is taken as it is. Returns
    the number of threads."""
    n = max(1, usable_cores() // max(processes, 1))
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():  # the user's (or torchrun's) choice stands
        n = max(1, int(os.environ["OMP_NUM_THREADS"]))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    torch.set_num_threads(n)
    return n
