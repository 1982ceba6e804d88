"""Three days of hand-made silver rows through every gold model, refreshed day by day: the marts
must match plain SQL over silver written here, and the tables a full rebuild from silver."""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from chispa import assert_df_equality
from delta.tables import DeltaTable
from pyspark.sql import functions as F
from pyspark.sql.types import _parse_datatype_string

from lakehouse import gold
from lakehouse.results import RefreshResult, Status
from lakehouse.storage import delta_tables
from tests.landing import run_ctx

pytestmark = pytest.mark.slow

# Only the columns gold reads; silver adds lineage and quality columns gold does not use.
SILVER = {
    "silver.shops": (
        ["shop_id"],
        "shop_id string, shop_name string, shop_type string, city string, region string,"
        " country string, opened_on date, updated_at timestamp",
    ),
    "silver.products": (
        ["product_id"],
        "product_id string, product_name string, brand string, category string,"
        " department string, supplier string, list_price decimal(12,2), updated_at timestamp",
    ),
    "silver.customers": (
        ["customer_id"],
        "customer_id string, postcode_area string, city string, country string,"
        " birth_year int, signup_at timestamp, updated_at timestamp",
    ),
    "silver.orders": (
        ["order_id"],
        "order_id string, customer_id string, shop_id string, channel string,"
        " order_ts timestamp, status string, shipping_date date, delivery_date date,"
        " updated_at timestamp",
    ),
    "silver.order_positions": (
        ["order_id", "position_no"],
        "order_id string, position_no int, product_id string, quantity int,"
        " unit_price decimal(12,2), updated_at timestamp",
    ),
    "silver.pos_sales": (
        ["receipt_no", "line_no"],
        "receipt_no string, line_no int, shop_id string, till_id string, sold_at timestamp,"
        " customer_id string, product_id string, quantity int, unit_price decimal(12,2)",
    ),
    "silver.stock_levels": (
        ["stock_date", "product_id", "shop_id"],
        "stock_date date, product_id string, shop_id string, on_hand int",
    ),
}

DAYS = [
    {
        "silver.shops": [
            "S0|Web shop|online|Berlin|Berlin|DE|2020-01-01|2026-01-01 00:00:00",
            "S1|Marienplatz|physical|München|Bayern|DE|2021-06-01|2026-01-01 00:00:00",
        ],
        "silver.products": [
            "P1|Widget|Acme|widgets|home|SupA|10.00|2026-01-01 00:00:00",
            "P2|Gadget|Bolt|gadgets|garden|SupB|5.50|2026-01-01 00:00:00",
            "P3|Gizmo|Acme|gizmos|home|SupA|2.00|2026-01-01 00:00:00",
        ],
        "silver.customers": [
            "C1|803|München|DE|1980|2026-01-01 00:00:00|2026-03-01 00:00:00",
            "C2|101|Berlin|DE|1990|2026-02-01 00:00:00|2026-02-01 00:00:00",
        ],
        "silver.orders": [
            "O1|C1|S0|web|2026-03-02 10:00:00|placed|||2026-03-02 10:00:00",
            "O2|C2|S0|web|2026-03-02 11:00:00|paid|||2026-03-02 11:00:00",
            # C3 is not exported until tomorrow: the order points to the unknown customer
            "O3|C3|S1|store|2026-03-02 12:00:00|placed|||2026-03-02 12:00:00",
        ],
        "silver.order_positions": [
            "O1|1|P1|2|10.00|2026-03-02 10:00:00",
            "O1|2|P2|1|5.50|2026-03-02 10:00:00",
            "O2|1|P1|1|10.00|2026-03-02 11:00:00",
            "O2|2|P3|3|2.00|2026-03-02 11:00:00",
            "O3|1|P2|2|5.50|2026-03-02 12:00:00",
        ],
        "silver.pos_sales": [
            "S1/1|1|S1|T1|2026-03-02 15:00:00|C2|P1|1|10.00",
            "S1/1|2|S1|T1|2026-03-02 15:00:00|C2|P3|2|2.00",
        ],
        "silver.stock_levels": ["2026-03-02|P1|S1|10", "2026-03-02|P2|S1|5"],
    },
    {
        "silver.customers": [
            "C1|200|Hamburg|DE|1980|2026-01-01 00:00:00|2026-03-03 08:00:00",
            "C3|503|Köln|DE|2000|2026-03-02 00:00:00|2026-03-02 00:00:00",
        ],
        "silver.products": ["P1|Widget|Acme|widgets|home|SupA|12.00|2026-03-03 00:00:00"],
        "silver.orders": [
            "O1|C1|S0|web|2026-03-02 10:00:00|delivered|2026-03-03|2026-03-04|2026-03-04 09:00:00",
            "O2|C2|S0|web|2026-03-02 11:00:00|cancelled|||2026-03-04 09:00:00",
            "O4|C1|S0|web|2026-03-03 09:00:00|placed|||2026-03-03 09:00:00",
            # late: placed on day one, exported only now; it corrects day one
            "O5|C2|S1|store|2026-03-02 17:00:00|placed|||2026-03-02 17:00:00",
        ],
        "silver.order_positions": [
            "O4|1|P1|1|12.00|2026-03-03 09:00:00",
            "O4|2|P2|1|5.50|2026-03-03 09:00:00",
            "O5|1|P3|1|2.00|2026-03-02 17:00:00",
        ],
        "silver.pos_sales": ["S1/2|1|S1|T2|2026-03-04 10:00:00||P1|1|12.00"],
        "silver.stock_levels": ["2026-03-03|P1|S1|9", "2026-03-03|P2|S1|5", "2026-03-04|P1|S1|8"],
    },
]


