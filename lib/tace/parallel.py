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
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from joblib import Parallel, parallel_config

__all__ = ["HANDSHAKE_TIMEOUT_S", "SCHEDULER_ENV", "ClusterError", "check_scheduler", "die_with_parent", "parallel_map",
           "parse_scheduler_address", "scheduler_address", "set_cpu_threads", "usable_cores", "work_on"]

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


#: Seconds a scheduler has to accept the connection and answer Dask's handshake.
HANDSHAKE_TIMEOUT_S = 10.0
#: The address schemes a scheduler may have: plain TCP, or TLS with Dask's certificates set.
SCHEMES = ("tcp", "tls")


def parse_scheduler_address(address: str) -> str:
    """``address`` checked and written out in full (``tcp://`` added when no scheme is given),
    without touching the network.

    Raises
    ------
    ClusterError
        Naming what is wrong: a scheme other than tcp or tls, no host, a port that is not a
        number in 1..65535, or tls without Dask's TLS settings.

    >>> parse_scheduler_address("10.0.0.5:8786")
    'tcp://10.0.0.5:8786'
    """
    from distributed.comm.addressing import parse_address, parse_host_port

    shown = repr(address) if len(address) <= 100 else repr(address[:100]) + "..."
    expected = "expected tcp://HOST:PORT (or tls://HOST:PORT with Dask's TLS settings), e.g. tcp://10.0.0.5:8786"
    text = address.strip()
    if not text or any(c.isspace() or not c.isprintable() for c in text):
        raise ClusterError(f"scheduler address {shown} is empty or holds spaces; {expected}")
    try:
        scheme, location = parse_address(text)
    except (ValueError, TypeError):
        raise ClusterError(f"scheduler address {shown} cannot be read; {expected}") from None
    if scheme not in SCHEMES:
        raise ClusterError(f"scheduler address {shown}: {scheme}:// is not a Dask scheduler address tace can "
                           f"reach; {expected}")
    try:
        host, port = parse_host_port(location)
    except (ValueError, TypeError):
        raise ClusterError(f"scheduler address {shown}: the port is missing or not a number; {expected}") from None
    if not host or not isinstance(port, int) or not 0 < port < 65536:
        raise ClusterError(f"scheduler address {shown}: host {host!r}, port {port!r}; {expected}")
    if scheme == "tls" and _tls_args() is None:
        raise ClusterError(f"scheduler address {shown}: tls:// needs Dask's TLS settings (distributed.comm.tls: "
                           "ca-file and client cert and key, in Dask's configuration or DASK_DISTRIBUTED__COMM__TLS__* "
                           "variables); none are set")
    return f"{scheme}://{location}"


def _tls_args() -> dict | None:
    """The client's TLS connection arguments from Dask's configuration, or None when unset."""
    from distributed.security import Security

    security = Security()
    if not (security.tls_ca_file and security.tls_client_cert):
        return None
    return security.get_connection_args("client")


def check_scheduler(address: str, timeout_s: float = HANDSHAKE_TIMEOUT_S) -> dict:
    """Connect to ``address`` and ask the scheduler who it is, all within ``timeout_s``
    seconds (a server that accepts the connection but never speaks Dask, a web server say,
    would otherwise hold the command for ever). Returns the scheduler's identity.

    Raises
    ------
    ClusterError
        When nothing answers, or what answers is not a Dask scheduler, within ``timeout_s``.
    """
    import asyncio

    from distributed.comm import connect

    args = _tls_args() if address.startswith("tls://") else {}

    async def ask() -> dict:
        comm = await connect(address, timeout=timeout_s, **(args or {}))
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    hint = (f"start one with 'dask scheduler' and workers with 'dask worker {address}', or leave out --scheduler "
            f"and {SCHEDULER_ENV} to work on local cores")
    loop = asyncio.new_event_loop()  # not asyncio.run: it would wait for a name lookup still under way
    try:
        identity = loop.run_until_complete(asyncio.wait_for(ask(), timeout_s))
    except TimeoutError:
        raise ClusterError(f"no Dask scheduler answered at {address} within {timeout_s:g} s; {hint}") from None
    except (OSError, ValueError, TypeError, EOFError) as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ClusterError(f"no Dask scheduler answered at {address} ({first}); {hint}") from None
    except Exception as exc:  # noqa: BLE001 (a stranger's bytes raise whatever msgpack or the comm raises)
        raise ClusterError(f"what answers at {address} is not a Dask scheduler ({type(exc).__name__}); {hint}") \
            from None
    finally:
        loop.close()
    if not isinstance(identity, dict) or identity.get("type") != "Scheduler":
        raise ClusterError(f"what answers at {address} is not a Dask scheduler; {hint}")
    return identity


@contextmanager
def work_on(address: str | None, *, timeout_s: float = HANDSHAKE_TIMEOUT_S) -> Iterator[object | None]:
    """Send :func:`parallel_map`'s work to the Dask scheduler at ``address`` while the block
    runs; with None, leave it on local cores. Yields the ``distributed.Client`` (or None).
    The address is checked (:func:`parse_scheduler_address`) and the scheduler asked who it
    is (:func:`check_scheduler`) before any work, within ``timeout_s`` seconds.

    Raises
    ------
    ClusterError
        When the address is malformed, or no scheduler answers at it within ``timeout_s`` seconds.
    """
    if address is None:
        yield None
        return
    from distributed import Client

    address = parse_scheduler_address(address)
    check_scheduler(address, timeout_s)
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
    if n_jobs == 1:
        return Parallel(n_jobs=1, return_as="generator")(jobs)
    # each worker ends itself when this process is gone, killed too hard to stop it (kill -9)
    return Parallel(n_jobs=n_jobs, return_as="generator", initializer=die_with_parent,
                    initargs=(os.getpid(),))(jobs)


#: Seconds between a worker's looks at whether the process that started it still lives.
PARENT_POLL_S = 1.0


def die_with_parent(parent_pid: int) -> None:
    """In a worker process: end it (``os._exit``) within :data:`PARENT_POLL_S` seconds of its
    parent's death. loky's workers otherwise wait out their idle timeout (300 s) after the
    parent was killed with SIGKILL, which no handler of the parent can catch; the kernel then
    gives the orphan a new parent, which a thread of the worker notices."""
    import threading

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    if os.getppid() != parent_pid:  # gone while this worker was starting
        os._exit(1)
    threading.Thread(target=watch, name="tace-parent-watch", daemon=True).start()


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
