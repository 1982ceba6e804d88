"""Silver's transformations: typing, rejection, latest version per key, late versions."""

from __future__ import annotations

from datetime import datetime

from chispa import assert_df_equality
from delta.tables import DeltaTable

from lakehouse.bronze.columns import CORRUPT_RECORD
from lakehouse.config.tables import ColumnSpec, SilverSpec
from lakehouse.silver.conform import conform, sequence_columns, silver_schema
from lakehouse.silver.latest import latest_per_key, merge_latest
from lakehouse.silver.micro_batch import split_rejected
from lakehouse.storage import delta_tables

SPEC = SilverSpec(
    source="bronze.orders",
    keys=("order_id",),
    sequence_by=("updated_at",),
    columns={
        "order_id": ColumnSpec(type="string"),
        "status": ColumnSpec(type="string", expr="lower(trim(status))"),
        "updated_at": ColumnSpec(type="timestamp", expr="try_to_timestamp(updated_at)"),
    },
)
BRONZE_SCHEMA = (
    f"order_id string, status string, updated_at string, {CORRUPT_RECORD} string, "
    "_source_file string, _source_modified_at timestamp, _source_offset long, _source_row long, "
    "_ingested_at timestamp, _run_id string"
)
T0 = datetime(2026, 3, 1, 8, 0)


def bronze_rows(spark, rows):
    """rows: (order_id, status, updated_at, corrupt, file, row)"""
    data = [(o, s, u, c, f, T0, 0, r, T0, "bronze-run") for o, s, u, c, f, r in rows]
    return spark.createDataFrame(data, BRONZE_SCHEMA)


def test_conform_types_and_harmonises(spark):
    batch = bronze_rows(spark, [("O1", " PAID ", "2026-03-01T10:00:00+01:00", None, "a.csv", 1)])
    out = conform(batch, SPEC, "run-1").select("order_id", "status", "updated_at", "_run_id")
    expected = spark.createDataFrame(
        [("O1", "paid", datetime(2026, 3, 1, 9, 0), "run-1")], out.schema
    )
    assert_df_equality(out, expected)


def test_unparsable_value_becomes_null_instead_of_failing(spark):
    batch = bronze_rows(spark, [("O1", "paid", "not a time", None, "a.csv", 1)])
    assert conform(batch, SPEC, "r").first()["updated_at"] is None


def test_malformed_and_keyless_rows_are_rejected(spark):
    batch = bronze_rows(
        spark,
        [
            ("O1", "paid", "2026-03-01T10:00:00Z", None, "a.csv", 1),
            (None, None, None, 'O2,"broken', "a.csv", 2),
            (None, "paid", "2026-03-01T10:00:00Z", None, "a.csv", 3),
        ],
    )
    accepted, rejected = split_rejected(conform(batch, SPEC, "r"), SPEC)
    assert [r.order_id for r in accepted.collect()] == ["O1"]
    assert CORRUPT_RECORD not in accepted.columns
    assert sorted(r._source_row for r in rejected.collect()) == [2, 3]


def test_latest_per_key_prefers_sequence_then_arrival(spark):
    batch = bronze_rows(
        spark,
        [
            ("O1", "placed", "2026-03-01T10:00:00Z", None, "a.csv", 1),
            ("O1", "paid", "2026-03-01T11:00:00Z", None, "a.csv", 2),
            ("O1", "placed", "2026-03-01T10:30:00Z", None, "b.csv", 1),  # late, older
            ("O2", "placed", "2026-03-01T10:00:00Z", None, "a.csv", 3),
            ("O2", "PLACED", "2026-03-01T10:00:00Z", None, "a.csv", 4),  # same version, later line
            ("O3", "placed", None, None, "a.csv", 5),
            ("O3", "paid", "2026-03-01T09:00:00Z", None, "a.csv", 6),
        ],
    )
    typed = conform(batch, SPEC, "r")
    out = latest_per_key(typed, SPEC.keys, sequence_columns(SPEC)).select(
        "order_id", "status", "_source_row"
    )
    expected = spark.createDataFrame(
        [("O1", "paid", 2), ("O2", "placed", 4), ("O3", "paid", 6)], out.schema
    )
    assert_df_equality(out, expected, ignore_row_order=True)


def test_merge_never_lets_an_older_version_win(spark, tmp_path):
    path = str(tmp_path / "orders")
    delta_tables.ensure_table(spark, path, silver_schema(SPEC))
    target = DeltaTable.forPath(spark, path)

    def merge(rows):
        typed = conform(bronze_rows(spark, rows), SPEC, "r")
        accepted, _ = split_rejected(typed, SPEC)
        merge_latest(target, latest_per_key(accepted, SPEC.keys, sequence_columns(SPEC)), SPEC)

    merge([("O1", "paid", "2026-03-01T11:00:00Z", None, "day1.csv", 1)])
    merge(
        [
            ("O1", "placed", "2026-03-01T10:00:00Z", None, "late.csv", 1),  # older, arrives later
            ("O2", "placed", "2026-03-01T10:00:00Z", None, "late.csv", 2),
        ]
    )
    merge([("O2", "shipped", "2026-03-02T10:00:00Z", None, "day2.csv", 1)])
    merge([("O2", "shipped", "2026-03-02T10:00:00Z", None, "resent.csv", 1)])  # exact re-send

    out = spark.read.format("delta").load(path).select("order_id", "status", "_source_file")
    expected = spark.createDataFrame(
        [("O1", "paid", "day1.csv"), ("O2", "shipped", "day2.csv")], out.schema
    )
    assert_df_equality(out, expected, ignore_row_order=True)


def test_without_sequence_column_the_last_arrival_wins(spark, tmp_path):
    spec = SilverSpec(
        source="bronze.stock",
        keys=("order_id",),
        columns={"order_id": ColumnSpec(type="string"), "status": ColumnSpec(type="string")},
    )
    path = str(tmp_path / "stock")
    delta_tables.ensure_table(spark, path, silver_schema(spec))
    target = DeltaTable.forPath(spark, path)
    # Same ingestion time and file modification time: the file name and line decide.
    for rows in (
        [("K", "first", None, None, "f1.csv", 1), ("K", "second", None, None, "f1.csv", 2)],
        [("K", "third", None, None, "f2.csv", 1)],
        [("K", "stale", None, None, "f1.csv", 0)],  # replay of an earlier line: not newer
    ):
        typed, _ = split_rejected(conform(bronze_rows(spark, rows), spec, "r"), spec)
        merge_latest(target, latest_per_key(typed, spec.keys, sequence_columns(spec)), spec)
    assert [r.status for r in spark.read.format("delta").load(path).collect()] == ["third"]
