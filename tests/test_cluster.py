"""The same spark-submit.sh against a real standalone cluster (a master and two workers started
by scripts/cluster.sh), from another working directory, gives what local mode gives."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from lakehouse import pipeline
from lakehouse.config import load_project
from tests.conftest import CONF
from tests.test_crash import SELECTION, rows
from tests.test_pipeline_e2e import day_one
from tests.test_runner import REPO

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cluster(command: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(REPO / "scripts" / "cluster.sh"), command],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_cluster_run_equals_local_run(spark, tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    roots = {"local": tmp_path / "local", "cluster": tmp_path / "cluster"}
    monkeypatch.setenv("LAKEHOUSE_LANDING", str(landing))
    # Personal data is hashed with a per-warehouse key unless one is given: share one.
    monkeypatch.setenv("LAKEHOUSE_PII_KEY", "cluster-and-local")
    projects = {}
    for name, root in roots.items():
        monkeypatch.setenv("LAKEHOUSE_ROOT", str(root))
        projects[name] = load_project(CONF)
    day_one(projects["local"])

    state = tmp_path / "cluster-state"
    env = {
        **os.environ,
        "CLUSTER_PORT": str(free_port()),
        "CLUSTER_UI_PORT": str(free_port()),
        "CLUSTER_DIR": str(state),
        "CLUSTER_WORKER_MEMORY": "768m",
    }
    elsewhere = tmp_path / "elsewhere"  # nothing may depend on the driver's working directory
    elsewhere.mkdir()
    seconds = {}
    try:
        master = cluster("start", env).splitlines()[-1]
        assert master.startswith("spark://127.0.0.1:")
        for name, extra in (
            ("local", []),
            ("cluster", ["--master", master, "--executor-memory", "512m"]),
        ):
            run_env = {**env, "LAKEHOUSE_ROOT": str(roots[name]), "LAKEHOUSE_LANDING": str(landing)}
            run_env.pop("LAKEHOUSE_CONF", None)
            profile = ["--profile", "cluster"] if name == "cluster" else []
            started = time.monotonic()
            done = subprocess.run(
                [str(REPO / "spark-submit.sh"), *extra, "pipeline", *profile, *SELECTION],
                cwd=elsewhere,
                env=run_env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            seconds[name] = time.monotonic() - started
            assert done.returncode == 0, f"{name}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
        executors = list(Path(state).glob("worker-*/app-*/*/stderr"))
        assert len({p.parts[-4] for p in executors}) == 2, "both workers ran executors"
    finally:
        cluster("stop", env)

    print(f"\nlocal run {seconds['local']:.0f}s, cluster run {seconds['cluster']:.0f}s")
    for table in projects["local"].tables.values():
        if f"{table.ref}" not in _selected(projects["local"]):
            continue
        assert rows(spark, projects["cluster"], table) == rows(spark, projects["local"], table), (
            table.ref
        )
    assert not list(elsewhere.iterdir()), "the run left files in the working directory"


def _selected(project) -> set[str]:
    refs = [SELECTION[i + 1] for i, a in enumerate(SELECTION) if a == "--table"]
    return {
        t.ref
        for t in pipeline.select(project, pipeline.Selection(tables=tuple(refs), upstream=True))
    }
