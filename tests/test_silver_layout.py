"""Silver laid out by the day its keys carry (partitioned by its month): new keys are appended,
updates MERGE only their days, with deletion vectors instead of rewritten files."""

from __future__ import annotations

from delta.tables import DeltaTable

from lakehouse import pipeline
from lakehouse.storage.key_date_layout import KEY_DATE_COLUMN, KEY_MONTH_COLUMN
from tests.landing import csv, drop, run_ctx
from tests.test_pipeline_e2e import ORDERS


def order(order_id: str, status: str, at: str) -> str:
    return f"{order_id},C1,S0,web,{at},{status},,,{at}"


def refresh_orders(spark, project, run_id: str) -> None:
    tables = [project.table("bronze.orders"), project.table("silver.orders")]
    pipeline.run(spark, project, run_ctx(run_id), tables)


def test_new_days_are_appended_and_an_update_merges_only_its_day(spark, project):
    path = project.table_path(project.table("silver.orders"))
    drop(
        project,
        "bronze.orders",
        "orders_2026-03-01.csv",
        csv(
            ORDERS,
            order("O20260301-0000001", "placed", "2026-03-01T10:00:00Z"),
            order("O20260301-0000002", "placed", "2026-03-01T11:00:00Z"),
            *(order(f"O20260301-000001{i}", "placed", "2026-03-01T11:30:00Z") for i in range(6)),
            order("BROKEN-ID", "placed", "2026-03-01T12:00:00Z"),  # no day: the null partition
        ),
    )
    refresh_orders(spark, project, "day-1")
    drop(
        project,
        "bronze.orders",
        "orders_2026-03-02.csv",
        csv(ORDERS, order("O20260302-0000001", "placed", "2026-03-02T10:00:00Z")),
    )
    refresh_orders(spark, project, "day-2")
    drop(
        project,
        "bronze.orders",
        "orders_2026-03-03.csv",
        csv(
            ORDERS,
            order("O20260301-0000001", "paid", "2026-03-03T09:00:00Z"),
            order("O20260303-0000001", "placed", "2026-03-03T10:00:00Z"),
        ),
    )
    refresh_orders(spark, project, "day-3")

    table = DeltaTable.forPath(spark, path)
    assert table.detail().first()["partitionColumns"] == [KEY_MONTH_COLUMN]
    commits = table.history().orderBy("version").collect()
    operations = [c["operation"] for c in commits]
    # Created, the first batch appended, the second (all new keys) appended, the third merged.
    assert operations == ["CREATE TABLE", "WRITE", "WRITE", "MERGE"]
    # An append writes one file per month, whichever tasks its keys fell in (March and null).
    assert int(commits[1]["operationMetrics"]["numFiles"]) == 2
    merge = commits[-1]
    # The update marked its old row deleted in place; no file was rewritten, and the file of
    # 03-02 (same month, other day) was skipped by its statistics.
    assert int(merge["operationMetrics"]["numTargetDeletionVectorsAdded"]) == 1
    assert int(merge["operationMetrics"]["numTargetFilesRemoved"]) == 0
    predicate = merge["operationParameters"]["predicate"]
    assert "2026-03-01" in predicate and "2026-03-03" in predicate and "2026-03-02" not in predicate
    assert KEY_MONTH_COLUMN in predicate

    rows = {r.order_id: r for r in spark.read.format("delta").load(path).collect()}
    assert rows["O20260301-0000001"].status == "paid"
    assert str(rows["O20260303-0000001"][KEY_DATE_COLUMN]) == "2026-03-03"
    assert str(rows["O20260303-0000001"][KEY_MONTH_COLUMN]) == "2026-03-01"
    assert rows["BROKEN-ID"][KEY_DATE_COLUMN] is None
    assert len(rows) == 11


def test_a_table_made_with_day_partitions_keeps_them(spark, project):
    """A warehouse from before the month layout: its day-partitioned silver table takes new
    days and updates as before, without the month column."""
    from lakehouse.silver.conform import silver_schema
    from lakehouse.storage import delta_tables, key_date_layout

    table = project.table("silver.orders")
    path = project.table_path(table)
    schema = key_date_layout.layout_schema(silver_schema(table.spec))
    day_schema = type(schema)([f for f in schema.fields if f.name != KEY_MONTH_COLUMN])
    delta_tables.ensure_table(
        spark,
        path,
        day_schema,
        (KEY_DATE_COLUMN,),
        {**delta_tables.CHANGE_FEED, **key_date_layout.TABLE_PROPERTIES},
    )
    for day, rows in (
        ("2026-03-01", [order("O20260301-0000001", "placed", "2026-03-01T10:00:00Z")]),
        (
            "2026-03-02",
            [
                order("O20260301-0000001", "paid", "2026-03-02T09:00:00Z"),
                order("O20260302-0000001", "placed", "2026-03-02T10:00:00Z"),
            ],
        ),
    ):
        drop(project, "bronze.orders", f"orders_{day}.csv", csv(ORDERS, *rows))
        refresh_orders(spark, project, f"day-{day}")

    table = DeltaTable.forPath(spark, path)
    assert table.detail().first()["partitionColumns"] == [KEY_DATE_COLUMN]
    assert KEY_MONTH_COLUMN not in table.toDF().columns
    statuses = {r.order_id: r.status for r in table.toDF().collect()}
    assert statuses == {"O20260301-0000001": "paid", "O20260302-0000001": "placed"}
    assert table.history(1).first()["operation"] == "MERGE"
