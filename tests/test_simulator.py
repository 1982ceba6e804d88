"""The simulator: files where the contract says, same seed same bytes, defects as declared.

Three tiny days are generated once per module; the checks read them back with Spark the
way bronze does (declared schema, PERMISSIVE, corrupt-record column) and compare what
they find with the manifest.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from lakehouse.simulator import Simulator, load_preset
from lakehouse.simulator.feeds import load_contract
from lakehouse.simulator.source_model import last_at_most

SEED = 42
DAYS = 3
CORRUPT = "_corrupt_record"
CONTRACT = load_contract()


@pytest.fixture(scope="module")
def landing(spark, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("landing")
    Simulator(spark, load_preset("tiny"), landing=folder, seed=SEED).simulate(days=DAYS)
    return folder


@pytest.fixture(scope="module")
def manifests(landing) -> list[dict]:
    return [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((landing / "_manifest").glob("*.json"))
    ]


def _files(landing: Path, source: str, day: str) -> list[Path]:
    folder = landing / CONTRACT[source].path
    return sorted(p for p in folder.glob(f"*_{day}*") if not p.name.startswith((".", "_")))


def _read(spark, source: str, paths: list[Path]):
    """Read like bronze: the declared schema, bad lines kept in a corrupt-record column."""
    s = CONTRACT[source]
    names = [str(p) for p in paths]
    if s.format == "parquet":
        return spark.read.schema(s.ddl).parquet(*names)
    reader = (
        spark.read.schema(f"{s.ddl}, {CORRUPT} string")
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
    )
    if s.format == "csv":
        return reader.option("header", True).option("escape", '"').csv(names).cache()
    return reader.json(names).cache()


def _defects(manifest: dict, source: str) -> dict:
    return manifest["sources"][source]["defects"]


def _count(manifest: dict, source: str, kind: str) -> int:
    return _defects(manifest, source).get(kind, {}).get("count", 0)


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def test_files_follow_the_landing_contract(landing, manifests):
    assert [m["day"] for m in manifests] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    pattern = re.compile(r"^(?P<stem>.+)_(?P<day>\d{4}-\d{2}-\d{2})(_late)?\.(csv|jsonl|parquet)$")
    for m in manifests:
        for name, source in m["sources"].items():
            for f in source["files"]:
                path = landing / f["path"]
                assert path.is_file()
                assert path.stat().st_size == f["bytes"]
                folder, file_name = f["path"].rsplit("/", 1)
                assert folder == CONTRACT[name].path
                match = pattern.match(file_name)
                assert match and match["day"] == m["day"]
                assert match["stem"] == CONTRACT[name].path.rsplit("/", 1)[-1]
    leftovers = [p for p in landing.rglob("*") if p.name.startswith(".") or "staging" in p.name]
    assert leftovers == []


def test_every_source_has_data_on_the_first_day(manifests):
    first = manifests[0]
    assert set(first["sources"]) == set(CONTRACT)
    for name, source in first["sources"].items():
        assert source["rows"] > 0, name


def test_same_seed_same_bytes_one_day_at_a_time(spark, landing, tmp_path):
    """Day 1 on its own, in a fresh folder, is byte for byte what the 3-day run wrote."""
    Simulator(spark, load_preset("tiny"), landing=tmp_path, seed=SEED).simulate_day("2026-03-02")
    for name in CONTRACT:
        again = _files(tmp_path, name, "2026-03-02")
        assert [p.name for p in again] == [p.name for p in _files(landing, name, "2026-03-02")]
        assert _digest(again) == _digest(_files(landing, name, "2026-03-02")), name
    ours = json.loads((tmp_path / "_manifest" / "2026-03-02.json").read_text())
    theirs = json.loads((landing / "_manifest" / "2026-03-02.json").read_text())
    assert ours == theirs


def test_day_lookup_matches_the_per_day_rule_and_takes_years_of_days(spark):
    """``last_at_most`` replaces a CASE branch per day, which overflowed the JVM stack for a
    range ending past day ~367: same answers, including days with no rows (equal bounds)."""
    bounds = [0, 3, 3, 7, 7, 7, 12]
    values = [-1, 0, 2, 3, 6, 7, 11, 12, 40]

    def per_day_rule(v: int) -> int:  # the CASE chain: the last day whose bound is <= v
        day = -1
        for d, b in enumerate(bounds):
            if v >= b:
                day = d
        return day

    df = spark.createDataFrame([(v,) for v in values], "v long")
    got = df.select("v", last_at_most(bounds, F.col("v")).alias("day")).collect()
    assert {r["v"]: r["day"] for r in got} == {v: per_day_rule(v) for v in values}

    years = list(range(0, 5 * 3650, 5))  # ten years of days
    row = spark.range(1).select(last_at_most(years, F.lit(12_345)).alias("day")).first()
    assert row["day"] == 12_345 // 5


@pytest.mark.slow
def test_another_seed_gives_other_data(spark, landing, tmp_path):
    Simulator(spark, load_preset("tiny"), landing=tmp_path, seed=SEED + 1).simulate_day(0)
    for name in ("orders", "order_positions", "customers", "pos_sales", "web_events"):
        assert _digest(_files(tmp_path, name, "2026-03-01")) != _digest(
            _files(landing, name, "2026-03-01")
        ), name


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_files_read_with_the_declared_schema(spark, landing, manifests, name):
    """Every line is a row; exactly the lines the manifest calls malformed are corrupt."""
    for m in manifests:
        paths = _files(landing, name, m["day"])
        if not paths:
            assert m["sources"][name]["rows"] == 0
            continue
        df = _read(spark, name, paths)
        assert df.count() == m["sources"][name]["rows"]
        corrupt = df.where(F.col(CORRUPT).isNotNull()).count() if CORRUPT in df.columns else 0
        assert corrupt == _count(m, name, "malformed"), (name, m["day"])
        declared = [c for c, _ in CONTRACT[name].columns]
        assert [c for c in df.columns if c != CORRUPT] == declared


def test_the_defect_kinds_all_occur(manifests):
    seen = {
        kind for m in manifests for source in m["sources"].values() for kind in source["defects"]
    }
    expected = {
        "exact_duplicate",
        "resent_newer",
        "orphan_reference",
        "late",
        "malformed",
        "null_required",
        "absurd_value",
        "unknown_reference",
        "mixed_date_format",
        "place_variant",
    }
    assert expected <= seen


def test_exact_duplicates_are_repeated_lines(landing, manifests):
    for m in manifests:
        for name, source in CONTRACT.items():
            if source.format == "parquet":
                continue
            lines = []
            for p in _files(landing, name, m["day"]):
                body = p.read_text(encoding="utf-8").splitlines()
                lines += body[1:] if source.format == "csv" else body
            assert len(lines) - len(set(lines)) == _count(m, name, "exact_duplicate"), name


def test_spoiled_values_match_the_manifest(spark, landing, manifests):
    """Nulls in required fields, absurd numbers, unknown products, orphan positions."""
    for m in manifests:
        day = m["day"]
        lines = _read(spark, "order_positions", _files(landing, "order_positions", day))
        ok = lines.where(F.col(CORRUPT).isNull())
        nulls = ok.where(
            F.col("product_id").isNull() | F.col("quantity").isNull() | F.col("unit_price").isNull()
        )
        assert nulls.count() == _count(m, "order_positions", "null_required")
        absurd = ok.where(
            (F.col("quantity") <= 0)
            | (F.col("quantity") > 1000)
            | (F.col("unit_price") < 0)
            | (F.col("unit_price") > 50000)
        )
        assert absurd.count() == _count(m, "order_positions", "absurd_value")
        unknown = ok.where(F.col("product_id").startswith("P9"))
        assert unknown.count() == _count(m, "order_positions", "unknown_reference")
        orphans = ok.where(F.substring("order_id", 11, 1) == "9")
        assert orphans.count() == _count(m, "order_positions", "orphan_reference")
        listed = set(_defects(m, "order_positions").get("orphan_reference", {}).get("keys", []))
        assert {f"{r.order_id}|{r.position_no}" for r in orphans.collect()} == listed

        till = _read(spark, "pos_sales", _files(landing, "pos_sales", day))
        required = ("store_code", "sold_at", "sku", "qty")
        missing = till.where(" OR ".join(f"{c} IS NULL" for c in required))
        assert missing.count() == _count(m, "pos_sales", "null_required")
        odd = till.where(
            "qty <= 0 OR qty > 1000 OR unit_price_cents < 0 OR unit_price_cents > 10000000"
        )
        assert odd.count() == _count(m, "pos_sales", "absurd_value")
        assert till.where(F.col("sku").startswith("P9")).count() == _count(
            m, "pos_sales", "unknown_reference"
        )


def test_dates_and_place_names_vary_as_declared(spark, landing, manifests):
    iso = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$"
    canonical = [c["name"] for c in load_preset("tiny").world["cities"]]
    offsets = set()
    for m in manifests:
        orders = _read(spark, "orders", _files(landing, "orders", m["day"]))
        ok = orders.where(F.col(CORRUPT).isNull() & F.col("order_ts").isNotNull())
        assert ok.where(~F.col("order_ts").rlike(iso)).count() == _count(
            m, "orders", "mixed_date_format"
        )
        offsets |= {r[0] for r in ok.select(F.substring("order_ts", 20, 6)).distinct().collect()}
        customers = _read(spark, "customers", _files(landing, "customers", m["day"]))
        variants = customers.where(
            F.col(CORRUPT).isNull() & F.col("city").isNotNull() & ~F.col("city").isin(*canonical)
        )
        assert variants.count() == _count(m, "customers", "place_variant")
    assert {"+01:00", "+00:00", "+02:00"} <= offsets


def test_late_records_arrive_in_late_files(spark, landing, manifests):
    for m in manifests[1:]:
        orders_late = [p for p in _files(landing, "orders", m["day"]) if "_late" in p.name]
        lines_late = sum(f["rows"] for f in m["sources"]["orders"]["files"] if "_late" in f["path"])
        assert lines_late == _count(m, "orders", "late")
        if orders_late:
            rows = _read(spark, "orders", orders_late).collect()
            assert all(r.updated_at[:10] < m["day"] for r in rows)
    older = [k for m in manifests for k in m["sources"]["orders"]["late_older_versions"]["keys"]]
    assert older, "expected an older order version to arrive after a newer one"


def test_schema_drift_adds_a_column_from_its_day(spark, landing, manifests):
    import pyarrow.parquet as pq

    drift = load_preset("tiny").defects.schema_drift[0]
    for i, m in enumerate(manifests):
        for p in _files(landing, drift.source, m["day"]):
            names = pq.read_schema(p).names
            assert (drift.column in names) == (i >= drift.from_day), (p.name, names)
        assert bool(m["schema_drift"]) == (i >= drift.from_day)


def test_truth_is_what_a_correct_pipeline_computes(spark, landing, manifests):
    """Recompute order intake and revenue from the files as of the last day."""
    last = manifests[-1]
    days = [m["day"] for m in manifests]

    def every(name):
        return _read(spark, name, [p for d in days for p in _files(landing, name, d)])

    products = {r.product_id for r in every("products").where(f"{CORRUPT} IS NULL").collect()}
    orders = every("orders").where(
        f"{CORRUPT} IS NULL AND customer_id IS NOT NULL AND shop_id IS NOT NULL "
        "AND order_ts IS NOT NULL AND status IS NOT NULL"
    )
    status = {
        r.order_id: r.status
        for r in orders.groupBy("order_id")
        .agg(F.max_by("status", "updated_at").alias("status"))
        .collect()
    }
    positions = (
        every("order_positions")
        .where(
            f"{CORRUPT} IS NULL AND product_id IS NOT NULL "
            "AND quantity BETWEEN 1 AND 1000 AND unit_price BETWEEN 0 AND 50000"
        )
        .groupBy("order_id", "position_no")
        .agg(F.max_by(F.struct("quantity", "unit_price", "product_id"), "updated_at").alias("v"))
        .collect()
    )
    intake: dict[str, Decimal] = {}
    revenue: dict[str, Decimal] = {}
    for r in positions:
        if r.order_id not in status or r.v.product_id not in products:
            continue
        day = f"{r.order_id[1:5]}-{r.order_id[5:7]}-{r.order_id[7:9]}"
        amount = r.v.quantity * r.v.unit_price
        intake[day] = intake.get(day, Decimal(0)) + amount
        if status[r.order_id] == "delivered":
            revenue[day] = revenue.get(day, Decimal(0)) + amount
    truth = last["truth"]["orders_by_date"]
    for day in days:
        assert truth[day]["order_intake"] == pytest.approx(float(intake[day]), abs=0.01), day
        assert truth[day]["revenue"] == pytest.approx(float(revenue.get(day, 0)), abs=0.01), day
        assert truth[day]["orders"] == sum(1 for o in status if o[1:9] == day.replace("-", ""))


# --- the shoppers' behaviour: planted as the manifest says --------------------------------


@pytest.fixture(scope="module")
def sim(spark, tmp_path_factory):
    """The same simulator as the landing's, to recompute its clean records."""
    return Simulator(
        spark, load_preset("tiny"), landing=tmp_path_factory.mktemp("unused"), seed=SEED
    )


