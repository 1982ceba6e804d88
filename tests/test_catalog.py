"""Tables by name: the pipeline names every table it writes in its layer's database; with a Hive
metastore in a real PostgreSQL (scripts/services.sh, one server for this module) another
process finds them there."""

from __future__ import annotations

import json
import os
import subprocess

import psycopg
import pytest

from lakehouse import pipeline
from lakehouse.config import load_project
from tests.conftest import CONF, REPO
from tests.landing import run_ctx
from tests.services import started_services
from tests.test_crash import SELECTION
from tests.test_pipeline_e2e import day_one


def test_the_pipeline_names_every_table_it_writes(spark, project):
    day_one(project)
    tables = pipeline.select(project, pipeline.Selection(tables=(SELECTION[1],), upstream=True))
    pipeline.run(spark, project, run_ctx("names"), tables=tables)
    for table in tables:
        by_name = spark.table(table.ref)
        by_path = spark.read.format("delta").load(project.table_path(table))
        assert by_name.count() == by_path.count(), table.ref
    assert {t.layer for t in tables} == {"bronze", "silver", "gold"}


@pytest.fixture(scope="module")
def postgres():
    with started_services(("postgres",)) as svc:
        yield svc


def submit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(REPO / "spark-submit.sh"), "--master", "local[2]", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, f"{args}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_another_process_queries_the_tables_by_name(postgres, tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "warehouse"))
    monkeypatch.setenv("LAKEHOUSE_LANDING", str(tmp_path / "landing"))
    day_one(load_project(CONF))
    env = {
        **os.environ,
        **postgres.metastore_env(),
        "LAKEHOUSE_PII_KEY": "catalog",
        "LAKEHOUSE_DRIVER_MEMORY": "1g",
    }
    env.pop("LAKEHOUSE_CONF", None)
    # One process runs the day with the cluster profile: its metastore is PostgreSQL's.
    submit("pipeline", "--profile", "cluster", *SELECTION, env=env)
    # Another, started later, knows the tables by name only.
    done = submit(
        *("sql", "--profile", "cluster", "--json", "-e"),
        "SELECT 'bronze' AS db, count(*) AS n FROM bronze.customers "
        "UNION ALL SELECT 'silver', count(*) FROM silver.customers "
        "UNION ALL SELECT 'gold', count(*) FROM gold.dim_customer",
        env=env,
    )
    counts = {r["db"]: r["n"] for r in map(json.loads, done.stdout.strip().splitlines()[-3:])}
    assert set(counts) == {"bronze", "silver", "gold"} and min(counts.values()) > 0, counts
    # The names are rows of the metastore's database.
    with psycopg.connect(
        host="127.0.0.1",
        port=postgres.pg_port,
        dbname="metastore",
        user="lakehouse",
        password=postgres.password_file.read_text().strip(),
    ) as conn:
        names = conn.execute(
            'SELECT d."NAME", t."TBL_NAME" FROM "TBLS" t JOIN "DBS" d ON d."DB_ID" = t."DB_ID"'
        ).fetchall()
    assert {("bronze", "customers"), ("silver", "customers"), ("gold", "dim_customer")} <= set(
        names
    )
