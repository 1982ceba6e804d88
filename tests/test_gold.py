"""Gold models: SQL over inputs restricted to changed keys, replacing exactly those keys."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from delta.tables import DeltaTable

from lakehouse import gold
from lakehouse.config.tables import GoldSpec
from lakehouse.gold import build_model, merge_keys, name_views
from lakehouse.storage import delta_tables

SPEC = GoldSpec(
    inputs={"orders": "silver.orders", "positions": "silver.order_positions"},
    key=("order_id",),
    changes={"orders": ("order_id",), "positions": ("order_id",)},
    sql="""
      SELECT o.order_id, o.status, coalesce(sum(p.quantity * p.price), 0) AS intake
      FROM orders o LEFT JOIN positions p ON p.order_id = o.order_id
      GROUP BY o.order_id, o.status
    """,
)


def inputs(spark):
    orders = spark.createDataFrame(
        [("O1", "paid"), ("O2", "placed"), ("O3", "delivered")], "order_id string, status string"
    )
    positions = spark.createDataFrame(
        [("O1", 2, 10), ("O1", 1, 5), ("O2", 3, 1)], "order_id string, quantity int, price int"
    )
    return {"orders": orders, "positions": positions}


def test_model_over_all_inputs(spark):
    out = build_model(spark, SPEC, inputs(spark), keys=None)
    expected = spark.createDataFrame(
        [("O1", "paid", 25), ("O2", "placed", 3), ("O3", "delivered", 0)], out.schema
    )
    assert_df_equality(out, expected, ignore_row_order=True)


def test_model_restricted_to_changed_keys(spark):
    keys = spark.createDataFrame([("O2",)], "order_id string")
    out = build_model(spark, SPEC, inputs(spark), keys=keys)
    assert [tuple(r) for r in out.collect()] == [("O2", "placed", 3)]


def test_merge_keys_updates_inserts_and_deletes_only_those_keys(spark, tmp_path):
    path = str(tmp_path / "fct")
    all_keys = spark.createDataFrame([("O1",), ("O2",), ("O3",)], "order_id string")
    merge_keys(spark, path, all_keys, build_model(spark, SPEC, inputs(spark), None), SPEC)

    changed = inputs(spark)
    changed["orders"] = spark.createDataFrame(
        [("O1", "delivered"), ("O3", "delivered"), ("O4", "placed")],
        "order_id string, status string",
    )  # O1 changed, O2 gone, O4 new; O3 is not among the changed keys
    keys = spark.createDataFrame([("O1",), ("O2",), ("O4",)], "order_id string")
    merge_keys(spark, path, keys, build_model(spark, SPEC, changed, keys), SPEC)

    out = spark.read.format("delta").load(path)
    expected = spark.createDataFrame(
        [("O1", "delivered", 25), ("O3", "delivered", 0), ("O4", "placed", 0)], out.schema
    )
    assert_df_equality(out, expected, ignore_row_order=True)


def test_merge_keys_with_no_change_commits_nothing(spark, tmp_path):
    path = str(tmp_path / "fct")
    keys = spark.createDataFrame([("O1",), ("O2",)], "order_id string")
    rows = build_model(spark, SPEC, inputs(spark), keys)
    merge_keys(spark, path, keys, rows, SPEC)
    version = delta_tables.current_version(spark, path)
    merge_keys(spark, path, keys, rows, SPEC)
    assert delta_tables.current_version(spark, path) == version


def test_merge_keys_on_a_partitioned_table_reads_only_the_keys_partitions(spark, tmp_path):
    spec = GoldSpec(
        inputs={"lines": "silver.order_positions"},
        key=("order_id",),
        grain=("order_id", "line_no"),
        partition_by=("day",),
        changes={"lines": ("order_id",)},
        sql="SELECT * FROM lines",
    )
    schema = "order_id string, line_no int, day date, qty int"
    path = str(tmp_path / "fct")
    first = [("O1", 1, date(2026, 3, 1), 1), ("O1", 2, date(2026, 3, 1), 1)]
    first += [("O2", 1, date(2026, 3, 2), 5), ("O3", 1, date(2026, 3, 3), 7)]
    rows = spark.createDataFrame(first, schema)
    merge_keys(spark, path, rows.select("order_id").distinct(), rows, spec)

    # O1 moves to the 2nd and loses a line; O4 is new. O3's day is not read at all.
    keys = spark.createDataFrame([("O1",), ("O4",)], "order_id string")
    rows = spark.createDataFrame(
        [("O1", 1, date(2026, 3, 2), 2), ("O4", 1, date(2026, 3, 4), 3)], schema
    )
    table = spark.read.format("delta").load(path)
    read = gold.writers._rows_of(table, keys, spec)
    plan = read._jdf.queryExecution().executedPlan().toString()
    assert re.search(r"PartitionFilters: \[[^\]]*day#\d+ (IN \(2026-03-01\)|= 2026-03-01)", plan), (
        plan
    )
    merge_keys(spark, path, keys, rows, spec)

    out = spark.read.format("delta").load(path)
    expected = [("O1", 1, date(2026, 3, 2), 2), ("O2", 1, date(2026, 3, 2), 5)]
    expected += [("O3", 1, date(2026, 3, 3), 7), ("O4", 1, date(2026, 3, 4), 3)]
    assert sorted(tuple(r) for r in out.select(*rows.columns).collect()) == expected


def test_a_change_query_runs_only_when_its_input_changed(spark):
    from lakehouse.config.tables import ChangeQuery
    from lakehouse.gold.changes import touched_keys

    spec = GoldSpec(
        inputs={"orders": "silver.orders", "shop": "gold.dim_shop"},
        key=("order_id",),
        changes={
            "orders": ("order_id",),
            # Fails if it runs: it must not while the shops did not change.
            "shop": ChangeQuery(
                sql="SELECT CAST(raise_error('shop query ran') AS STRING) AS order_id FROM changed"
            ),
        },
        sql="SELECT * FROM orders",
    )
    orders = spark.createDataFrame([("O1",), ("O2",)], "order_id string")
    offered = {"orders": inputs(spark)["orders"], "shop": spark.range(0)}
    keys = touched_keys(spark, spec, {"orders": orders}, offered)
    assert sorted(r.order_id for r in keys.collect()) == ["O1", "O2"]

    shops = spark.createDataFrame([("S1",)], "shop_id string")
    with pytest.raises(Exception, match="shop query ran"):
        touched_keys(spark, spec, {"orders": orders, "shop": shops}, offered).collect()


def test_building_a_model_keeps_the_batch_keys_cached(spark):
    # The keys of a batch come from SQL over the inputs' views; building the model names
    # those views again. Replacing a view would uncache the keys, and Spark would recompute
    # them (change queries over whole inputs) for every input they restrict.
    offered = inputs(spark)
    changed = spark.createDataFrame([("O2",)], "order_id string")
    name_views(spark, {**offered, "changed": changed})
    keys = spark.sql(
        "SELECT c.order_id FROM changed c JOIN orders o ON o.order_id = c.order_id"
    ).persist()
    try:
        keys.count()
        out = build_model(spark, SPEC, offered, keys)
        assert [tuple(r) for r in out.collect()] == [("O2", "placed", 3)]
        assert keys.storageLevel.useMemory or keys.storageLevel.useDisk
    finally:
        keys.unpersist()


def test_few_key_values_reach_the_scan_as_literals(spark, tmp_path, monkeypatch):
    monkeypatch.setattr(gold.build, "FEW_VALUES", 2)
    keys = spark.createDataFrame(
        [("O1", 1, datetime(2027, 3, 1)), ("O2", 1, datetime(2027, 3, 1)), ("O3", 2, None)],
        "order_id string, shop int, at timestamp",
    )
    spec = GoldSpec(key=("order_id", "shop", "at"), inputs={}, sql="SELECT 1")
    # Three order ids are too many; a timestamp would pass through Python's local time.
    literals = gold.key_literals(keys, spec, {}, {})
    assert literals.keys == 3
    assert {c: sorted(v) for c, v in literals.values.items()} == {"shop": [1, 2]}

    path = str(tmp_path / "lines")
    lines = spark.createDataFrame([("O1", 1), ("O2", 2), ("O3", 3)], "order_id string, shop int")
    lines.write.format("delta").partitionBy("shop").save(path)
    table = spark.read.format("delta").load(path)
    wanted = spark.createDataFrame([(1,), (3,)], "shop int")
    out = gold.restrict(table, ("shop",), ("shop",), wanted, {"shop": [1, 3]})
    assert sorted(tuple(r) for r in out.collect()) == [("O1", 1), ("O3", 3)]
    plan = out._jdf.queryExecution().executedPlan().toString()
    assert re.search(r"PartitionFilters: \[shop#\d+ IN \(1,3\)", plan), plan


def test_an_input_laid_out_by_key_date_is_read_on_the_keys_days_only(spark):
    from lakehouse.storage.key_date_layout import on_key_dates

    orders = spark.createDataFrame(
        [("O20260301-1", "C1", date(2026, 3, 1)), ("O20260302-1", "C2", date(2026, 3, 2))],
        "order_id string, customer_id string, _key_date date",
    )
    day_of_id = "try_to_date(substr(order_id, 2, 8), 'yyyyMMdd')"
    by_order = GoldSpec(
        key=("order_id",),
        inputs={"o": "silver.orders"},
        sql="SELECT 1",
        changes={"o": ("order_id",)},
    )

    def dates(spec, keys, df=orders):
        return gold.key_literals(keys, spec, {"o": df}, {"o": day_of_id}).key_dates.get("o")

    one = spark.createDataFrame([("O20260302-1",)], "order_id string")
    assert dates(by_order, one) == [date(2026, 3, 2)]
    # A fact keyed by order and receipt ids: a receipt's id has no day under the orders'
    # key_date, so the orders are read on the order's day and where no day could be read.
    mixed = spark.createDataFrame([("O20260302-1",), ("S010/20260301/7",)], "order_id string")
    days = dates(by_order, mixed)
    assert sorted(days, key=str) == [date(2026, 3, 2), None]
    undated = orders.union(spark.createDataFrame([("O?", "C3", None)], orders.schema))
    read = undated.where(on_key_dates("", days)).select("order_id").collect()
    assert sorted(r.order_id for r in read) == ["O20260302-1", "O?"]
    # A model keyed by customer cannot tell an order's day from its keys: the whole input.
    by_customer = GoldSpec(
        key=("customer_id",),
        inputs={"o": "silver.orders"},
        sql="SELECT 1",
        changes={"o": ("customer_id",)},
    )
    customers = spark.createDataFrame([("C2",)], "customer_id string")
    assert dates(by_customer, customers) is None
    # An input not laid out by key date has nothing to prune.
    assert dates(by_order, one, orders.drop("_key_date")) is None


def test_the_last_refresh_is_the_last_commit_that_recorded_what_it_consumed(spark, tmp_path):
    from lakehouse.gold.state import commit_metadata, last_refresh

    path = str(tmp_path / "weekly")
    assert last_refresh(spark, path, None) == (None, None)  # no table: never refreshed
    rows = spark.createDataFrame([("O1", 1)], "order_id string, n int")
    metadata = commit_metadata("run-1", "append", {"silver.orders": 4})
    rows.write.format("delta").mode("append").option("userMetadata", metadata).save(path)
    refreshed = DeltaTable.forPath(spark, path).history(1).first().timestamp
    # An erasure's overwrite and a compaction are not refreshes: they record nothing.
    rows.write.format("delta").mode("overwrite").option("dataChange", "false").save(path)
    DeltaTable.forPath(spark, path).optimize().executeCompaction()
    consumed, at = last_refresh(spark, path, delta_tables.current_version(spark, path))
    assert consumed == {"silver.orders": 4}
    assert abs(at.replace(tzinfo=None) - refreshed).total_seconds() < 1


FACT = (
    "order_id string, order_date date, hour int, channel string, positions bigint, "
    "order_intake decimal(12,2), revenue decimal(12,2)"
)


def test_an_additive_mart_adds_late_rows_updates_and_deletes_as_a_rebuild_would(
    spark, project, tmp_path
):
    """mart_sales_trend (strategy additive): a late order, an order delivered (updated twice
    in one run), a group whose only order is deleted, a new day. The refresh reads the fact's
    changes only, and its result equals the model over the whole fact."""
    from delta.tables import DeltaTable

    from lakehouse.gold.refresh import refresh
    from tests.landing import run_ctx

    mart = project.table("gold.mart_sales_trend")
    assert mart.spec.computed_as == "additive" and mart.spec.derived
    fact_path = project.table_path(project.table("gold.fct_orders"))
    rows = [
        ("O1", date(2026, 3, 1), 10, "web", 2, "20.00", "20.00"),
        ("O2", date(2026, 3, 1), 10, "web", 1, "5.00", "0.00"),
        ("R1", date(2026, 3, 1), 11, "pos", 3, "9.00", "9.00"),
        ("O3", date(2026, 3, 2), 9, "web", 1, "7.50", "0.00"),
    ]

    def frame(data):
        # Amounts written as strings above, decimals in the fact.
        return spark.createDataFrame([(*r[:5], Decimal(r[5]), Decimal(r[6])) for r in data], FACT)

    delta_tables.ensure_table(spark, fact_path, frame(rows).schema, (), delta_tables.CHANGE_FEED)
    frame(rows).write.format("delta").mode("append").save(fact_path)
    mart_path = project.table_path(mart)

    def whole():
        return build_model(
            spark, mart.spec, {"orders": spark.read.format("delta").load(fact_path)}, None
        )

    def table():
        return spark.read.format("delta").load(mart_path)

    refresh(spark, project, mart, run_ctx("day-1"))
    assert_df_equality(table(), whole(), ignore_row_order=True, ignore_nullable=True)
    built = delta_tables.current_version(spark, mart_path)

    fact = DeltaTable.forPath(spark, fact_path)
    frame([("O4", date(2026, 3, 1), 10, "web", 4, "40.00", "40.00")]).write.format("delta").mode(
        "append"
    ).save(fact_path)  # late: an order of a day already in the mart
    fact.update("order_id = 'O3'", {"revenue": "CAST(7.50 AS DECIMAL(12,2))"})
    fact.update("order_id = 'O3'", {"positions": "2"})  # the same order twice in one run
    fact.delete("order_id = 'R1'")  # the only order of (2026-03-01, 11, pos)
    frame([("O5", date(2026, 3, 3), 8, "store", 1, "3.00", "3.00")]).write.format("delta").mode(
        "append"
    ).save(fact_path)

    result = refresh(spark, project, mart, run_ctx("day-2"))

    assert_df_equality(table(), whole(), ignore_row_order=True, ignore_nullable=True)
    web = table().where("order_date = '2026-03-01' AND hour = 10").first()
    assert (web.orders, str(web.revenue), round(float(web.average_order_value), 4)) == (
        3,
        "60.00",
        21.6667,  # 65.00 / 3, from the summed intake: a ratio is derived, not added up
    )
    assert table().where("channel = 'pos'").count() == 0  # its group fell to 0 orders: gone
    # One commit for the run's three keys: a model keyed by day replaces the days' rows.
    history = DeltaTable.forPath(spark, mart_path).history().collect()
    assert [h.operation for h in history if h.version > built] == ["WRITE"]
    predicate = history[0].operationParameters["predicate"]
    assert all(d in predicate for d in ("2026-03-01", "2026-03-02", "2026-03-03"))
    assert result.keys_changed == 3

    # It reads the fact's changes, never the fact: a rewrite that is no change (dataChange
    # false, as erasure writes) leaves O1 in its day's sums when O4 changes on that day.
    kept = spark.read.format("delta").load(fact_path).where("order_id <> 'O1'")
    kept.localCheckpoint().write.format("delta").mode("overwrite").option(
        "dataChange", "false"
    ).save(fact_path)
    fact.update("order_id = 'O4'", {"positions": "5"})
    refresh(spark, project, mart, run_ctx("day-3"))
    web = table().where("order_date = '2026-03-01' AND hour = 10").first()
    assert (web.orders, web.positions) == (3, 2 + 1 + 5)


def test_an_additive_mart_rebuilds_the_keys_a_lookup_change_touches(spark, project):
    """mart_sales_by_shop adds a new order to its day, and rebuilds the days of a renamed
    shop from the inputs, in the same run and commit."""
    from delta.tables import DeltaTable

    from lakehouse.gold.refresh import refresh
    from tests.landing import run_ctx

    mart = project.table("gold.mart_sales_by_shop")
    paths = {
        alias: project.table_path(project.table(ref)) for alias, ref in mart.spec.inputs.items()
    }

    def append(alias, rows, schema):
        df = spark.createDataFrame(rows, schema)
        delta_tables.ensure_table(spark, paths[alias], df.schema, (), delta_tables.CHANGE_FEED)
        df.write.format("delta").mode("append").save(paths[alias])

    day = date(2026, 3, 1)
    orders = "order_date date, shop_id string, status string, order_intake decimal(12,2), revenue decimal(12,2)"
    append(
        "orders",
        [
            (day, "S1", "delivered", Decimal("10.00"), Decimal("10.00")),
            (day, "S2", "placed", Decimal("4.00"), Decimal("0.00")),
        ],
        orders,
    )
    append(
        "shop",
        [
            ("S1", "Mitte", "store", "Berlin", "BE", "DE"),
            ("S2", "Alster", "store", "Hamburg", "HH", "DE"),
        ],
        "shop_id string, shop_name string, shop_type string, city string, region string, country string",
    )
    append(
        "calendar",
        [(day, 2026, 9, date(2026, 2, 23), day, 2026)],
        "date date, iso_year int, iso_week int, week_start date, month_start date, year int",
    )

    def table():
        return spark.read.format("delta").load(project.table_path(mart))

    def whole():
        read = {a: spark.read.format("delta").load(p) for a, p in paths.items()}
        return build_model(spark, mart.spec, read, None)

    refresh(spark, project, mart, run_ctx("day-1"))
    DeltaTable.forPath(spark, paths["shop"]).update("shop_id = 'S1'", {"shop_name": "'Mitte Nord'"})
    append("orders", [(day, "S2", "delivered", Decimal("6.00"), Decimal("6.00"))], orders)
    result = refresh(spark, project, mart, run_ctx("day-2"))

    rows = {r.shop_id: r for r in table().collect()}
    assert (rows["S1"].shop_name, rows["S1"].orders) == ("Mitte Nord", 1)  # rebuilt
    assert (rows["S2"].orders, str(rows["S2"].revenue), str(rows["S2"].dropped)) == (
        2,
        "6.00",
        "4.00",  # added
    )
    assert result.keys_changed == 2
    assert_df_equality(table(), whole(), ignore_row_order=True, ignore_nullable=True)
    # Keyed by day and shop: one MERGE, which rewrote the two changed rows only.
    last = DeltaTable.forPath(spark, project.table_path(mart)).history(1).first()
    assert last.operation == "MERGE"
    assert int(last.operationMetrics["numTargetRowsUpdated"]) == 2


def test_running_extremes_recompute_only_the_customer_whose_first_order_went(spark, project):
    """mart_customer_activity keeps first and last order days as running extremes: a new
    order moves them, an update that keeps the day does not, and taking back a customer's
    first order recomputes that customer from the orders."""
    from lakehouse.gold.refresh import refresh
    from tests.landing import run_ctx

    mart = project.table("gold.mart_customer_activity")
    assert mart.spec.measures.extremes == {"first_order_date": "min", "last_order_date": "max"}
    fact_path = project.table_path(project.table("gold.fct_orders"))
    schema = "order_id string, order_date date, customer_id string, revenue decimal(12,2)"

    def frame(rows):
        return spark.createDataFrame(
            [(o, date.fromisoformat(d), c, Decimal(r)) for o, d, c, r in rows], schema
        )

    first = frame(
        [
            ("O1", "2026-03-01", "C1", "10.00"),
            ("O2", "2026-03-03", "C1", "5.00"),
            ("O3", "2026-03-02", "C2", "7.00"),
        ]
    )
    delta_tables.ensure_table(spark, fact_path, first.schema, (), delta_tables.CHANGE_FEED)
    first.write.format("delta").mode("append").save(fact_path)
    refresh(spark, project, mart, run_ctx("day-1"))

    fact = DeltaTable.forPath(spark, fact_path)
    fact.update("order_id = 'O2'", {"revenue": "CAST(6.00 AS DECIMAL(12,2))"})  # same day
    fact.delete("order_id = 'O1'")  # C1's first order is gone: C1 is recomputed
    frame([("O4", "2026-03-05", "C2", "1.00")]).write.format("delta").mode("append").save(fact_path)
    result = refresh(spark, project, mart, run_ctx("day-2"))

    table = spark.read.format("delta").load(project.table_path(mart))
    whole = build_model(
        spark, mart.spec, {"orders": spark.read.format("delta").load(fact_path)}, None
    )
    assert_df_equality(table, whole, ignore_row_order=True, ignore_nullable=True)
    rows = {r.customer_id: r for r in table.collect()}
    assert (rows["C1"].first_order_date, rows["C1"].orders, str(rows["C1"].revenue)) == (
        date(2026, 3, 3),
        1,
        "6.00",
    )
    assert (rows["C2"].first_order_date, rows["C2"].last_order_date) == (
        date(2026, 3, 2),
        date(2026, 3, 5),
    )
    assert result.strategy == "additive" and result.keys_changed == 2
