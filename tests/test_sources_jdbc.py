"""Bronze from a real PostgreSQL server (scripts/services.sh): incremental reads by a
watermark with a lookback for late commits, deletes reaching silver, credentials from the
environment, a server that is down failing only its own table."""

from __future__ import annotations

from datetime import datetime

import pytest

from lakehouse import bronze, pipeline, silver
from lakehouse.bronze import jdbc
from lakehouse.config import load_project
from lakehouse.ops import run_log
from lakehouse.results import Status
from tests.landing import run_ctx
from tests.services import free_port, unique

BRONZE = """\
description: Shop sales lines, from the shops' database.
source:
  format: jdbc
  jdbc:
    url: {url}
    table: {table}
    watermark: updated_at
    lookback: 10 minutes
    compare_keys: [receipt_no, line_no]
    compare_every: {every}
    secrets: {{user: TEST_PG_USER, password: TEST_PG_PASSWORD}}
  schema:
    receipt_no: string
    line_no: int
    amount: decimal(12,2)
    updated_at: timestamp
"""

SILVER = """\
description: One row per shop sales line; deleted lines leave.
source: bronze.{name}
keys: [receipt_no, line_no]
sequence_by: updated_at
deleted_when: _source_deleted
columns:
  receipt_no: string
  line_no: int
  amount: decimal(12,2)
  updated_at: timestamp
"""


def t(minute: int) -> datetime:
    return datetime(2026, 11, 1, 10, minute)


@pytest.fixture
def db(services):
    table = unique("shop_sales")
    with services.pg() as conn:
        conn.execute(
            f"CREATE TABLE {table} (receipt_no text, line_no int, amount numeric(12,2),"
            " updated_at timestamp, PRIMARY KEY (receipt_no, line_no))"
        )
    return table


def make_project(conf, tmp_path, monkeypatch, tables: dict[str, tuple[str, str]], every="1 day"):
    for name, (url, table) in tables.items():
        (conf / "tables" / "bronze" / f"{name}.yaml").write_text(
            BRONZE.format(url=url, table=table, every=every)
        )
        (conf / "tables" / "silver" / f"{name}.yaml").write_text(SILVER.format(name=name))
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "warehouse"))
    monkeypatch.setenv("LAKEHOUSE_GX_VALIDATION", "false")
    return load_project(conf / "lakehouse.yaml")


def insert(services, table, *rows):
    with services.pg() as conn, conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s)", rows)


def landed(spark, project, ref):
    return spark.read.format("delta").load(project.table_path(project.table(ref)))


def test_incremental_reads_take_a_late_commit_within_the_lookback(
    spark, services, db, conf_copy, tmp_path, monkeypatch
):
    project = make_project(conf_copy, tmp_path, monkeypatch, {"db_sales": (services.jdbc_url, db)})
    table = project.table("bronze.db_sales")
    insert(services, db, ("r1", 1, 10, t(0)), ("r2", 1, 20, t(5)), ("r3", 1, 30, t(10)))

    assert bronze.ingest(spark, project, table, run_ctx("run-1")).rows_read == 3
    state = jdbc.last_state(spark, project.table_path(table))
    assert state.watermark == "2026-11-01 10:10:00.000000" and state.window_rows == 2

    # Nothing changed: the probe says so and nothing is read or appended.
    again = bronze.ingest(spark, project, table, run_ctx("run-2"))
    assert (
        again.status is Status.UP_TO_DATE and landed(spark, project, "bronze.db_sales").count() == 3
    )

    # A transaction that began before r3's committed after it: its updated_at (10:02) is below
    # the watermark, inside the 10-minute lookback, so the next run reads it.
    insert(services, db, ("r4", 1, 40, t(2)))
    late = bronze.ingest(spark, project, table, run_ctx("run-3"))
    rows = landed(spark, project, "bronze.db_sales")
    assert "r4" in {r.receipt_no for r in rows.collect()}
    # Re-read: only what lies inside the lookback (r2, r3, r4), never r1 (10:00) again.
    assert late.rows_read == 3 and rows.where("receipt_no = 'r1'").count() == 1

    silver.refresh(spark, project, project.table("silver.db_sales"), run_ctx("run-3"))
    got = landed(spark, project, "silver.db_sales")
    assert sorted((r.receipt_no, int(r.amount)) for r in got.collect()) == [
        ("r1", 10),
        ("r2", 20),
        ("r3", 30),
        ("r4", 40),
    ]


