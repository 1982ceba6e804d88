"""The same simulated days, once as files in the landing area and once delivered by the real
systems (e-commerce to Kafka, the shops' sales to PostgreSQL, inventory as files): every gold
table comes out the same. With no sales voided in the database, the two deliveries carry the
same records, defects included, so any difference is the sources' doing."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality

from lakehouse import pipeline
from lakehouse.config import load_project
from lakehouse.simulator import Simulator, load_preset
from lakehouse.simulator.systems import RealSystems, real_systems_project, staging_folder
from tests.conftest import CONF
from tests.landing import run_ctx
from tests.services import unique

pytestmark = pytest.mark.slow

SEED, DAYS = 11, 2


def _build(spark, project, deliver) -> None:
    """Simulate each day, deliver it, run the whole pipeline over it."""
    for day in range(DAYS):
        deliver(day)
        pipeline.run(spark, project, run_ctx(f"day-{day}"))


def test_gold_from_kafka_and_postgres_equals_gold_from_files(
    spark, services, tmp_path, monkeypatch
):
    monkeypatch.setenv("LAKEHOUSE_GX_VALIDATION", "false")

    files = tmp_path / "files"
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(files / "warehouse"))
    monkeypatch.setenv("LAKEHOUSE_LANDING", str(files / "landing"))
    from_files = load_project(CONF)
    sim = Simulator(spark, load_preset("tiny"), landing=files / "landing", seed=SEED)
    _build(spark, from_files, sim.simulate_day)

    real = tmp_path / "real"
    # Topics and a database of its own on the session's servers: they hold only these days.
    database = unique("gold_equal")
    with services.pg() as conn:
        conn.execute(f"CREATE DATABASE {database}")
    monkeypatch.setenv("LAKEHOUSE_KAFKA_TOPIC_PREFIX", database)
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(real / "warehouse"))
    monkeypatch.setenv("LAKEHOUSE_LANDING", str(real / "landing"))
    monkeypatch.setenv("LAKEHOUSE_TABLES_OVERLAY", "systems/real")
    monkeypatch.setenv("LAKEHOUSE_KAFKA_BOOTSTRAP", services.bootstrap)
    monkeypatch.setenv("LAKEHOUSE_PG_URL", services.jdbc_url.rsplit("/", 1)[0] + "/" + database)
    monkeypatch.setenv("LAKEHOUSE_PG_USER", "lakehouse")
    monkeypatch.setenv("LAKEHOUSE_PG_PASSWORD_FILE", str(services.password_file))
    from_systems = real_systems_project(CONF)
    staging = staging_folder(real / "landing")
    staged = Simulator(spark, load_preset("tiny"), landing=staging, seed=SEED)
    systems = RealSystems(from_systems, real / "landing", seed=SEED, void_share=0.0)
    _build(spark, from_systems, lambda day: systems.deliver(staging, staged.simulate_day(day)))
    assert from_systems.table("bronze.orders").spec.source.kafka.topic == f"{database}.orders"

    def read(project, ref):
        return spark.read.format("delta").load(project.table_path(project.table(ref)))

    gold = [t.ref for t in from_files.in_dependency_order() if t.layer == "gold"]
    assert len(gold) > 10
    for ref in gold:
        expected = read(from_files, ref)
        assert_df_equality(
            read(from_systems, ref).select(*expected.columns),
            expected,
            ignore_row_order=True,
            ignore_nullable=True,
        )
    # Both channels came through: web orders (Kafka) and till receipts (PostgreSQL).
    channels = {
        r.channel for r in read(from_systems, "gold.fct_orders").select("channel").collect()
    }
    assert "pos" in channels and len(channels) > 1, channels