def _rows(spark, schema, lines):
    """Typed rows from ``a|b|c`` lines; an empty field is null."""
    fields = _parse_datatype_string(schema).fields
    text = spark.createDataFrame(
        [tuple(line.split("|")) for line in lines], ", ".join(f"{f.name} string" for f in fields)
    )
    return text.select(
        *(F.expr(f"nullif({f.name}, '')").cast(f.dataType).alias(f.name) for f in fields)
    )


def land_silver(spark, project, day):
    """Upsert a day's rows the way silver does (MERGE by key), so the change feed has the
    inserts and update images gold reads."""
    for ref, (keys, schema) in SILVER.items():
        path = project.table_path(project.table(ref))
        rows = _rows(spark, schema, DAYS[day].get(ref, []))
        delta_tables.ensure_table(spark, path, rows.schema, (), delta_tables.CHANGE_FEED)
        if ref in DAYS[day]:
            on = " AND ".join(f"t.{k} = s.{k}" for k in keys)
            DeltaTable.forPath(spark, path).alias("t").merge(
                rows.alias("s"), on
            ).whenMatchedUpdateAll().whenNotMatchedInsertAll().execute()


def refresh_gold(spark, project, run_id, refresh_now=False):
    """Gold in waves of models whose inputs are done, side by side as the runner does; returns
    each model's result. ``refresh_now``: scheduled models too, as ``--refresh-now`` does."""
    done: dict[str, RefreshResult] = {}
    pending = [t for t in project.in_dependency_order() if t.layer == "gold"]
    ctx = run_ctx(run_id, refresh_now=refresh_now)
    with ThreadPoolExecutor(max_workers=4) as pool:
        while pending:
            wave = [
                t for t in pending if all(u in done or u.startswith("silver.") for u in t.upstream)
            ]
            results = pool.map(lambda t: gold.refresh(spark, project, t, ctx), wave)
            done.update(zip((t.ref for t in wave), results, strict=True))
            pending = [t for t in pending if t.ref not in done]
    return done


def read(spark, project, ref):
    return spark.read.format("delta").load(project.table_path(project.table(ref)))


def silver_views(spark, project):
    for ref in SILVER:
        read(spark, project, ref).createOrReplaceTempView(ref.replace(".", "_"))


# Independent of the models: the business definitions written again over silver.
SALES_SQL = """
  WITH orders AS (
    SELECT o.order_id, o.shop_id, to_date(o.order_ts) AS d, o.status,
           coalesce(sum(p.quantity * p.unit_price), 0) AS intake
    FROM silver_orders o LEFT JOIN silver_order_positions p ON p.order_id = o.order_id
    GROUP BY ALL
    UNION ALL
    SELECT receipt_no, first(shop_id), to_date(min(sold_at)), 'delivered',
           sum(quantity * unit_price)
    FROM silver_pos_sales GROUP BY receipt_no
  )
  SELECT d AS order_date, shop_id, count(*) AS orders,
         CAST(sum(intake) AS DECIMAL(38, 2)) AS order_intake,
         CAST(sum(CASE WHEN status = 'delivered' THEN intake ELSE 0 END) AS DECIMAL(38, 2))
           AS revenue
  FROM orders GROUP BY ALL
"""