def test_a_row_deleted_in_the_database_leaves_silver(
    spark, services, db, conf_copy, tmp_path, monkeypatch
):
    # Keys are compared on every run here (a real table would do it nightly, say).
    project = make_project(
        conf_copy, tmp_path, monkeypatch, {"db_sales": (services.jdbc_url, db)}, every="0 minutes"
    )
    insert(services, db, ("r1", 1, 10, t(0)), ("r1", 2, 11, t(0)), ("r2", 1, 20, t(1)))
    run = pipeline.run(
        spark,
        project,
        run_ctx("run-1"),
        tables=[project.table("bronze.db_sales"), project.table("silver.db_sales")],
    )
    assert all(r.status == run_log.SUCCEEDED for r in run)
    assert landed(spark, project, "silver.db_sales").count() == 3

    with services.pg() as conn:
        conn.execute(f"DELETE FROM {db} WHERE receipt_no = 'r1' AND line_no = 2")
    pipeline.run(
        spark,
        project,
        run_ctx("run-2"),
        tables=[project.table("bronze.db_sales"), project.table("silver.db_sales")],
    )

    tombstones = landed(spark, project, "bronze.db_sales").where("_source_deleted")
    assert [(r.receipt_no, r.line_no) for r in tombstones.collect()] == [("r1", 2)]
    keys = sorted(
        (r.receipt_no, r.line_no) for r in landed(spark, project, "silver.db_sales").collect()
    )
    assert keys == [("r1", 1), ("r2", 1)]


def test_a_database_that_is_down_fails_its_table_naming_host_and_port(
    spark, services, db, conf_copy, tmp_path, monkeypatch
):
    closed = free_port()  # nothing listens there
    down_url = f"jdbc:postgresql://127.0.0.1:{closed}/retail"
    project = make_project(
        conf_copy,
        tmp_path,
        monkeypatch,
        {"db_sales": (services.jdbc_url, db), "db_down": (down_url, db)},
    )
    insert(services, db, ("r1", 1, 10, t(0)))
    tables = [project.table("bronze.db_down"), project.table("bronze.db_sales")]
    with pytest.raises(pipeline.PipelineFailed) as failed:
        pipeline.run(spark, project, run_ctx("run-1"), tables=tables)

    by_ref = {r.ref: r for r in failed.value.reports}
    assert by_ref["bronze.db_sales"].status == run_log.SUCCEEDED
    down = by_ref["bronze.db_down"]
    assert down.status == run_log.FAILED
    assert f"127.0.0.1:{closed}" in down.error and "bronze.db_down" in down.error
    assert services.password_file.read_text().strip() not in down.error


def test_credentials_come_from_the_environment_only(conf_copy, tmp_path, monkeypatch):
    from lakehouse.config import ConfigError

    body = BRONZE.format(url="jdbc:postgresql://127.0.0.1:1/x", table="t", every="1 day").replace(
        "secrets: {user: TEST_PG_USER, password: TEST_PG_PASSWORD}",
        "options: {password: hunter2}",
    )
    (conf_copy / "tables" / "bronze" / "db_inline.yaml").write_text(body)
    with pytest.raises(
        ConfigError,
        match=r"db_inline.yaml: source\.jdbc\.options\.password: a secret does not belong in YAML",
    ):
        load_project(conf_copy / "lakehouse.yaml")


QUERY = """\
description: Sales lines over a query, read in two partitions.
source:
  format: jdbc
  jdbc:
    url: {url}
    query: "SELECT receipt_no, line_no, amount * 2 AS amount, updated_at FROM {table}"
    watermark: updated_at
    partition_column: line_no
    num_partitions: 2
    secrets: {{user: TEST_PG_USER, password: TEST_PG_PASSWORD}}
  schema:
    receipt_no: string
    line_no: int
    amount: decimal(12,2)
    updated_at: timestamp
"""


def test_a_query_read_in_partitions_lands_every_row_once(
    spark, services, db, conf_copy, tmp_path, monkeypatch
):
    (conf_copy / "tables" / "bronze" / "db_query.yaml").write_text(
        QUERY.format(url=services.jdbc_url, table=db)
    )
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "warehouse"))
    project = load_project(conf_copy / "lakehouse.yaml")
    rows = [(f"r{i}", line, i, t(i % 50)) for i in range(40) for line in (1, 2, 3)]
    insert(services, db, *rows)
    assert (
        bronze.ingest(spark, project, project.table("bronze.db_query"), run_ctx("run-1")).rows_read
        == 120
    )
    got = landed(spark, project, "bronze.db_query")
    assert got.select("receipt_no", "line_no").distinct().count() == 120
    assert got.where("receipt_no = 'r7' AND line_no = 2").first().amount == 14