@pytest.fixture(scope="module")
def stories(spark, sim):
    """The orders of the three days with their kind and fixed first line, and the
    catalogue's categories."""
    from lakehouse.simulator.orders import placed_orders

    w = sim.ctx.world
    orders = placed_orders(sim.ctx, 0, DAYS - 1).select(
        "_day", "order_id", "customer_id", "_kind", w.product_id(F.col("_fix1")).alias("first")
    )
    category = w.category(w.category_index(F.col("id")), "category")
    products = spark.range(sim.settings.products).select(
        w.product_id(F.col("id")).alias("product_id"), category.alias("category")
    )
    return orders.collect(), {r.product_id: r.category for r in products.collect()}


def test_the_manifest_records_the_behaviour_and_volumes_stay(manifests, sim, stories):
    orders, _ = stories
    for day, m in enumerate(manifests):
        kinds = m["behaviour"]["orders_by_kind"]
        assert sum(kinds.values()) == sim.calendar.orders(day)
        assert sum(1 for o in orders if o._day == day) == sim.calendar.orders(day)
        got = {k: sum(1 for o in orders if o._day == day and o._kind == k) for k in kinds}
        assert got == kinds
        assert m["behaviour"]["settings"]["taste_share"] == sim.settings.behaviour.taste_share
    assert manifests[1]["behaviour"]["orders_by_kind"]["follow_up"] > 0