def check_marts_against_silver(spark, project):
    silver_views(spark, project)
    mart = read(spark, project, "gold.mart_sales_by_shop").selectExpr(
        "order_date",
        "shop_id",
        "orders",
        "CAST(order_intake AS DECIMAL(38, 2)) AS order_intake",
        "CAST(revenue AS DECIMAL(38, 2)) AS revenue",
    )
    assert_df_equality(mart, spark.sql(SALES_SQL), ignore_row_order=True, ignore_nullable=True)
    by_day = {
        r.order_date.isoformat(): r
        for r in spark.sql(SALES_SQL).groupBy("order_date").sum().collect()
    }

    trend = (
        read(spark, project, "gold.mart_sales_trend")
        .groupBy("order_date")
        .agg({"orders": "sum", "order_intake": "sum"})
        .collect()
    )
    for r in trend:
        assert r["sum(orders)"] == by_day[r.order_date.isoformat()]["sum(orders)"]
        assert r["sum(order_intake)"] == by_day[r.order_date.isoformat()]["sum(order_intake)"]

    lag = spark.sql("""
      SELECT trunc(to_date(order_ts), 'MM') AS order_month, shop_id,
             avg(datediff(shipping_date, to_date(order_ts))) AS avg_days_to_ship
      FROM silver_orders WHERE shipping_date IS NOT NULL GROUP BY ALL""")
    assert_df_equality(
        read(spark, project, "gold.mart_shipping_lag")
        .where("orders_shipped > 0")
        .select("order_month", "shop_id", "avg_days_to_ship"),
        lag,
        ignore_row_order=True,
        ignore_nullable=True,
    )

    # New customers: known customers whose first order (web or loyalty card) is that day.
    new = spark.sql("""
      WITH o AS (SELECT customer_id, to_date(order_ts) AS d FROM silver_orders
                 UNION SELECT customer_id, to_date(sold_at) FROM silver_pos_sales
                 WHERE customer_id IS NOT NULL),
      f AS (SELECT customer_id, min(d) AS first_d FROM o GROUP BY customer_id)
      SELECT o.d AS period_start, count(DISTINCT o.customer_id) AS customers,
             count(DISTINCT CASE WHEN f.first_d = o.d THEN o.customer_id END) AS new_customers
      FROM o JOIN f USING (customer_id) GROUP BY o.d""")
    assert_df_equality(
        read(spark, project, "gold.mart_customers_by_period")
        .where("period = 'day'")
        .select("period_start", "customers", "new_customers"),
        new,
        ignore_row_order=True,
        ignore_nullable=True,
    )

    items = spark.sql("""
      WITH l AS (SELECT to_date(o.order_ts) AS d, p.product_id, p.quantity FROM silver_orders o
                 JOIN silver_order_positions p USING (order_id) WHERE o.status <> 'cancelled'
                 UNION ALL SELECT to_date(sold_at), product_id, quantity FROM silver_pos_sales)
      SELECT d AS order_date, product_id, sum(quantity) AS units FROM l GROUP BY ALL""")
    item_sales = read(spark, project, "gold.mart_item_sales_daily").groupBy(
        "order_date", "product_id"
    )
    assert sorted(map(tuple, item_sales.sum("units").collect())) == sorted(
        map(tuple, items.collect())
    )

    profile = {
        r.customer_id: r for r in read(spark, project, "gold.mart_customer_profile").collect()
    }
    assert profile["C1"].city == "Hamburg" and profile["C1"].orders == 2
    assert profile["C2"].orders == 3  # O2, O5 and the receipt with C2's loyalty card

    rank = read(spark, project, "gold.mart_brand_ranking").where("weeks = 4 AND brand_rank = 1")
    assert [r.brand for r in rank.collect()] == ["Acme"]

    turnover = (
        read(spark, project, "gold.mart_inventory_turnover").where("product_id = 'P1'").first()
    )
    assert float(turnover.avg_on_hand) == 9.0 and turnover.units_sold == 2  # two till sales at S1


