"""Kafka to bronze across process deaths, with a real broker: kill -9 in the middle of the
daily run, and the continuous job stopped (SIGTERM) and restarted. Nothing lost, nothing
doubled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.services import unique
from tests.test_crash import kill_when
from tests.test_runner import REPO

pytestmark = pytest.mark.slow

TABLE = """\
description: Web orders published by the e-commerce system.
source:
  format: kafka
  kafka:
    bootstrap_servers: {bootstrap}
    topic: {topic}
    max_offsets_per_batch: {per_batch}
  schema:
    order_id: string
    quantity: int
"""


@pytest.fixture
def setup(conf_copy, tmp_path, services):
    topic = unique("orders")
    (conf_copy / "tables" / "bronze" / "kafka_orders.yaml").write_text(
        TABLE.format(bootstrap=services.bootstrap, topic=topic, per_batch=150)
    )
    root = tmp_path / "warehouse"
    env = {
        **os.environ,
        "LAKEHOUSE_CONF": str(conf_copy / "lakehouse.yaml"),
        "LAKEHOUSE_ROOT": str(root),
        "LAKEHOUSE_GX_VALIDATION": "false",
        "LAKEHOUSE_DRIVER_MEMORY": "1g",
    }
    return topic, root, env


def messages(first: int, last: int) -> list[str]:
    return [json.dumps({"order_id": f"o{i}", "quantity": i}) for i in range(first, last)]


def submit(env, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(REPO / "spark-submit.sh"), *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def offsets(spark, root: Path) -> list[int]:
    df = spark.read.format("delta").load(str(root / "bronze" / "kafka_orders"))
    return sorted(r._kafka_offset for r in df.select("_kafka_offset").collect())


def committed_batches(root: Path) -> int:
    log = root / "bronze" / "kafka_orders" / "_delta_log"
    return sum('"txn":' in f.read_text() for f in log.glob("*.json")) if log.exists() else 0


def test_daily_run_killed_mid_stream_lands_each_message_once(spark, services, setup):
    topic, root, env = setup
    services.produce(topic, messages(0, 900))  # six batches of 150
    checkpoint = root / "_checkpoints" / "bronze" / "kafka_orders" / "stream"
    points = [
        ("second batch planned", lambda: (checkpoint / "offsets" / "1").exists()),
        ("a batch committed to Delta", lambda: committed_batches(root) >= 3),
    ]
    for moment, reached in points:
        process = submit(env, "pipeline", "--table", "bronze.kafka_orders")
        died = kill_when(process, reached)
        assert died, f"{moment}: the run ended first:\n{process.stdout.read()[-3000:]}"
    finish = submit(env, "pipeline", "--table", "bronze.kafka_orders")
    out = finish.communicate(timeout=600)[0]
    assert finish.returncode == 0, out[-3000:]
    assert offsets(spark, root) == list(range(900))


def stop_driver(process: subprocess.Popen) -> str:
    """SIGTERM to the job's Python driver alone, as an operator would send it (the JVM below
    it must not die first), and its output once it has stopped."""
    drivers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ours = int(fields[2]) == process.pid and b"python" in cmdline[0]
        if ours and any(a.endswith(b"jobs/stream.py") for a in cmdline):
            drivers.append(int(stat.parent.name))
    assert len(drivers) == 1, f"expected one driver process, found {drivers}"
    os.kill(drivers[0], signal.SIGTERM)
    return process.communicate(timeout=180)[0]


def wait_for(condition, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    raise AssertionError("not reached in time")


def test_continuous_job_stopped_and_restarted_loses_and_doubles_nothing(spark, services, setup):
    topic, root, env = setup
    services.produce(topic, messages(0, 300))
    stream = submit(env, "stream", "--table", "bronze.kafka_orders", "--interval", "2 seconds")
    try:
        wait_for(lambda: committed_batches(root) >= 2)  # running, and reading as it goes
        services.produce(topic, messages(300, 400))
        out = stop_driver(stream)
    finally:
        if stream.poll() is None:
            os.killpg(stream.pid, signal.SIGKILL)
    assert stream.returncode == 0, out[-3000:]
    assert "stopped" in out

    services.produce(topic, messages(400, 500))  # while nothing runs
    stream = submit(env, "stream", "--table", "bronze.kafka_orders", "--interval", "2 seconds")
    try:
        wait_for(lambda: len(offsets(spark, root)) >= 500)
        out = stop_driver(stream)
    finally:
        if stream.poll() is None:
            os.killpg(stream.pid, signal.SIGKILL)
    assert stream.returncode == 0, out[-3000:]
    assert offsets(spark, root) == list(range(500))
