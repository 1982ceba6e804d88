"""Two days of drops through bronze, silver and gold, then a rerun that must change nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from delta.tables import DeltaTable

from lakehouse import pipeline
from lakehouse.bronze.columns import CORRUPT_RECORD
from lakehouse.storage import delta_tables
from tests.landing import csv, drop, run_ctx

pytestmark = pytest.mark.slow

ORDERS = (
    "order_id,customer_id,shop_id,channel,order_ts,status,shipping_date,delivery_date,updated_at"
)
POSITIONS = "order_id,position_no,product_id,quantity,unit_price,updated_at"
CUSTOMERS = "customer_id,first_name,last_name,email,phone,street,postcode,city,country,birth_date,signup_at,updated_at"


def day_one(project):
    drop(
        project,
        "bronze.shops",
        "shops_2026-03-01.csv",
        csv(
            "shop_id,shop_name,shop_type,city,region,country,opened_on,updated_at",
            "S0,Web shop,online,Berlin,Berlin,de,2020-01-01,2026-01-01T00:00:00Z",
            "S1,Marienplatz,physical,München,Bayern,DE,2021-06-01,2026-01-01T00:00:00Z",
        ),
    )
    drop(
        project,
        "bronze.products",
        "products_2026-03-01.csv",
        csv(
            "product_id,product_name,brand,category,department,supplier,list_price,updated_at",
            "P1,Widget,Acme,widgets,home,SupA,10.00,2026-01-01T00:00:00Z",
            "P2,Gadget,Acme,gadgets,home,SupA,5.50,2026-01-01T00:00:00Z",
        ),
    )
    drop(
        project,
        "bronze.customers",
        "customers_2026-03-01.csv",
        csv(
            CUSTOMERS,
            "C1,Ann,Lee,ann@example.com,+49 170 1,Hauptstr. 1,80331,München,DE,1980-05-01,2026-01-01T00:00:00Z,2026-03-01T00:00:00Z",
            "C2,Bob,Ray,bob@example.com,+49 170 2,Hauptstr. 2,10115,Berlin,DE,1990-05-01,2026-02-01T00:00:00Z,2026-03-01T00:00:00Z",
        ),
    )
    drop(
        project,
        "bronze.orders",
        "orders_2026-03-01.csv",
        csv(
            ORDERS,
            "O1,C1,S0,web,2026-03-01T10:00:00Z,placed,,,2026-03-01T10:00:00Z",
            "O1,C1,S0,web,2026-03-01T10:00:00Z,placed,,,2026-03-01T10:00:00Z",
            "O2,C2,S0,web,2026-03-01T11:00:00+01:00,placed,,,2026-03-01T11:00:00Z",
            "O2,C2,S0,web,2026-03-01T11:00:00+01:00,paid,,,2026-03-01T12:00:00Z",
            'O3,C1,S0,web,"2026-03-01T12:00:00Z,placed',
        ),
    )
    drop(
        project,
        "bronze.order_positions",
        "order_positions_2026-03-01.csv",
        csv(
            POSITIONS,
            "O1,1,P1,2,10.00,2026-03-01T10:00:00Z",
            "O1,2,P2,1,5.50,2026-03-01T10:00:00Z",
            "O2,1,P1,1,10.00,2026-03-01T11:00:00Z",
            "O2,1,P1,1,10.00,2026-03-01T11:00:00Z",
        ),
    )


def day_two(project):
    drop(
        project,
        "bronze.customers",
        "customers_2026-03-02.csv",
        csv(
            CUSTOMERS,
            "C1,Ann,Lee,ann@example.com,+49 170 1,Ring 5,20095,Hamburg,DE,1980-05-01,2026-01-01T00:00:00Z,2026-03-02T00:00:00Z",
        ),
    )
    drop(
        project,
        "bronze.orders",
        "orders_2026-03-02.csv",
        csv(
            ORDERS,
            "O1,C1,S0,web,2026-03-01T10:00:00Z,delivered,2026-03-01,2026-03-02,2026-03-02T09:00:00Z",
            "O4,C2,S1,store,2026-03-02T15:30:00Z,placed,,,2026-03-02T15:30:00Z",
        ),
    )
    # A late file carrying an older version of O2: it must not replace 'paid'.
    drop(
        project,
        "bronze.orders",
        "orders_2026-03-02_late.csv",
        csv(ORDERS, "O2,C2,S0,web,2026-03-01T11:00:00+01:00,placed,,,2026-03-01T11:00:00Z"),
    )
    drop(
        project,
        "bronze.order_positions",
        "order_positions_2026-03-02.csv",
        csv(
            POSITIONS,
            "O4,1,P2,3,5.50,2026-03-02T15:30:00Z",
            "O2,1,P1,1,10.00,2026-03-01T11:00:00Z",
        ),
    )


def read(spark, project, ref):
    return spark.read.format("delta").load(project.table_path(project.table(ref)))


def versions(spark, project):
    return {
        ref: delta_tables.current_version(spark, project.table_path(table))
        for ref, table in project.tables.items()
    }


def operations(spark, project, ref):
    path = project.table_path(project.table(ref))
    history = DeltaTable.forPath(spark, path).history().orderBy("version").collect()
    return [c.operation for c in history]


def snapshot(spark, project):
    return {
        ref: sorted(map(tuple, read(spark, project, ref).drop("_ingested_at").collect()), key=repr)
        for ref in project.tables
    }


def test_two_days_then_rerun(spark, project):
    day_one(project)
    pipeline.run(spark, project, run_ctx("run-day-1"))

    bronze = read(spark, project, "bronze.orders")
    assert bronze.count() == 5  # every line, duplicates and the malformed one included
    malformed = bronze.where(f"{CORRUPT_RECORD} IS NOT NULL").collect()
    assert len(malformed) == 1
    assert malformed[0][CORRUPT_RECORD].startswith('O3,C1,S0,web,"2026-03-01T12:00:00Z')
    assert malformed[0]["_source_file"].endswith("/orders_2026-03-01.csv")
    assert {r._run_id for r in bronze.collect()} == {"run-day-1"}

    silver_orders = {r.order_id: r.status for r in read(spark, project, "silver.orders").collect()}
    assert silver_orders == {"O1": "placed", "O2": "paid"}
    # Into the new, empty table the first batch was appended; from now on batches merge.
    assert operations(spark, project, "silver.orders") == ["CREATE TABLE", "WRITE"]

    day_two(project)
    pipeline.run(spark, project, run_ctx("run-day-2"))

    assert read(spark, project, "bronze.orders").count() == 8
    assert operations(spark, project, "silver.orders") == ["CREATE TABLE", "WRITE", "MERGE"]
    orders = {r.order_id: r for r in read(spark, project, "silver.orders").collect()}
    assert {k: r.status for k, r in orders.items()} == {
        "O1": "delivered",
        "O2": "paid",  # the late, older 'placed' did not win
        "O4": "placed",
    }
    assert str(orders["O2"].order_ts) == "2026-03-01 10:00:00"  # +01:00 harmonised to UTC
    positions = read(spark, project, "silver.order_positions")
    assert positions.count() == 4
    assert positions.groupBy("order_id", "position_no").count().where("count > 1").count() == 0

    customers = {r.customer_id: r for r in read(spark, project, "silver.customers").collect()}
    assert customers["C1"].city == "Hamburg"
    assert "email" not in read(spark, project, "silver.customers").columns

    fct = {r.order_id: r for r in read(spark, project, "gold.fct_orders").collect()}
    assert {k: (r.status, r.positions, r.order_intake, r.revenue) for k, r in fct.items()} == {
        "O1": ("delivered", 2, Decimal("25.50"), Decimal("25.50")),
        "O2": ("paid", 1, Decimal("10.00"), Decimal("0.00")),
        "O4": ("placed", 1, Decimal("16.50"), Decimal("0.00")),
    }
    dim_customer = read(spark, project, "gold.dim_customer").where("customer_sk <> -1")
    current = {r.customer_id: r for r in dim_customer.where("is_current").collect()}
    assert current["C1"].city == "Hamburg"
    before_move = dim_customer.where("customer_id = 'C1' AND NOT is_current").first()
    assert fct["O1"].customer_sk == before_move.customer_sk  # the version valid at the order
    dim_shop = read(spark, project, "gold.dim_shop").where("shop_sk <> -1")
    shops = {r.shop_id: r.country for r in dim_shop.collect()}
    assert shops == {"S0": "DE", "S1": "DE"}

    before_versions, before_rows = versions(spark, project), snapshot(spark, project)
    pipeline.run(spark, project, run_ctx("run-again"))
    assert versions(spark, project) == before_versions
    assert snapshot(spark, project) == before_rows