def check_star(spark, project):
    dim = (
        read(spark, project, "gold.dim_customer").where("customer_id = 'C1'").orderBy("valid_from")
    )
    versions = [(r.city, r.is_current) for r in dim.collect()]
    assert versions == [("München", False), ("Hamburg", True)]
    sk = {r.city: r.customer_sk for r in dim.collect()}
    facts = {r.order_id: r for r in read(spark, project, "gold.fct_orders").collect()}
    assert facts["O1"].customer_sk == sk["München"]  # ordered before the move
    assert facts["O4"].customer_sk == sk["Hamburg"]
    assert facts["O3"].customer_sk != -1  # fixed up when C3 arrived
    assert facts["S1/2"].customer_sk == -1  # anonymous till sale: the unknown member
    assert facts["O1"].days_to_ship == 1 and facts["O1"].days_to_deliver == 2
    lines = read(spark, project, "gold.fct_order_positions")
    p1 = read(spark, project, "gold.dim_product").where("product_id = 'P1'")
    assert p1.count() == 2
    by_version = (
        lines.where("product_id = 'P1'").join(p1, "product_sk").select("order_id", "list_price")
    )
    assert {(r.order_id, str(r.list_price)) for r in by_version.collect()} == {
        ("O1", "10.00"),
        ("O2", "10.00"),
        ("S1/1", "10.00"),
        ("O4", "12.00"),
        ("S1/2", "12.00"),
    }


def test_daily_runs_match_silver_and_a_full_rebuild(spark, project):
    timings = []
    weekly = project.table("gold.mart_recommendations")
    assert weekly.spec.refresh_every == "7 days"
    weekly_path = project.table_path(weekly)
    for day in range(len(DAYS)):
        land_silver(spark, project, day)
        started = time.monotonic()
        results = refresh_gold(spark, project, f"day-{day}")
        timings.append(time.monotonic() - started)
        if day == 0:
            built = delta_tables.current_version(spark, weekly_path)
        else:  # built on day 0, not due for a week: left alone, its changes wait
            assert results[weekly.ref].not_due_until is not None
            assert results[weekly.ref].status is Status.NOT_DUE
            assert delta_tables.current_version(spark, weekly_path) == built
    # The runner's --refresh-now: the weekly model catches up on the days it waited for.
    caught_up = refresh_gold(spark, project, "refresh-now", refresh_now=True)
    assert caught_up[weekly.ref].not_due_until is None
    assert caught_up[weekly.ref].keys_changed > 0

    check_star(spark, project)
    check_marts_against_silver(spark, project)
    spark.sql("SELECT count(*) FROM gold.fct_orders").collect()  # registered by name

    # Each model's strategy: a mart keyed by day replaces its touched days' rows (replaceWhere),
    # a fact keyed by order merges its touched orders.
    def commits(ref):
        path = project.table_path(project.table(ref))
        return DeltaTable.forPath(spark, path).history().collect()

    replaced = [
        c.operationParameters
        for c in commits("gold.mart_item_sales_daily")
        if c.operation == "WRITE" and c.operationParameters.get("mode") == "Overwrite"
    ]
    assert replaced and all("order_date" in r["predicate"] for r in replaced)
    assert "MERGE" in {c.operation for c in commits("gold.fct_orders")}

    gold_refs = [t.ref for t in project.in_dependency_order() if t.layer == "gold"]
    incremental = {ref: read(spark, project, ref).localCheckpoint() for ref in gold_refs}
    shutil.rmtree(Path(project.root) / "gold")
    shutil.rmtree(Path(project.root) / "_checkpoints" / "gold", ignore_errors=True)
    started = time.monotonic()
    refresh_gold(spark, project, "rebuild")
    rebuild = time.monotonic() - started
    print(f"\ngold daily runs {[round(t, 1) for t in timings]} s; full rebuild {rebuild:.1f} s")
    for ref in gold_refs:
        assert_df_equality(
            read(spark, project, ref),
            incremental[ref],
            ignore_row_order=True,
            ignore_nullable=True,
        )
        # Built for the first time, a table is written, not merged into.
        path = project.table_path(project.table(ref))
        done = {c.operation for c in DeltaTable.forPath(spark, path).history().collect()}
        assert done <= {"CREATE TABLE", "WRITE"} and "WRITE" in done, (ref, done)
    # One file per order date, the layout a MERGE of the day's rows leaves.
    facts = project.table_path(project.table("gold.fct_order_positions"))
    dates = read(spark, project, "gold.fct_order_positions").select("order_date").distinct()
    assert len(DeltaTable.forPath(spark, facts).toDF().inputFiles()) == dates.count()
