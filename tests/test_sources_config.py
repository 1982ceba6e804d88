"""The YAML of Kafka and JDBC sources is validated at load, and the real-systems overlay
replaces the tables it names."""

from __future__ import annotations

import pytest

from lakehouse.config import ConfigError, load_project

KAFKA = """\
source:
  format: kafka
{block}
  schema: {{order_id: string}}
"""


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        ("", r"source.kafka: needed with, and only with, format kafka"),
        (
            "  kafka: {bootstrap_servers: 'h:9092'}",
            r"source.kafka: declare topic or pattern \(one of them\)",
        ),
        (
            "  kafka: {bootstrap_servers: 'h:9092', topic: t, secrets: {sasl.jaas.config: 'not a var'}}",
            r"source\.kafka\.secrets\.sasl\.jaas\.config: 'not a var' is not an environment "
            "variable name",
        ),
    ],
)
def test_a_kafka_source_missing_what_it_needs_is_refused_naming_file_and_key(
    conf_copy, block, problem
):
    (conf_copy / "tables" / "bronze" / "feed.yaml").write_text(KAFKA.format(block=block))
    with pytest.raises(ConfigError, match=r"feed.yaml: " + problem):
        load_project(conf_copy / "lakehouse.yaml")


def test_a_jdbc_url_with_credentials_is_refused(conf_copy):
    (conf_copy / "tables" / "bronze" / "db.yaml").write_text(
        "source:\n  format: jdbc\n  jdbc: {url: 'jdbc:postgresql://me:pw@h:5432/db', table: t}\n"
        "  schema: {id: long}\n"
    )
    with pytest.raises(
        ConfigError, match=r"db.yaml: source\.jdbc\.url: credentials go under secrets"
    ):
        load_project(conf_copy / "lakehouse.yaml")


def test_the_real_systems_overlay_replaces_only_the_tables_it_names(conf_copy, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_TABLES_OVERLAY", "systems/real")
    real = load_project(conf_copy / "lakehouse.yaml")
    monkeypatch.setenv("LAKEHOUSE_TABLES_OVERLAY", "")
    files = load_project(conf_copy / "lakehouse.yaml")
    formats = {t.name: t.spec.source.format for t in real.tables.values() if t.layer == "bronze"}
    assert formats == {
        "customers": "kafka",
        "orders": "kafka",
        "order_positions": "kafka",
        "web_events": "kafka",
        "pos_sales": "jdbc",
        "shops": "jdbc",
        "products": "csv",
        "stock_levels": "csv",
    }
    assert set(real.tables) == set(files.tables)
    changed = {r for r in real.tables if real.tables[r].file != files.tables[r].file}
    assert changed == {f"bronze.{n}" for n in formats if formats[n] != "csv"} | {"silver.pos_sales"}
