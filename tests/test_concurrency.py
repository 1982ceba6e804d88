"""Two runs on one warehouse: the second stops with a clear message, or waits its turn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lakehouse.ops.warehouse_lock import LockBusy, LockOwner, WarehouseLock, lock_path
from tests.test_runner import REPO, small_drop, submit


def test_second_holder_is_refused_until_release(tmp_path):
    path = str(tmp_path / "lock")
    first = WarehouseLock(path, LockOwner(run_id="a", job="pipeline")).acquire()
    second = WarehouseLock(path, LockOwner(run_id="b", job="pipeline"))
    with pytest.raises(LockBusy, match=r"pipeline run a \(pid"):
        second.acquire(wait_seconds=0)
    first.release()
    second.acquire(wait_seconds=0)
    assert second.holder().run_id == "b"
    second.release()
    assert not Path(path).exists()


def test_lock_of_a_dead_process_is_taken_over(tmp_path):
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    path = str(tmp_path / "lock")
    dead = LockOwner(run_id="dead", job="pipeline", pid=int(gone.stdout))
    Path(path).write_text(dead.to_json())
    lock = WarehouseLock(path, LockOwner(run_id="next", job="pipeline")).acquire()
    assert lock.taken_over == dead
    lock.release()


def test_lock_not_renewed_elsewhere_is_stale(tmp_path):
    path = str(tmp_path / "lock")
    other_host = LockOwner(
        run_id="far",
        job="pipeline",
        host=f"not-{socket.gethostname()}",
        renewed_at=time.time() - 60,
    )
    Path(path).write_text(other_host.to_json())
    with pytest.raises(LockBusy):
        WarehouseLock(path, LockOwner(run_id="x", job="pipeline"), stale_after=600).acquire()
    lock = WarehouseLock(path, LockOwner(run_id="y", job="pipeline"), stale_after=30).acquire()
    assert lock.taken_over.run_id == "far"
    lock.release()


@pytest.mark.slow
def test_two_real_runs_at_once(spark, project):
    small_drop(project)
    root = Path(project.root)
    lock_file = Path(lock_path(project.root, project.settings.operations.lock))
    env = {**os.environ, "LAKEHOUSE_ROOT": str(root)}
    args = ["pipeline", "--table", "silver.orders", "--upstream", "--run-id", "first"]
    first = subprocess.Popen(
        [str(REPO / "spark-submit.sh"), *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not lock_file.exists():
            assert first.poll() is None, first.stdout.read()
            assert time.monotonic() < deadline
            time.sleep(0.2)

        refused = submit("pipeline", "--layer", "bronze", root=root)
        assert refused.returncode == 4, refused.stdout[-2000:]
        assert "locked by pipeline run first" in refused.stdout + refused.stderr

        # The third one queues behind the first and then does its own (now empty) work.
        queued = submit(
            "pipeline",
            "--table",
            "bronze.orders",
            "--wait",
            "600",
            "--run-id",
            "queued",
            root=root,
            timeout=900,
        )
        out = first.communicate(timeout=600)[0]
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, out[-3000:]
    assert queued.returncode == 0, queued.stdout[-3000:]
    assert "waiting: warehouse is locked by pipeline run first" in queued.stdout
    assert not lock_file.exists()

    orders = spark.read.format("delta").load(project.table_path(project.table("bronze.orders")))
    assert orders.count() == 3  # taken once, by the first run
    assert {r._run_id for r in orders.select("_run_id").collect()} == {"first"}
    silver = spark.read.format("delta").load(project.table_path(project.table("silver.orders")))
    assert sorted(r.order_id for r in silver.collect()) == ["O1", "O2"]
