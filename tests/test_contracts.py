"""Data contracts: the drift of one file, and what rescue / evolve / fail make of it."""

from __future__ import annotations

import json

import pytest
from chispa import assert_df_equality
from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType

from lakehouse.bronze import contracts
from lakehouse.bronze.columns import RESCUED_DATA
from lakehouse.bronze.contracts import Drift, SchemaDriftError

DECLARED = StructType(
    [
        StructField("order_id", StringType()),
        StructField("quantity", IntegerType()),
        StructField("status", StringType()),
    ]
)


def test_compare_names_new_missing_and_retyped_columns():
    found = StructType(
        [
            StructField("order_id", StringType()),
            StructField("quantity", StringType()),
            StructField("coupon_code", StringType()),
        ]
    )
    drift = contracts.compare(DECLARED, found, "f.parquet", typed=True)
    assert drift.added == (("coupon_code", "string"),)
    assert drift.missing == ("status",)
    assert drift.changed == (("quantity", "int", "string"),)
    assert drift.describe() == (
        "f.parquet: new coupon_code (string); missing status; changed type quantity (int -> string)"
    )
    # Text formats carry no types: only names count.
    assert not contracts.compare(DECLARED, found, "f.csv", typed=False).changed


def test_a_lossless_widening_is_not_a_change():
    assert contracts.widens(IntegerType(), LongType())
    assert not contracts.widens(LongType(), IntegerType())
    assert not contracts.widens(StringType(), IntegerType())


def test_csv_header_uses_the_sources_delimiter_and_quote():
    assert contracts.csv_header('\ufeffa;"b;c";d', {"delimiter": ";"}) == ["a", "b;c", "d"]


def test_fail_lists_every_drifted_file():
    drifts = [Drift("day1.csv"), Drift("day2.csv", added=(("coupon_code", "string"),))]
    contracts.check("bronze.orders", "rescue", drifts)
    contracts.check("bronze.orders", "evolve", drifts)
    with pytest.raises(SchemaDriftError, match=r"day2\.csv: new coupon_code") as err:
        contracts.check("bronze.orders", "fail", drifts)
    assert "day1.csv" not in str(err.value)
    retyped = [Drift("p.parquet", changed=(("quantity", "int", "string"),))]
    with pytest.raises(SchemaDriftError, match="a type change cannot evolve"):
        contracts.check("bronze.orders", "evolve", retyped)


def test_a_new_column_may_not_take_a_system_columns_name():
    drifts = [Drift("f.csv", added=(("_run_id", "string"),))]
    with pytest.raises(SchemaDriftError, match="_run_id"):
        contracts.check("bronze.orders", "rescue", drifts, reserved=("_run_id",))


def test_conform_rescues_unknown_and_retyped_values(spark):
    df = spark.createDataFrame(
        [("O1", "2", "SAVE10"), ("O2", "two", None)],
        "order_id string, quantity string, coupon_code string",
    )
    drift = contracts.compare(DECLARED, df.schema, "f", typed=True)
    out = contracts.conform(df, DECLARED, drift, "rescue")
    expected = spark.createDataFrame(
        [
            (
                "O1",
                2,
                None,
                json.dumps({"coupon_code": "SAVE10", "quantity": "2"}, separators=(",", ":")),
            ),
            ("O2", None, None, json.dumps({"quantity": "two"}, separators=(",", ":"))),
        ],
        f"order_id string, quantity int, status string, {RESCUED_DATA} string",
    )
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


def test_conform_evolve_keeps_new_columns(spark):
    df = spark.createDataFrame(
        [("O1", 2, "SAVE10")], "order_id string, quantity int, coupon_code string"
    )
    drift = contracts.compare(DECLARED, df.schema, "f", typed=True)
    out = contracts.conform(df, DECLARED, drift, "evolve")
    assert out.columns == ["order_id", "quantity", "status", "coupon_code", RESCUED_DATA]
    assert out.first().asDict() == {
        "order_id": "O1",
        "quantity": 2,
        "status": None,
        "coupon_code": "SAVE10",
        RESCUED_DATA: None,
    }
