"""The API over a warehouse the pipeline built from simulated days: its answers against Spark
SQL over the facts, bad input, the token, snapshots while a table commits, and the dashboard
in a real headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import uuid
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lakehouse import pipeline
from lakehouse.config import load_project
from lakehouse.marts.recommend_eval import evaluate
from lakehouse.marts.recommendations import REASONS
from lakehouse.serving import __main__ as serve_main
from lakehouse.serving import security
from lakehouse.serving.app import create_app
from lakehouse.serving.queries import DERIVED, SERVED_TABLES
from lakehouse.serving.snapshot import GoldReader
from lakehouse.storage import hadoop_fs, object_store
from tests.conftest import CONF, REPO
from tests.landing import run_ctx
from tests.services import started_services
from tests.serving_support import ApiServer, invalid_params

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(spark, tmp_path_factory):
    """Three tiny simulated days through bronze, silver and gold, once for the module."""
    from lakehouse.simulator import Simulator, load_preset

    root = tmp_path_factory.mktemp("serving")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LAKEHOUSE_ROOT", str(root / "warehouse"))
        env.delenv("LAKEHOUSE_LANDING", raising=False)
        env.setenv("LAKEHOUSE_GX_VALIDATION", "false")
        project = load_project(CONF)
        Simulator(spark, load_preset("tiny"), landing=project.landing, seed=5).simulate(days=3)
        pipeline.run(spark, project, run_ctx("serving"))
        yield project


@pytest.fixture(scope="module")
def api(project):
    server = ApiServer(create_app(GoldReader(project, SERVED_TABLES, derived=DERIVED)))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def s3_api(spark, project):
    """The same gold tables in a warehouse on a real S3 server (SeaweedFS, started for this
    module), served from there: the dashboard test runs against it."""
    with (
        started_services(("s3",), bucket=f"serving-{uuid.uuid4().hex[:8]}") as svc,
        pytest.MonkeyPatch.context() as env,
    ):
        for key, value in svc.s3_env().items():
            env.setenv(key, value)
        env.setenv("LAKEHOUSE_ROOT", f"s3a://{svc.bucket}/warehouse")
        remote = load_project(CONF)
        object_store.configure(spark, remote.settings.storage.s3)
        for name in SERVED_TABLES:
            source, target = (p.table_path(p.table(f"gold.{name}")) for p in (project, remote))
            source_fs, source_path = hadoop_fs.file_system(spark, source)
            target_fs, target_path = hadoop_fs.file_system(spark, target)
            conf = hadoop_fs.hadoop_conf(spark)
            copy = hadoop_fs.jvm(spark).org.apache.hadoop.fs.FileUtil.copy
            assert copy(source_fs, source_path, target_fs, target_path, False, conf)
        server = ApiServer(create_app(GoldReader(remote, SERVED_TABLES, derived=DERIVED)))
        yield server
        server.stop()


@pytest.fixture(scope="module")
def gold(spark, project):
    """gold.<name> as a Spark view over the warehouse: the independent reading."""

    def view(name: str):
        path = project.table_path(project.table(f"gold.{name}"))
        spark.read.format("delta").load(path).createOrReplaceTempView(name)
        return spark.table(name)

    return view


def close(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(b)))


def test_recommendations_mart_is_full_and_evaluates(spark, project, gold):
    recs = gold("mart_recommendations")
    buyers = gold("fct_order_positions").where(
        "status <> 'cancelled' AND customer_id IS NOT NULL AND product_id IS NOT NULL"
    )
    assert recs.count() > 0
    # popularity and ALS fill the lists: every buyer gets five products, each with a reason
    assert {r.customer_id for r in recs.select("customer_id").distinct().collect()} == {
        r.customer_id for r in buyers.select("customer_id").distinct().collect()
    }
    assert recs.groupBy("customer_id").count().where("count <> 5").count() == 0
    assert {r.reason for r in recs.select("reason").distinct().collect()} <= set(REASONS)
    assert recs.where("(reason = 'bought_with') <> (because IS NOT NULL)").count() == 0
    # a product the customer has bought comes back only as "buy again"
    owned = recs.join(
        buyers.select("customer_id", "product_id").distinct(), ["customer_id", "product_id"]
    )
    assert owned.where("reason <> 'buy_again'").count() == 0
    params = project.table("gold.mart_recommendations").spec.params
    result = evaluate(gold("fct_order_positions"), params, days=1, tuned=False)
    assert result.train_baskets > 0
    assert result.scores[0].method == "most popular (baseline)"
    for s in result.scores:
        assert s.customers > 0 and 0 <= s.hits <= s.customers
        assert 0 <= s.relevant <= 5 * s.customers


def test_demand_forecast_mart_is_written(gold):
    forecast = gold("mart_demand_forecast")
    sales = gold("mart_item_sales_daily")
    last = sales.agg({"order_date": "max"}).first()[0]
    rows = forecast.collect()
    assert rows and {r.origin for r in rows} == {last}
    assert {r.horizon for r in rows} == set(range(1, 15))
    assert all(0 <= r.units_low <= r.units <= r.units_high for r in rows)
    # three days are too few to train on: the same-weekday mean stands in, and says so
    assert {r.model for r in rows} == {"weekday mean"}


def test_customer_profile_scores_and_recommendations(api, gold):
    row = gold("mart_customer_rfm").orderBy("customer_id").first()
    profile = api.ok(f"/api/customers/{row.customer_id}")
    assert (profile["r_score"], profile["f_score"], profile["m_score"]) == (
        row.r_score,
        row.f_score,
        row.m_score,
    )
    assert profile["orders"] == row.frequency and close(profile["revenue"], row.monetary)
    assert set(profile["versions"]) == {"mart_customer_profile", "mart_customer_rfm"}
    assert "birth_year" not in profile and "email" not in profile
    recs = api.ok(f"/api/customers/{row.customer_id}/recommendations")["items"]
    expected = gold("mart_recommendations").where(f"customer_id = '{row.customer_id}'")
    assert [(r["rank"], r["product_id"], r["reason"], r["because"]) for r in recs] == [
        (r.rank, r.product_id, r.reason, r.because) for r in expected.orderBy("rank").collect()
    ]
    assert all(r["because_name"] for r in recs if r["because"])


def test_a_products_forecast_beside_its_sales(api, gold, spark):
    forecast, sales = gold("mart_demand_forecast"), gold("mart_item_sales_daily")
    product = _busiest_forecast(spark, gold)
    answer = api.ok(f"/api/products/{product}/forecast")
    assert answer["product"]["product_id"] == product
    mart = forecast.where(f"product_id = '{product}'").collect()
    series = {(r.shop_id, r.channel) for r in mart}
    assert {(i["shop_id"], i["channel"]) for i in answer["items"]} == series
    for item in answer["items"]:
        rows = sorted(
            (r for r in mart if (r.shop_id, r.channel) == (item["shop_id"], item["channel"])),
            key=lambda r: r.forecast_date,
        )
        got = [
            (d["forecast_date"], d["units"], d["units_low"], d["units_high"])
            for d in item["forecast"]
        ]
        assert got == [(str(r.forecast_date), r.units, r.units_low, r.units_high) for r in rows]
        days = [d["day"] for d in item["actuals"]]
        assert len(days) == 28 and days[-1] == item["origin"] == str(rows[0].origin)
        assert days == sorted(set(days))  # 28 days in a row, zeros included
        sold = sales.where(
            f"product_id = '{product}' AND shop_id = '{item['shop_id']}' "
            f"AND channel = '{item['channel']}' AND order_date BETWEEN '{days[0]}' AND '{days[-1]}'"
        )
        by_day = {str(r.order_date): r.units for r in sold.collect()}
        assert {d["day"]: d["units"] for d in item["actuals"] if d["units"]} == by_day
    shop = answer["items"][0]["shop_id"]
    narrowed = api.ok(f"/api/products/{product}/forecast", shop=shop)["items"]
    assert narrowed and {i["shop_id"] for i in narrowed} == {shop}

    gold("dim_product")
    (unsold,) = spark.sql(
        "SELECT product_id FROM dim_product WHERE is_current AND product_id NOT IN "
        "(SELECT product_id FROM mart_demand_forecast) AND product_id <> '-1' ORDER BY 1 LIMIT 1"
    ).first()
    none = api.ok(f"/api/products/{unsold}/forecast")
    assert none["items"] == [] and "sold nothing" in none["empty_because"]
    assert api.get("/api/products/NOTHING/forecast")[0] == 404
    status, body = api.get(f"/api/products/{product}/forecast", channel="web;drop")
    assert status == 422 and invalid_params(body) == {"channel"}


def test_products_bought_with_a_product(spark, api, gold, project):
    gold("fct_order_positions")
    top = spark.sql(
        "SELECT product_id FROM fct_order_positions WHERE status <> 'cancelled' "
        "GROUP BY product_id ORDER BY count(DISTINCT order_id) DESC, product_id LIMIT 1"
    ).first()[0]
    expected = spark.sql(
        f"""SELECT l.product_id, count(DISTINCT l.order_id) AS n FROM fct_order_positions l
        JOIN (SELECT DISTINCT order_id FROM fct_order_positions
              WHERE product_id = '{top}' AND status <> 'cancelled') b USING (order_id)
        WHERE l.product_id <> '{top}' AND l.status <> 'cancelled' GROUP BY l.product_id"""
    )
    counts = {r.product_id: r.n for r in expected.collect()}
    first = api.ok(f"/api/products/{top}/bought-with", limit=5)
    second = api.ok(f"/api/products/{top}/bought-with", limit=5, offset=5)
    assert first["total"] == len(counts) > 5
    got = first["items"] + second["items"]
    assert {r["product_id"]: r["baskets"] for r in got}.items() <= counts.items()
    assert [r["baskets"] for r in got] == sorted(counts.values(), reverse=True)[:10]
    # The pairs are computed once per version of the facts, from their in-memory copy, or
    # from their files when the facts are too large to copy: the same answer either way.
    scanned = ApiServer(
        create_app(GoldReader(project, SERVED_TABLES, max_rows_in_memory=0, derived=DERIVED))
    )
    try:
        assert scanned.ok(f"/api/products/{top}/bought-with", limit=5) == first
    finally:
        scanned.stop()


def test_sales_views_equal_spark_sql_over_the_orders(spark, api, gold):
    gold("fct_orders")
    days = [
        r[0] for r in spark.sql("SELECT DISTINCT order_date FROM fct_orders ORDER BY 1").collect()
    ]
    shop = spark.sql(
        "SELECT shop_id FROM fct_orders GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    ).first()[0]
    first, last = str(days[1]), str(days[-1])  # a range that leaves the first day out
    where = f"order_date BETWEEN '{first}' AND '{last}' AND shop_id = '{shop}'"

    def facts(sql):
        return spark.sql(sql.format(where=where)).collect()

    trend = api.ok("/api/sales/trend", grain="day", shop=shop, **{"from": first, "to": last})
    expected = facts(
        "SELECT order_date, count(*), sum(order_intake), sum(revenue) FROM fct_orders "
        "WHERE {where} GROUP BY 1 ORDER BY 1"
    )
    assert [(r["period_start"], r["orders"]) for r in trend["items"]] == [
        (str(d), n) for d, n, _, _ in expected
    ]
    for got, (_, n, intake, revenue) in zip(trend["items"], expected, strict=True):
        assert close(got["order_intake"], intake) and close(got["revenue"], revenue)
        assert close(got["average_order_value"], float(intake) / n)

    # Every hour of the day, zeros included (an axis without gaps).
    hours = api.ok("/api/sales/peak-hours", shop=shop, **{"from": first, "to": last})["items"]
    expected = facts("SELECT hour, count(*) FROM fct_orders WHERE {where} GROUP BY 1 ORDER BY 1")
    assert [r["hour"] for r in hours] == list(range(24))
    assert {(r["hour"], r["orders"]) for r in hours if r["orders"]} == {tuple(r) for r in expected}
    assert any(r["orders"] == 0 and r["revenue"] == 0 for r in hours)  # one shop, two days
    all_hours = api.ok("/api/sales/peak-hours")["items"]
    expected = spark.sql("SELECT hour, count(*) FROM fct_orders GROUP BY 1 ORDER BY 1").collect()
    assert {(r["hour"], r["orders"]) for r in all_hours if r["orders"]} == {
        tuple(r) for r in expected
    }

    ytd = api.ok("/api/sales/year-to-date", shop=shop, as_of=last)
    ((n, intake, revenue),) = facts(
        "SELECT count(*), sum(order_intake), sum(revenue) FROM fct_orders WHERE shop_id = "
        f"'{shop}' AND order_date BETWEEN trunc(DATE'{last}', 'YEAR') AND DATE'{last}'"
    )
    assert (
        ytd["orders"] == n and close(ytd["revenue"], revenue) and close(ytd["order_intake"], intake)
    )

    drop = api.ok("/api/sales/drop-off", shop=shop, period="day", **{"from": first, "to": last})
    expected = facts(
        "SELECT order_date, 1 - try_divide(sum(revenue), sum(order_intake)) FROM fct_orders "
        "WHERE {where} GROUP BY 1 ORDER BY 1"
    )
    assert all(
        r["period_start"] == str(d) and close(r["drop_off_rate"], rate)
        for r, (d, rate) in zip(drop["items"], expected, strict=True)
    )

    by_region = api.ok("/api/sales/intake-vs-revenue", group="region", period="all")
    gold("dim_shop")
    expected = spark.sql(
        "SELECT s.region, sum(o.order_intake), sum(o.revenue) FROM fct_orders o "
        "LEFT JOIN dim_shop s USING (shop_id) GROUP BY 1"
    ).collect()
    got = {r["group"]: (r["order_intake"], r["revenue"]) for r in by_region["items"]}
    assert by_region["total"] == len(expected) == len(got)
    for region, intake, revenue in expected:
        assert close(got[region][0], intake) and close(got[region][1], revenue)

    lag = api.ok("/api/shipping/lag")["items"]
    expected = spark.sql(
        "SELECT trunc(order_date, 'MM'), count(days_to_ship), avg(days_to_ship) FROM fct_orders "
        "WHERE channel <> 'pos' AND (days_to_ship IS NOT NULL OR days_to_deliver IS NOT NULL) "
        "GROUP BY 1 ORDER BY 1"
    ).collect()
    assert [(r["order_month"], r["orders_shipped"]) for r in lag] == [
        (str(m), n) for m, n, _ in expected
    ]
    assert all(close(r["avg_days_to_ship"], a) for r, (_, _, a) in zip(lag, expected, strict=True))


def test_new_returning_and_brands_page_through_the_marts(api, gold):
    by_day = api.ok("/api/customers-by-period", period="day")["items"]
    mart = gold("mart_customers_by_period").where("period = 'day'").orderBy("period_start")
    assert [(r["period_start"], r["new_customers"], r["returning_customers"]) for r in by_day] == [
        (str(r.period_start), r.new_customers, r.returning_customers) for r in mart.collect()
    ]
    ranking = gold("mart_brand_ranking").where("weeks = 12").orderBy("brand_rank", "brand")
    brands = [r.brand for r in ranking.collect()]
    page1 = api.ok("/api/brands/ranking", weeks=12, limit=3)
    page2 = api.ok("/api/brands/ranking", weeks=12, limit=3, offset=3)
    assert page1["total"] == len(brands) > 3
    assert [r["brand"] for r in page1["items"] + page2["items"]] == brands[:6]


def test_brands_for_a_shop_and_days_by_the_marts_rule(spark, api, gold):
    """Ranked from the lines for a shop or any days; with the mart's own window and no shop,
    the same answer as the mart."""
    mart = api.ok("/api/brands/ranking", weeks=4, limit=1000)
    window = {"from": mart["from"], "to": mart["to"]}
    assert (mart["weeks"], mart["total"]) == (4, len(mart["items"]))
    by_days = api.ok("/api/brands/ranking", limit=1000, **window)
    assert by_days["weeks"] is None and by_days["items"] == mart["items"]
    gold("fct_order_positions"), gold("dim_product")
    shop = spark.sql(
        "SELECT shop_id FROM fct_order_positions GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    ).first()[0]
    days = sorted(
        str(r[0]) for r in gold("fct_order_positions").select("order_date").distinct().collect()
    )
    expected = spark.sql(
        f"""SELECT coalesce(p.brand, 'unknown') AS brand, sum(l.amount) AS sales, sum(l.quantity)
        FROM fct_order_positions l LEFT JOIN dim_product p ON p.product_sk = l.product_sk
        WHERE l.status <> 'cancelled' AND l.shop_id = '{shop}'
          AND l.order_date BETWEEN '{days[1]}' AND '{days[-1]}'
        GROUP BY 1"""
    ).collect()
    got = api.ok("/api/brands/ranking", shop=shop, limit=1000, **{"from": days[1], "to": days[-1]})
    assert got["total"] == len(expected) == len(got["items"]) > 0
    by_brand = {r["brand"]: r for r in got["items"]}
    for brand, sales, units in expected:
        assert close(by_brand[brand]["sales"], sales) and by_brand[brand]["units"] == units
    assert [r["brand_rank"] for r in got["items"]] == sorted(r["brand_rank"] for r in got["items"])
    # A shop without dates: the mart's window (the last 4 weeks), for that shop only.
    shop_only = api.ok("/api/brands/ranking", shop=shop, limit=1000)
    assert (shop_only["from"], shop_only["to"], shop_only["weeks"]) == (mart["from"], mart["to"], 4)
    status, body = api.get("/api/brands/ranking", weeks=4, **{"from": days[0]})
    assert status == 422 and invalid_params(body) == {"weeks"}


def test_new_and_returning_customers_of_one_shop(spark, api, gold):
    gold("fct_orders"), gold("mart_customer_profile")
    shop = spark.sql(
        "SELECT shop_id FROM fct_orders GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    ).first()[0]
    expected = spark.sql(
        f"""SELECT o.order_date, count(DISTINCT o.customer_id),
               count(DISTINCT CASE WHEN p.first_order_date = o.order_date THEN o.customer_id END)
        FROM fct_orders o LEFT JOIN mart_customer_profile p USING (customer_id)
        WHERE o.shop_id = '{shop}' AND o.customer_id IS NOT NULL GROUP BY 1 ORDER BY 1"""
    ).collect()
    got = api.ok("/api/customers-by-period", shop=shop, period="day")["items"]
    assert [(r["period_start"], r["customers"], r["new_customers"]) for r in got] == [
        (str(d), n, new) for d, n, new in expected
    ]
    assert all(r["returning_customers"] == r["customers"] - r["new_customers"] for r in got)
    chain = {r["period_start"]: r for r in api.ok("/api/customers-by-period")["items"]}
    assert all(r["new_customers"] <= chain[r["period_start"]]["new_customers"] for r in got)
    assert sum(r["customers"] for r in got) < sum(r["customers"] for r in chain.values())


def test_total_is_the_total_wherever_the_page_falls(api):
    for path, params in [
        ("/api/brands/ranking", {"weeks": 12}),
        ("/api/sales/intake-vs-revenue", {"group": "city", "period": "all"}),
    ]:
        first = api.ok(path, limit=2, **params)
        assert first["total"] > 2
        for offset in (first["total"], first["total"] + 35, 2**63 - 1):
            past = api.ok(path, limit=2, offset=offset, **params)
            assert (past["total"], past["items"], past["offset"]) == (first["total"], [], offset)


HOSTILE = [
    "", " ", "0", "-1", "4.0", "1e22", str(2**63), "9" * 40, "0x10", "+4", "NaN", "null",
    "2026-03-01T00:00:00", "1772323200", "2026-02-30", "9999-12-31", "0001-01-01",
    "' OR '1'='1", "../../conf/lakehouse.yaml", "%00", "\u0000", "é", "x" * 300,
]  # fmt: skip


def test_hostile_values_in_every_parameter_never_give_a_500(api):
    """Every query parameter of every endpoint the OpenAPI lists, with each hostile value:
    an answer, or a 4xx that names the parameter."""
    spec = api.ok("/openapi.json")
    tried = 0
    for path, ops in spec["paths"].items():
        concrete = path.replace("{customer_id}", "NOBODY").replace("{product_id}", "P_NONE")
        for param in ops["get"].get("parameters", []):
            if param["in"] != "query":
                continue
            for value in HOSTILE:
                status, body = api.get(concrete, **{param["name"]: value})
                tried += 1
                assert status < 500, (path, param["name"], value, body)
                if status == 422:
                    assert invalid_params(body) == {param["name"]}, (path, value, body)
    assert tried > 300


def test_bad_input_is_named(api):
    assert api.get("/api/customers/NOBODY")[0] == 404
    assert api.get("/api/customers/NOBODY/recommendations")[0] == 404
    status, body = api.get("/api/products/P_NONE/bought-with")
    assert (status, body["detail"]) == (404, "unknown product 'P_NONE'")
    assert api.get("/api/sales/trend", shop="S999")[0] == 404
    for path, params, named in [
        ("/api/sales/trend", {"from": "2026-13-01"}, "from"),
        ("/api/sales/trend", {"from": "2026-03-03", "to": "2026-03-01"}, "to"),
        ("/api/sales/trend", {"grain": "year"}, "grain"),
        ("/api/sales/trend", {"shop": "S1' OR '1'='1"}, "shop"),
        ("/api/brands/ranking", {"weeks": 5}, "weeks"),
        ("/api/brands/ranking", {"limit": 0}, "limit"),
        ("/api/brands/ranking", {"offset": -1}, "offset"),
        ("/api/sales/year-to-date", {"as_of": "yesterday"}, "as_of"),
    ]:
        status, body = api.get(path, **params)
        assert status == 422 and invalid_params(body) == {named}, (path, params, body)
    # ids are checked by pattern: nothing a client sends reaches a path or the SQL text
    assert api.get("/api/customers/..%2F..%2Fconf")[0] in (404, 422)
    assert api.get("/static/..%2F..%2F..%2Fconf%2Flakehouse.yaml")[0] == 404


def test_openapi_lists_every_question(api):
    paths = set(api.ok("/openapi.json")["paths"])
    assert {
        "/api/customers/{customer_id}",
        "/api/customers/{customer_id}/recommendations",
        "/api/products/{product_id}/bought-with",
        "/api/sales/trend",
        "/api/sales/peak-hours",
        "/api/sales/year-to-date",
        "/api/brands/ranking",
        "/api/sales/intake-vs-revenue",
        "/api/sales/drop-off",
        "/api/shipping/lag",
        "/api/customers-by-period",
        "/api/products/{product_id}/forecast",
    } <= paths
    status, page = api.get("/docs")
    assert status == 200 and "/static/docs.js" in page
    assert "/openapi.json" in api.get("/static/docs.js")[1]  # started from a file, not inline
    assert "/static/vendor/swagger-ui-dist-5.35.0/swagger-ui-bundle.js" in page  # no CDN


def test_token_required_off_loopback(project, monkeypatch, capsys):
    monkeypatch.delenv(security.TOKEN_ENV, raising=False)
    monkeypatch.delenv(security.TOKEN_FILE_ENV, raising=False)
    assert serve_main.main(["--host", "0.0.0.0", "--port", "1"]) == 2
    assert "refusing to bind 0.0.0.0 without a bearer token" in capsys.readouterr().err
    secret = "t0ken-for-this-test"
    guarded = ApiServer(
        create_app(GoldReader(project, SERVED_TABLES, derived=DERIVED), token=secret)
    )
    try:
        assert guarded.get("/api/shops")[0] == 401
        assert guarded.get("/api/shops", headers={"Authorization": "Bearer wrong"})[0] == 401
        status, body = guarded.get("/api/shops", headers={"Authorization": f"Bearer {secret}"})
        assert status == 200 and body["items"]
        assert guarded.get("/openapi.json")[0] == 200  # no data in the page or its schema
    finally:
        guarded.stop()
    assert secret not in capsys.readouterr().out


def test_requests_while_a_table_commits_never_fail(spark, project, api):
    path = project.table_path(project.table("gold.mart_sales_by_shop"))
    before = api.ok("/api/sales/trend", grain="month")
    table = spark.read.format("delta").load(path)
    rows = spark.createDataFrame(table.collect(), table.schema)
    failures, versions, done = [], set(), threading.Event()

    def client():
        while not done.is_set():
            status, body = api.get("/api/sales/trend", grain="month")
            if status != 200 or body["items"] != before["items"]:
                failures.append((status, body))
            else:
                versions.add(body["versions"]["mart_sales_by_shop"])

    clients = [threading.Thread(target=client) for _ in range(3)]
    for t in clients:
        t.start()
    try:
        for _ in range(4):  # the same rows, committed again: each version must read whole
            rows.write.format("delta").mode("overwrite").save(path)
    finally:
        done.set()
        for t in clients:
            t.join()
    assert failures == []
    assert len(versions) >= 2  # the requests did see the table move
    api.ok("/api/sales/trend")  # takes the newest version; older copies are dropped
    reader = api.server.config.app.state.reader
    copies = reader._db.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'mart_sales_by_shop@%'"
    ).fetchall()
    latest = DeltaTable(path).version()
    assert copies == [(f"mart_sales_by_shop@{latest}",)]


def _expected_marks(api, shop, first, last):
    """What each chart must show, from the API: (series, label) -> value."""
    f = {"shop": shop, "from": first, "to": last}
    views = {
        "trend-day": ("/api/sales/trend", {**f, "grain": "day"}, "period_start", ["revenue", "order_intake"]),
        "trend-month": ("/api/sales/trend", {**f, "grain": "month"}, "period_start", ["order_intake", "revenue"]),
        "peak-hours": ("/api/sales/peak-hours", f, "hour", ["orders"]),
        "brands": ("/api/brands/ranking", {**f, "limit": 10} if first else {"weeks": 4, "shop": shop, "limit": 10}, "brand", ["sales"]),
        "intake-revenue": ("/api/sales/intake-vs-revenue", {**f, "group": "shop", "period": "all"}, "group", ["order_intake", "revenue"]),
        "drop-off": ("/api/sales/drop-off", {**f, "period": "day"}, "period_start", ["drop_off_rate"]),
        "shipping-lag": ("/api/shipping/lag", f, "order_month", ["avg_days_to_ship", "avg_days_to_deliver"]),
        "new-returning": ("/api/customers-by-period", {**f, "period": "day"}, "period_start", ["new_customers", "returning_customers"]),
    }  # fmt: skip
    expected = {}
    for chart, (path, params, label, series) in views.items():
        items = api.ok(path, **{k: v for k, v in params.items() if v})["items"]
        scale = 100 if chart == "drop-off" else 1  # drawn as a percentage
        expected[chart] = {
            (s, str(r[label])): r[s] * scale for r in items for s in series if r[s] is not None
        }
    ytd = api.ok(
        "/api/sales/year-to-date", **{k: v for k, v in {"as_of": last, "shop": shop}.items() if v}
    )
    expected["ytd"] = {
        (k, ""): ytd[k] for k in ("orders", "order_intake", "revenue", "average_order_value")
    }
    return expected


SHOWN = """JSON.stringify([...document.querySelectorAll('[data-chart]')].map(f => [
  f.dataset.chart, f.dataset.rendered,
  [...f.querySelectorAll('[data-value]')].map(m => [m.dataset.series, m.dataset.label || '', m.dataset.value])]))"""


def _check_dashboard(browser, api, shop="", first="", last=""):
    browser.wait_for(
        "document.body.dataset.ready === 'yes' || document.body.dataset.ready === 'error'"
    )
    assert browser.evaluate("document.body.dataset.ready") == "yes", browser.evaluate(
        "$('status').textContent"
    )
    expected = _expected_marks(api, shop, first, last)
    shown = _shown(browser)
    assert set(shown) == set(expected)
    for chart, marks in expected.items():
        rendered, drawn = shown[chart]
        assert rendered == "yes" and marks, f"{chart} drew nothing"
        assert drawn.keys() == marks.keys(), chart
        assert all(close(drawn[k], v) for k, v in marks.items()), chart
    _check_labels(browser, api)


def _busiest_forecast(spark, gold) -> str:
    gold("mart_demand_forecast")
    return spark.sql(
        "SELECT product_id FROM mart_demand_forecast GROUP BY 1 ORDER BY sum(units) DESC, 1 LIMIT 1"
    ).first()[0]


def _shown(browser) -> dict:
    """chart -> (rendered, {(series, label): value}) as the page drew it."""
    return {
        chart: (rendered, {(s, label): float(v) for s, label, v in marks})
        for chart, rendered, marks in json.loads(browser.evaluate(SHOWN))
    }


TEXTS = """JSON.stringify(Object.fromEntries([...document.querySelectorAll('[data-chart]')].map(f => [
  f.dataset.chart, {
    caption: f.querySelector('figcaption')?.textContent ?? '',
    legend: [...f.querySelectorAll('.legend span')].map(n => n.textContent),
    ticks: [...f.querySelectorAll('text.tick')].map(n => n.textContent),
    axis: [...f.querySelectorAll('text.axis-label')].map(n => n.textContent),
    tiles: [...f.querySelectorAll('.kpi')].map(n => n.textContent)}])))"""


def _check_labels(browser, api):
    """Every word on the page is for people: no column names, shop names not codes, money
    in its currency, whole numbers on the axes of counts, every hour of the day."""
    texts = json.loads(browser.evaluate(TEXTS))
    shops = {s["shop_id"]: s["shop_name"] for s in api.ok("/api/shops")["items"]}
    for chart, t in texts.items():
        words = [t["caption"], *t["legend"], *t["ticks"], *t["axis"], *t["tiles"]]
        for word in words:
            assert not re.search(r"[a-z]+_[a-z]", word), (chart, word)  # a column name
            assert word not in shops, (chart, word)  # a shop code
        money = chart in ("trend-day", "trend-month", "brands", "intake-revenue")
        assert all("€" in tick for tick in t["ticks"]) or not money, (chart, t["ticks"])
        if chart in ("peak-hours", "new-returning"):  # counts
            assert all(re.fullmatch(r"[\d,]+", tick) for tick in t["ticks"]), (chart, t)
    assert texts["peak-hours"]["axis"] == [str(h) for h in range(24)]
    for label in texts["intake-revenue"]["axis"]:  # a name, or its start when it is long
        assert any(label in (n, f"{n[:17]}…") for n in shops.values()), label
    assert any("€" in tile for tile in texts["ytd"]["tiles"])


def test_dashboard_in_headless_chromium(s3_api, gold, spark, tmp_path):
    from tests.cdp import Browser

    api = s3_api  # gold read from s3a:// by delta-rs: the dashboard over a warehouse on S3
    browser = Browser(tmp_path / "profile")
    # Whatever the page's Content-Security-Policy refuses is kept for the test to see.
    browser.call(
        "Page.addScriptToEvaluateOnNewDocument",
        source="window.refused = []; document.addEventListener('securitypolicyviolation', "
        "e => window.refused.push(e.violatedDirective + ' ' + e.blockedURI));",
    )
    try:
        browser.call("Page.navigate", url=f"{api.url}/")
        _check_dashboard(browser, api)
        browser.screenshot(tmp_path / "dashboard.png")
        days = sorted(
            str(r.order_date)
            for r in gold("mart_sales_by_shop").select("order_date").distinct().collect()
        )
        shop = api.ok("/api/shops")["items"][0]["shop_id"]
        browser.evaluate(
            f"$('from').value = '{days[1]}'; $('to').value = '{days[-1]}'; $('shop').value = '{shop}';"
            "$('filters').requestSubmit(); true"
        )
        _check_dashboard(browser, api, shop, days[1], days[-1])
        browser.screenshot(tmp_path / "dashboard-filtered.png")

        # An end before the start: one readable sentence, nothing asked, nothing redrawn.
        before = _shown(browser), browser.evaluate("$('kpis').textContent")
        browser.evaluate(
            f"$('from').value = '{days[-1]}'; $('to').value = '{days[0]}';"
            "$('filters').requestSubmit(); true"
        )
        browser.wait_for("document.body.dataset.ready === 'invalid'")
        status = browser.evaluate("$('status').textContent")
        assert status.startswith("“To” (") and "is before “From”" in status, status
        assert not re.search(r"[{}\[\]]|detail|loc", status), status
        assert (_shown(browser), browser.evaluate("$('kpis').textContent")) == before

        # A customer without recommendations is told so.
        gold("mart_customer_profile"), gold("mart_recommendations")
        (lonely,) = spark.sql(
            "SELECT p.customer_id FROM mart_customer_profile p LEFT ANTI JOIN "
            "mart_recommendations r USING (customer_id) ORDER BY 1 LIMIT 1"
        ).first()
        none = api.ok(f"/api/customers/{lonely}/recommendations")
        assert none["items"] == [] and "kept purchase" in none["empty_because"]
        browser.evaluate(
            f"$('customer-id').value = '{lonely}'; $('customer-form').requestSubmit(); true"
        )
        said = browser.wait_for(
            "$('customer').textContent.includes('No recommendations') && $('customer').textContent"
        )
        assert lonely in said and none["empty_because"] in said and "<" not in said

        # A customer's recommendations say why, in words.
        (known,) = spark.sql(
            "SELECT customer_id FROM mart_recommendations GROUP BY 1 "
            "ORDER BY count(DISTINCT reason) DESC, 1 LIMIT 1"
        ).first()
        browser.evaluate(
            f"$('customer-id').value = '{known}'; $('customer-form').requestSubmit(); true"
        )
        browser.wait_for("$('customer').querySelectorAll('tr').length > 1")
        whys = json.loads(
            browser.evaluate(
                "JSON.stringify([...$('customer').querySelectorAll('tr')]"
                ".slice(1).map(r => r.cells[3].textContent))"
            )
        )
        assert whys and all(w and "_" not in w for w in whys), whys

        # A product's forecast: the busiest shop and channel's days, as the API gives them.
        product = _busiest_forecast(spark, gold)
        browser.evaluate(
            f"$('product-id').value = '{product}'; $('forecast-form').requestSubmit(); true"
        )
        browser.wait_for("$('forecast').dataset.rendered === 'yes'")
        drawn = {
            (s, label): float(v)
            for s, label, v in json.loads(
                browser.evaluate(
                    "JSON.stringify([...$('forecast').querySelectorAll('[data-value]')]"
                    ".map(m => [m.dataset.series, m.dataset.label, m.dataset.value]))"
                )
            )
        }
        item = max(
            api.ok(f"/api/products/{product}/forecast")["items"],
            key=lambda i: sum(d["units"] for d in i["forecast"]),
        )
        want = {("units_sold", d["day"]): d["units"] for d in item["actuals"]}
        want |= {("units_forecast", d["forecast_date"]): d["units"] for d in item["forecast"]}
        assert drawn.keys() == want.keys() and all(close(drawn[k], v) for k, v in want.items())
        assert browser.evaluate("$('forecast').querySelectorAll('polygon.band').length") == 1
        assert browser.evaluate("JSON.stringify(window.refused)") == "[]"

        browser.call("Page.navigate", url=f"{api.url}/docs")  # Swagger UI, served offline
        assert browser.wait_for("document.querySelectorAll('.opblock').length") >= 11
        assert browser.evaluate("JSON.stringify(window.refused)") == "[]"
    finally:
        browser.close()
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
    if os.environ.get("LAKEHOUSE_KEEP_SCREENSHOT"):  # refreshes docs/dashboard.png
        shutil.copy(tmp_path / "dashboard.png", Path(REPO) / "docs" / "dashboard.png")
