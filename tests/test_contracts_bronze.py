"""Schema drift in landed files, through bronze ingestion on real Delta tables: a CSV that gains
a column from day 2, a JSON record with an extra field, a Parquet file with a retyped column."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse import bronze
from lakehouse.bronze.columns import RESCUED_DATA
from lakehouse.bronze.contracts import SchemaDriftError
from tests.landing import csv, drop, run_ctx

pytestmark = pytest.mark.slow

ORDERS = (
    "order_id,customer_id,shop_id,channel,order_ts,status,shipping_date,delivery_date,updated_at"
)
# Day 2's export inserts coupon_code in the middle: read by position, status would get it.
ORDERS_WITH_COUPON = "order_id,customer_id,shop_id,channel,coupon_code,order_ts,status,shipping_date,delivery_date,updated_at"


def with_policy(project, ref: str, policy: str):
    table = project.table(ref)
    source = table.spec.source.model_copy(update={"on_schema_change": policy})
    return dataclasses.replace(table, spec=table.spec.model_copy(update={"source": source}))


def rows(spark, project, ref):
    path = project.table_path(project.table(ref))
    return {r.order_id: r for r in spark.read.format("delta").load(path).collect()}


def drop_orders(project):
    drop(
        project,
        "bronze.orders",
        "orders_2026-03-01.csv",
        csv(ORDERS, "O1,C1,S0,web,2026-03-01T10:00:00Z,placed,,,2026-03-01T10:00:00Z"),
    )
    drop(
        project,
        "bronze.orders",
        "orders_2026-03-02.csv",
        csv(
            ORDERS_WITH_COUPON,
            "O2,C2,S0,web,SAVE10,2026-03-02T10:00:00Z,paid,,,2026-03-02T10:00:00Z",
            "O3,C2,S0,web,,2026-03-02T11:00:00Z,placed,,,2026-03-02T11:00:00Z",
        ),
    )


def test_csv_new_column_is_rescued_by_default_and_nothing_shifts(spark, project):
    drop_orders(project)
    result = bronze.ingest(spark, project, project.table("bronze.orders"), run_ctx("run-1"))

    assert result.rows_read == 3
    assert [w.split("/")[-1] for w in result.warnings] == [
        "orders_2026-03-02.csv: new coupon_code (string)"
    ]
    got = rows(spark, project, "bronze.orders")
    assert got["O2"].status == "paid" and got["O2"].order_ts == "2026-03-02T10:00:00Z"
    assert json.loads(got["O2"][RESCUED_DATA]) == {"coupon_code": "SAVE10"}
    assert got["O1"][RESCUED_DATA] is None
    assert got["O3"][RESCUED_DATA] is None  # an empty value is not rescued
    assert "coupon_code" not in got["O1"].asDict()


def test_csv_new_column_evolves_the_table(spark, project):
    table = with_policy(project, "bronze.orders", "evolve")
    drop_orders(project)
    bronze.ingest(spark, project, table, run_ctx("run-1"))
    drop(
        project,
        "bronze.orders",
        "orders_2026-03-03.csv",
        csv(ORDERS, "O4,C1,S0,web,2026-03-03T10:00:00Z,placed,,,2026-03-03T10:00:00Z"),
    )
    second = bronze.ingest(spark, project, table, run_ctx("run-2"))

    got = rows(spark, project, "bronze.orders")
    assert got["O2"].coupon_code == "SAVE10" and got["O2"].status == "paid"
    assert got["O1"].coupon_code is None and got["O4"].coupon_code is None
    assert all(r[RESCUED_DATA] is None for r in got.values())
    # Once evolved, the column is part of the contract; a file without it is the drift now.
    assert [w.split(": ", 1)[1] for w in second.warnings] == ["missing coupon_code"]


def test_csv_missing_column_fails_naming_the_file_and_appends_nothing(spark, project):
    table = with_policy(project, "bronze.orders", "fail")
    drop(
        project,
        "bronze.orders",
        "orders_2026-03-01.csv",
        csv(ORDERS, "O1,C1,S0,web,2026-03-01T10:00:00Z,placed,,,2026-03-01T10:00:00Z"),
    )
    drop(
        project,
        "bronze.orders",
        "orders_2026-03-02.csv",
        csv(
            ORDERS.replace(",channel", ""),
            "O2,C2,S0,2026-03-02T10:00:00Z,paid,,,2026-03-02T10:00:00Z",
        ),
    )
    with pytest.raises(SchemaDriftError) as err:
        bronze.ingest(spark, project, table, run_ctx("run-1"))
    message = str(err.value)
    assert "orders_2026-03-02.csv: missing channel" in message
    assert "orders_2026-03-01.csv" not in message
    assert rows(spark, project, "bronze.orders") == {}

    # The contract owner relaxes the policy: the same batch is taken, nothing twice.
    bronze.ingest(spark, project, with_policy(project, "bronze.orders", "rescue"), run_ctx("run-2"))
    got = rows(spark, project, "bronze.orders")
    assert sorted(got) == ["O1", "O2"]
    assert got["O2"].channel is None and got["O2"].status == "paid"


def test_json_extra_field_is_rescued(spark, project):
    event = {
        "event_time": "2026-03-01 10:00:00",
        "event_type": "view",
        "product_id": "P1",
        "category_code": "home.widgets",
        "brand": "acme",
        "price": 10.0,
        "user_id": "C1",
        "user_session": "s1",
    }
    lines = [json.dumps(event), json.dumps({**event, "referrer": {"site": "x.com"}, "ab": 2})]
    drop(project, "bronze.web_events", "events_2026-03-01.json", "\n".join(lines))
    result = bronze.ingest(spark, project, project.table("bronze.web_events"), run_ctx("run-1"))

    assert [w.split(": ", 1)[1] for w in result.warnings] == ["new ab (string), referrer (string)"]
    path = project.table_path(project.table("bronze.web_events"))
    rescued = sorted(
        (r[RESCUED_DATA] or "" for r in spark.read.format("delta").load(path).collect()), key=len
    )
    assert rescued[0] == ""
    assert json.loads(rescued[1]) == {"ab": "2", "referrer": '{"site": "x.com"}'}


def write_pos(project, name: str, qty: pa.Array) -> Path:
    folder = Path(project.landing_path(project.table("bronze.pos_sales")))
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "receipt_no": ["R1", "R2"][: len(qty)],
            "line_no": pa.array([1, 1][: len(qty)], pa.int32()),
            "store_code": ["S1", "S1"][: len(qty)],
            "till_id": ["T1", "T1"][: len(qty)],
            "sold_at": pa.array([0, 0][: len(qty)], pa.timestamp("us", tz="UTC")),
            "loyalty_card": ["C1", None][: len(qty)],
            "sku": ["P1", "P2"][: len(qty)],
            "qty": qty,
            "unit_price_cents": pa.array([1000, 550][: len(qty)], pa.int64()),
        }
    )
    pq.write_table(table, folder / f".{name}")
    (folder / f".{name}").rename(folder / name)
    return folder / name


def test_parquet_changed_type_fails_or_is_rescued(spark, project):
    write_pos(project, "sales_2026-03-01.parquet", pa.array([2, 1], pa.int32()))
    write_pos(project, "sales_2026-03-02.parquet", pa.array(["3", "a few"]))

    with pytest.raises(
        SchemaDriftError, match=r"sales_2026-03-02\.parquet: changed type qty \(int -> string\)"
    ):
        bronze.ingest(
            spark, project, with_policy(project, "bronze.pos_sales", "fail"), run_ctx("run-1")
        )

    bronze.ingest(spark, project, project.table("bronze.pos_sales"), run_ctx("run-2"))
    path = project.table_path(project.table("bronze.pos_sales"))
    got = {
        (r._source_file.rsplit("/", 1)[-1], r.receipt_no): (r.qty, r[RESCUED_DATA])
        for r in spark.read.format("delta").load(path).collect()
    }
    assert got == {
        ("sales_2026-03-01.parquet", "R1"): (2, None),
        ("sales_2026-03-01.parquet", "R2"): (1, None),
        ("sales_2026-03-02.parquet", "R1"): (3, '{"qty":"3"}'),
        ("sales_2026-03-02.parquet", "R2"): (None, '{"qty":"a few"}'),
    }
