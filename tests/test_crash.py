"""Kill the runner process (SIGKILL, whole process group) at several points of bronze, silver
and gold, run it again, and compare the tables with one uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lakehouse import pipeline
from lakehouse.config import load_project
from lakehouse.ops import run_log
from tests.conftest import CONF
from tests.landing import run_ctx
from tests.test_pipeline_e2e import day_one
from tests.test_runner import REPO

pytestmark = pytest.mark.slow

# One small chain from landing to gold: every layer, cheap enough to run six times.
SELECTION = ["--table", "gold.dim_customer", "--upstream"]
VARIES = ("_ingested_at", "_run_id")  # when and by which run; everything else must match


def kill_points(project):
    """Moments worth dying in, in the order a run reaches them: a file that appears then."""

    def committed(ref: str) -> Callable[[], bool]:
        """A micro-batch's write committed: its commit carries the stream's transaction id."""
        log = Path(project.table_path(project.table(ref))) / "_delta_log"
        return lambda: any('"txn":' in f.read_text() for f in sorted(log.glob("*.json")))

    def planned(ref: str) -> Callable[[], bool]:
        return (Path(project.checkpoint_path(project.table(ref))) / "offsets" / "0").exists

    def table_dir(ref: str) -> Path:
        return Path(project.table_path(project.table(ref)))

    def written_not_committed(ref: str) -> Callable[[], bool]:
        """A gold build's data files are in the table's folder; its log has no commit yet."""
        return lambda: (
            any(table_dir(ref).rglob("*.parquet"))
            and not any((table_dir(ref) / "_delta_log").glob("*.json"))
        )

    def refresh_committed(ref: str) -> Callable[[], bool]:
        """A gold refresh committed, carrying the input versions it consumed."""
        log = table_dir(ref) / "_delta_log"
        return lambda: any('"userMetadata":' in f.read_text() for f in sorted(log.glob("*.json")))

    return [
        ("bronze batch planned, nothing written", planned("bronze.customers")),
        ("bronze append committed, stream not", committed("bronze.customers")),
        # A new table's first batch is appended: a replay must not append it twice.
        ("silver first append committed, stream not", committed("silver.customers")),
        # Gold runs no stream: what it consumed commits with what it wrote, or not at all.
        ("gold files written, nothing committed", written_not_committed("gold.dim_customer")),
        ("gold first build committed, run not ended", refresh_committed("gold.dim_customer")),
    ]


def start(env):
    return subprocess.Popen(
        [str(REPO / "spark-submit.sh"), "pipeline", *SELECTION],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the JVM and Python die together
    )


def kill_when(process, reached: Callable[[], bool], timeout: float = 600) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if reached():
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError(f"not reached in {timeout}s")


def rows(spark, project, table):
    df = spark.read.format("delta").load(project.table_path(table))
    return sorted(map(tuple, df.drop(*[c for c in VARIES if c in df.columns]).collect()), key=repr)


def test_killed_runs_end_like_one_clean_run(spark, tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    monkeypatch.setenv("LAKEHOUSE_LANDING", str(landing))
    # Personal data is hashed with a per-warehouse key unless one is given: share one.
    monkeypatch.setenv("LAKEHOUSE_PII_KEY", "kill-and-compare")
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "killed"))
    killed = load_project(CONF)
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "clean"))
    clean = load_project(CONF)
    day_one(killed)  # the same files feed both warehouses

    selection = pipeline.Selection(tables=("gold.dim_customer",), upstream=True)
    tables = pipeline.select(clean, selection)
    pipeline.run(spark, clean, run_ctx("clean"), tables=tables)

    env = {**os.environ, "LAKEHOUSE_ROOT": killed.root, "LAKEHOUSE_LANDING": str(landing)}
    outcomes = []
    for moment, reached in kill_points(killed):
        assert not reached(), f"{moment}: reached by an earlier run already"
        process = start(env)
        died = kill_when(process, reached)
        outcomes.append((moment, died, process.returncode))
        assert died, f"{moment}: the run finished before the marker appeared"
        assert process.returncode == -signal.SIGKILL

    finish = start(env)
    out = finish.communicate(timeout=900)[0]
    assert finish.returncode == 0, out[-3000:]
    assert "took over the lock" in out

    for table in tables:
        got, want = rows(spark, killed, table), rows(spark, clean, table)
        assert got == want, f"{table.ref} differs after {len(outcomes)} kills"
    for ref in ("silver.customers", "gold.dim_customer"):
        df = spark.read.format("delta").load(killed.table_path(killed.table(ref)))
        key = "customer_id"
        assert df.groupBy(key).count().where("count > 1").count() == 0

    log = run_log.RunLog(spark, run_log.run_log_path(killed)).latest()
    abandoned = log.where(f"table IS NULL AND status = '{run_log.ABANDONED}'").count()
    assert abandoned == len(outcomes)
    print("\n".join(f"killed at: {m} (exit {rc})" for m, _, rc in outcomes))
