"""The same spark-submit.sh against a real standalone cluster (a master and two workers started
by scripts/cluster.sh), from another working directory, with the warehouse, its checkpoints
and the landing area on a real S3 server (SeaweedFS), gives what local mode gives on disk."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from lakehouse import pipeline
from lakehouse.config import load_project
from lakehouse.storage import delta_log, hadoop_fs, object_store
from tests.conftest import CONF
from tests.services import started_services
from tests.test_crash import SELECTION
from tests.test_pipeline_e2e import day_one
from tests.test_runner import REPO
from tests.test_s3 import rows

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


@pytest.fixture(scope="module")
def s3(spark):
    with (
        started_services(("s3",), bucket=f"cluster-{uuid.uuid4().hex[:8]}") as svc,
        pytest.MonkeyPatch.context() as env,
    ):
        for key, value in svc.s3_env().items():
            env.setenv(key, value)
        object_store.configure(spark, load_project(CONF).settings.storage.s3)
        yield svc


def test_cluster_run_on_s3_equals_local_run(spark, s3, tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    s3_landing = f"s3a://{s3.bucket}/landing"
    roots = {"local": str(tmp_path / "local"), "cluster": f"s3a://{s3.bucket}/warehouse"}
    landings = {"local": str(landing), "cluster": s3_landing}
    # Personal data is hashed with a per-warehouse key unless one is given: share one.
    monkeypatch.setenv("LAKEHOUSE_PII_KEY", "cluster-and-local")
    projects = {}
    for name, root in roots.items():
        monkeypatch.setenv("LAKEHOUSE_ROOT", root)
        monkeypatch.setenv("LAKEHOUSE_LANDING", landings[name])
        projects[name] = load_project(CONF)
    day_one(projects["local"])  # lands locally, then the same files on S3
    fs, target = hadoop_fs.file_system(spark, s3_landing)
    fs.copyFromLocalFile(False, True, hadoop_fs.hadoop_path(spark, f"file:{landing}"), target)

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
            run_env = {**env, "LAKEHOUSE_ROOT": roots[name], "LAKEHOUSE_LANDING": landings[name]}
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
    local_paths = [str(tmp_path), "file:"]
    for path, text in texts(spark, roots["cluster"]):
        assert not any(p in text for p in local_paths), f"{path} names a local path"


def texts(spark, root: str):
    """(path, text) of every log, checkpoint and marker file under ``root`` (not data files)."""
    fs, top = hadoop_fs.file_system(spark, root)
    files = fs.listFiles(top, True)
    found = 0
    while files.hasNext():
        path = files.next().getPath().toString()
        if not path.endswith((".parquet", ".crc", ".bin")):
            found += 1
            yield path, delta_log.read_text(spark, path) or ""
    assert found > 20, f"only {found} log and checkpoint files under {root}"


def _selected(project) -> set[str]:
    refs = [SELECTION[i + 1] for i, a in enumerate(SELECTION) if a == "--table"]
    return {
        t.ref
        for t in pipeline.select(project, pipeline.Selection(tables=tuple(refs), upstream=True))
    }
