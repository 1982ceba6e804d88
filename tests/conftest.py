"""One local Delta-enabled SparkSession for the whole suite, and per-test warehouses."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lakehouse.config import Project, load_project
from lakehouse.runtime.session import build_session
from tests.services import monkeypatch_session_env, services  # noqa: F401  (real servers)

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf" / "lakehouse.yaml"


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    project = load_project(CONF)
    session = build_session(
        project,
        "local",
        app_name="lakehouse-tests",
        overrides={
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("spark-warehouse")),
        },
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def project(tmp_path, monkeypatch) -> Project:
    """The real configuration, with its warehouse (and landing area) in a fresh folder.

    GX's own validation report is off here (it costs seconds per batch); the rules still run
    as Spark checks. tests/test_quality.py covers GX.
    """
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "warehouse"))
    monkeypatch.delenv("LAKEHOUSE_LANDING", raising=False)
    monkeypatch.setenv("LAKEHOUSE_GX_VALIDATION", "false")
    return load_project(CONF)


@pytest.fixture
def conf_copy(tmp_path) -> Path:
    """A writable copy of conf/ (and the expectations/ it refers to), for tests that break or
    extend the configuration."""
    target = tmp_path / "conf"
    shutil.copytree(REPO / "conf", target)
    shutil.copytree(REPO / "expectations", tmp_path / "expectations")
    return target
