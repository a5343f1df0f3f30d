"""A real Dask cluster (tace.parallel): a LocalCluster of two worker processes on the
loopback interface, reached by address as a user's cluster is, through the CLI's
--scheduler and DASK_SCHEDULER_ADDRESS. What it runs must be the same bytes as local work."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from joblib import delayed

from tace.parallel import SCHEDULER_ENV, ClusterError, parallel_map, scheduler_address, work_on

TACE = str(Path(sys.executable).with_name("tace"))

#: The environment before any cluster: a LocalCluster's nannies live in this process and set
#: OMP_NUM_THREADS=1 (Dask's pre-spawn-environ) in its environment for their workers, where
#: it would stay and give every later process one torch thread (other numerics, slower).
CLEAN_ENV = dict(os.environ)


def _restore_env() -> None:
    """Undo what the nannies set (only those variables: pytest keeps its own in os.environ)."""
    import dask

    for key in dask.config.get("distributed.nanny.pre-spawn-environ", {}):
        if key in CLEAN_ENV:
            os.environ[key] = CLEAN_ENV[key]
        else:
            os.environ.pop(key, None)


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes (one thread each) behind a scheduler on 127.0.0.1; yields its
    address and a client to ask the scheduler what ran."""
    distributed = pytest.importorskip("distributed")
    try:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      dashboard_address=None) as local, \
                distributed.Client(local.scheduler_address) as c:
            _restore_env()
            yield local.scheduler_address, c
    finally:
        _restore_env()


def _tace(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([TACE, *args], capture_output=True, text=True, encoding="utf-8", timeout=900,
                          env={**CLEAN_ENV, **(env or {})})


def test_a_local_cluster_leaves_this_process_environment_as_it_found_it(cluster):
    assert os.environ.get("OMP_NUM_THREADS") == CLEAN_ENV.get("OMP_NUM_THREADS")


def _digests(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name not in skip}


def _tasks_run(client) -> set[str]:
    """The names of the functions the scheduler ran (joblib batches are named after them)."""
    keys = client.run_on_scheduler(lambda dask_scheduler: [str(k) for k, *_ in dask_scheduler.transition_log])
    return {k.split("-")[0] for k in keys}


def test_synth_on_a_cluster_writes_the_same_twin_byte_for_byte(cluster, smoke_twin, tmp_path):
    address, client = cluster
    made = _tace("synth", "--out", str(tmp_path / "twin"), "--profile", "smoke", "--preview", "--scheduler", address)
    assert made.returncode == 0, made.stderr
    assert _digests(tmp_path / "twin") == _digests(smoke_twin)
    assert any("_write_case" in name for name in _tasks_run(client))  # drawn by the workers


def test_train_and_predict_on_a_cluster_give_the_local_bundle_and_scores_byte_for_byte(cluster, trained, smoke_twin,
                                                                                      tmp_path):
    """The cluster's run extracts every feature afresh (its own empty cache) on the workers;
    the bundle's files and the scores equal the local run's (the session's trained bundle,
    and `tace predict` on local cores), byte for byte."""
    address, client = cluster
    _, local = trained
    out = tmp_path / "models"
    run = _tace("train", "--cohort", str(smoke_twin / "manifest.csv"), "--profile", "smoke", "--out", str(out),
                "--cache-dir", str(tmp_path / "cache-cluster"), env={SCHEDULER_ENV: address})
    assert run.returncode == 0, run.stderr
    ran = _tasks_run(client)
    assert {"batch_of__extract_one_1_calls", "batch_of_check_image_pair_1_calls"} & ran
    assert any("_crops_from_paths" in name for name in ran)
    assert _digests(out / "bundle", skip=("manifest.json",)) == _digests(local.bundle, skip=("manifest.json",))
    hashes = [json.loads((folder / "manifest.json").read_text())["files"] for folder in (out / "bundle", local.bundle)]
    assert hashes[0] == hashes[1]

    scores = {}
    for where, extra in (("cluster", ["--scheduler", address]), ("local", ["--jobs", "2"])):
        scored = _tace("predict", "--models", str(out), "--cohort", str(smoke_twin / "manifest.csv"), "--out",
                       str(tmp_path / f"{where}.csv"), "--cache-dir", str(tmp_path / f"cache-{where}"), *extra)
        assert scored.returncode == 0, scored.stderr
        scores[where] = (tmp_path / f"{where}.csv").read_bytes()
    assert scores["cluster"] == scores["local"]


def _die_first_time(marker: Path, x: int) -> int:
    """Kill the worker process that runs this the first time (as a machine that fails)."""
    if not marker.exists():
        marker.write_text("a worker died here\n")
        os._exit(1)
    return 2 * x


def test_a_task_whose_worker_dies_runs_again_on_another(cluster, tmp_path):
    address, _ = cluster
    try:
        with work_on(address):
            out = list(parallel_map(delayed(_die_first_time)(tmp_path / "died", x) for x in range(6)))
    finally:
        _restore_env()  # the nanny that restarted the worker set its environment again
    assert out == [0, 2, 4, 6, 8, 10] and (tmp_path / "died").exists()


def test_no_scheduler_means_local_cores_and_an_unreachable_one_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    assert scheduler_address(None) is None
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://127.0.0.1:9")
    assert scheduler_address(None) == "tcp://127.0.0.1:9" and scheduler_address("tcp://h:1") == "tcp://h:1"
    with pytest.raises(ClusterError, match="no Dask scheduler answered at tcp://127.0.0.1:9"), \
            work_on("tcp://127.0.0.1:9", timeout_s=1):
        pass
    run = _tace("synth", "--out", str(tmp_path / "twin"), "--profile", "smoke", env={SCHEDULER_ENV: "tcp://127.0.0.1:9"})
    assert run.returncode == 1 and "no Dask scheduler answered at tcp://127.0.0.1:9" in run.stderr
    assert not (tmp_path / "twin").exists()
