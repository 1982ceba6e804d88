"""The chaos drill on a tiny day per cycle (scripts/chaos.sh runs it at length): after a
first day run whole, data lands in files, Kafka and PostgreSQL, each run is killed with
kill -9 of its process group halfway and late in a run, one cycle restarting the broker and
one the database mid-run; after a clean run bronze holds exactly the rows sent, silver one
row per key, and gold equals a full rebuild."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from lakehouse.bench import chaos, chaos_checks
from lakehouse.simulator.systems import real_systems_project
from tests.conftest import CONF

pytestmark = pytest.mark.slow


@pytest.fixture
def folder():
    # A folder the postgres user can reach (pytest's tmp dirs are closed to other users).
    made = Path(tempfile.mkdtemp(prefix="lakehouse-chaos-test-"))
    made.chmod(0o755)
    yield made
    subprocess.run(["rm", "-rf", str(made)], check=False)


def test_killed_runs_and_restarted_servers_end_like_a_clean_run(request, folder, monkeypatch):
    # When to kill (a share of a run's length) and what to restart in the middle.
    # Early shares: a first build (the measured run) outlasts the daily runs that follow it.
    schedule = [(0.25, "kafka"), (0.4, "postgres")]
    drill = chaos.Drill(folder, cycles=len(schedule), seed=3, schedule=schedule)

    def check(drill):
        for name, value in drill.env().items():
            if os.environ.get(name) != value:
                monkeypatch.setenv(name, value)
        project = real_systems_project(CONF)
        spark = request.getfixturevalue("spark")  # started now: one JVM at a time
        return chaos_checks.check(spark, project, drill.incremental_gold)

    report = drill.run(check)
    print(f"\n{report.summary()}")
    assert report.failures == []
    assert any(c.outcome == "killed" for c in report.cycles), report.cycles
    assert {c.restart for c in report.cycles} == {"kafka", "postgres"}
    assert report.final_exit == 0
    assert report.checks["bronze.orders"]["sent"] > 0
    assert report.checks["bronze.pos_sales"]["database_rows"] > 0
