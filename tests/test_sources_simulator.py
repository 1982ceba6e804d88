"""The simulator's real-systems mode against real servers: e-commerce feeds published to
Kafka, the shops' sales kept in PostgreSQL, inventory left as files; bronze (the
systems/real overlay) lands every message and row, malformed ones kept, voided sales leave
silver."""

from __future__ import annotations

import json

import pytest

from lakehouse import pipeline
from lakehouse.ops import run_log
from lakehouse.simulator import Simulator, load_preset
from lakehouse.simulator.systems import RealSystems, real_systems_project, staging_folder
from tests.conftest import CONF
from tests.landing import run_ctx

pytestmark = pytest.mark.slow

KAFKA_FEEDS = ("customers", "orders", "order_positions", "web_events")


def test_simulated_days_delivered_to_kafka_and_postgres_land_whole(
    spark, services, tmp_path, monkeypatch
):
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "warehouse"))
    monkeypatch.setenv("LAKEHOUSE_LANDING", str(tmp_path / "landing"))
    monkeypatch.setenv("LAKEHOUSE_GX_VALIDATION", "false")
    monkeypatch.setenv("LAKEHOUSE_TABLES_OVERLAY", "systems/real")
    monkeypatch.setenv("LAKEHOUSE_KAFKA_BOOTSTRAP", services.bootstrap)
    monkeypatch.setenv("LAKEHOUSE_PG_URL", services.jdbc_url)
    monkeypatch.setenv("LAKEHOUSE_PG_USER", "lakehouse")
    monkeypatch.setenv("LAKEHOUSE_PG_PASSWORD_FILE", str(services.password_file))
    monkeypatch.setenv("LAKEHOUSE_PG_COMPARE_EVERY", "0 minutes")  # days minutes apart here
    project = real_systems_project(CONF)
    landing = tmp_path / "landing"
    staging = staging_folder(landing)
    sim = Simulator(spark, load_preset("tiny"), landing=staging, seed=7)
    systems = RealSystems(project, landing, seed=7, void_share=0.2)

    day0 = systems.deliver(staging, sim.simulate_day(0))
    assert json.loads((landing / "_manifest" / f"{day0['day']}.json").read_text())["systems"]
    # Inventory stays files; the e-commerce feeds and the shops left the landing area.
    assert list((landing / "catalogue" / "stock_levels").glob("*.csv"))
    assert not (landing / "ecommerce").exists() and not (landing / "pos").exists()

    selection = pipeline.Selection(tables=("silver.pos_sales",), upstream=True)
    bronze_refs = [f"bronze.{n}" for n in KAFKA_FEEDS] + ["bronze.shops"]
    tables = pipeline.select(project, selection) + [project.table(r) for r in bronze_refs]
    reports = pipeline.run(spark, project, run_ctx("day0"), tables=tables)
    assert all(r.status == run_log.SUCCEEDED for r in reports)

    def bronze(name):
        return spark.read.format("delta").load(project.table_path(project.table(f"bronze.{name}")))

    for name in KAFKA_FEEDS:
        topic = project.table(f"bronze.{name}").spec.source.kafka.topic
        published = day0["systems"]["topics"][topic]["messages"]
        malformed = day0["sources"][name]["defects"].get("malformed", {}).get("count", 0)
        landed = bronze(name)
        assert landed.count() == published, name
        assert landed.where("_corrupt_record IS NOT NULL").count() == malformed, name
    with services.pg() as conn:
        stored = conn.execute("SELECT count(*) FROM pos_sales").fetchone()[0]
    assert stored and bronze("pos_sales").count() == stored

    # Day 1 voids a share of the stored sales lines: they leave silver.
    day1 = systems.deliver(staging, sim.simulate_day(1))
    voided = day1["systems"]["voided"]["pos_sales"]["keys"]
    assert voided
    pipeline.run(spark, project, run_ctx("day1"), tables=pipeline.select(project, selection))
    silver = spark.read.format("delta").load(project.table_path(project.table("silver.pos_sales")))
    left = {f"{r.receipt_no}:{r.line_no}" for r in silver.collect()}
    assert left and not left & set(voided)