def test_repeat_customers_buy_their_consumable_on_their_day(manifests, sim, stories):
    orders, category = stories
    consumables = set(sim.settings.behaviour.repeats.categories)
    for day, m in enumerate(manifests):
        repeats = [o for o in orders if o._day == day and o._kind == "repeat"]
        assert sorted(o.customer_id for o in repeats) == m["behaviour"]["repeat_customers"]["keys"]
        assert all(category[o.first] in consumables for o in repeats)


def test_follow_ups_bring_a_complement_of_an_earlier_anchor(sim, stories):
    orders, category = stories
    pairs = {p.anchor: set(p.complements) for p in sim.settings.behaviour.complements.pairs}
    follow_ups = [o for o in orders if o._kind == "follow_up"]
    assert follow_ups
    for f in follow_ups:
        anchors = [
            o
            for o in orders
            if o._kind == "anchor" and o.customer_id == f.customer_id and o._day < f._day
        ]
        assert any(category[f.first] in pairs[category[a.first]] for a in anchors), f


def test_new_products_are_nowhere_before_their_launch(spark, landing, manifests):
    new = {n["product_id"] for n in manifests[-1]["behaviour"]["new_products"]}
    assert all(n["launch_day_index"] >= DAYS for n in manifests[-1]["behaviour"]["new_products"])
    assert new
    for name, column in (
        ("products", "product_id"),
        ("stock_levels", "product_id"),
        ("order_positions", "product_id"),
        ("pos_sales", "sku"),
        ("web_events", "product_id"),
    ):
        paths = [p for m in manifests for p in _files(landing, name, m["day"])]
        seen = {r[0] for r in _read(spark, name, paths).select(column).distinct().collect()}
        assert not (seen & new), name


def test_promoted_products_sell_at_their_discount(spark, manifests, sim):
    from lakehouse.simulator.orders import positions

    w = sim.ctx.world
    lines = positions(sim.ctx, 0, DAYS - 1)
    pidx = F.substring("product_id", 2, 7).cast("long")
    priced = lines.select(
        "_day",
        "product_id",
        "unit_price",
        w.list_price(pidx, w.category_index(pidx), F.col("_day")).alias("list_price"),
    ).collect()
    checked = 0
    for day, m in enumerate(manifests):
        discounts = m["behaviour"]["promotions"]["discounts"]
        assert len(discounts) == m["behaviour"]["promotions"]["count"] > 0
        for r in priced:
            if r._day == day and r.product_id in discounts:
                limit = float(r.list_price) * (1 - discounts[r.product_id])
                assert float(r.unit_price) <= limit + 0.006, r
                checked += 1
    assert checked > 0
