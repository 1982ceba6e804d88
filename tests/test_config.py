"""The configuration loads into typed objects; broken files say which file, key and problem."""

from __future__ import annotations

import re

import pytest
import yaml

from lakehouse.config import ConfigError, load_project


def _edit(path, change):
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_real_configuration_loads_in_dependency_order(project):
    order = [t.ref for t in project.in_dependency_order()]
    assert set(order) == set(project.tables)
    for table in project.tables.values():
        for upstream in table.upstream:
            assert order.index(upstream) < order.index(table.ref), (table.ref, upstream)
    orders = project.table("silver.orders").spec
    assert orders.keys == ("order_id",)
    assert orders.sequence_by == ("updated_at",)
    assert orders.columns["order_ts"].type == "timestamp"


def test_paths_come_from_the_environment(project, tmp_path):
    assert project.root == str(tmp_path / "warehouse")
    assert project.landing == f"{tmp_path / 'warehouse'}/landing"
    assert project.table_path(project.table("gold.fct_orders")).endswith("/gold/fct_orders")


def test_missing_key_names_file_and_key(conf_copy):
    file = conf_copy / "tables" / "silver" / "orders.yaml"
    _edit(file, lambda d: d.pop("keys"))
    with pytest.raises(ConfigError) as err:
        load_project(conf_copy / "lakehouse.yaml")
    assert err.value.file == str(file)
    assert err.value.key == "keys"
    assert "required key is missing" in str(err.value)


def test_wrong_type_names_file_and_key(conf_copy):
    file = conf_copy / "tables" / "bronze" / "orders.yaml"
    _edit(file, lambda d: d["source"].__setitem__("schema", ["order_id", "status"]))
    with pytest.raises(ConfigError) as err:
        load_project(conf_copy / "lakehouse.yaml")
    assert str(file) in str(err.value)
    assert err.value.key == "source.schema"
    assert "expected a mapping, got a list" in str(err.value)


def test_data_docs_index_needs_at_least_one_run(conf_copy):
    file = conf_copy / "lakehouse.yaml"
    _edit(file, lambda d: d["quality"].__setitem__("data_docs_index_runs", 0))
    with pytest.raises(ConfigError) as err:
        load_project(file)
    assert err.value.key == "quality.data_docs_index_runs"
    assert "must be at least 1 (got 0)" in str(err.value)


def test_refresh_interval_is_read_and_a_bad_one_named(conf_copy):
    file = conf_copy / "tables" / "gold" / "mart_recommendations.yaml"
    assert (
        str(
            load_project(conf_copy / "lakehouse.yaml")
            .table("gold.mart_recommendations")
            .spec.refresh_interval
        )
        == "7 days, 0:00:00"
    )
    _edit(file, lambda d: d.__setitem__("refresh_every", "weekly"))
    with pytest.raises(ConfigError) as err:
        load_project(conf_copy / "lakehouse.yaml")
    assert str(file) in str(err.value)
    assert err.value.key == "refresh_every"
    assert "expected '<n> minutes|hours|days|weeks', got 'weekly'" in str(err.value)


def test_unknown_format_lists_the_allowed_ones(conf_copy):
    file = conf_copy / "tables" / "bronze" / "orders.yaml"
    _edit(file, lambda d: d["source"].__setitem__("format", "xlsx"))
    with pytest.raises(ConfigError, match=re.escape("source.format: must be one of 'csv', 'json'")):
        load_project(conf_copy / "lakehouse.yaml")


def test_unknown_table_reference_names_file(conf_copy):
    file = conf_copy / "tables" / "gold" / "fct_orders.yaml"
    _edit(file, lambda d: d["inputs"].__setitem__("positions", "silver.order_lines"))
    with pytest.raises(ConfigError) as err:
        load_project(conf_copy / "lakehouse.yaml")
    assert err.value.file == str(file)
    assert err.value.key == "inputs.positions"
    assert "unknown table 'silver.order_lines'" in str(err.value)


def test_unknown_key_is_refused_with_the_known_ones(conf_copy):
    file = conf_copy / "tables" / "silver" / "orders.yaml"
    _edit(file, lambda d: d.__setitem__("sequence", "updated_at"))
    with pytest.raises(
        ConfigError, match=r"sequence: unknown key \(expected one of: .*sequence_by"
    ):
        load_project(conf_copy / "lakehouse.yaml")


def test_key_must_be_a_declared_column(conf_copy):
    _edit(conf_copy / "tables" / "silver" / "orders.yaml", lambda d: d.__setitem__("keys", ["id"]))
    with pytest.raises(ConfigError, match="key column 'id' is not one of the columns"):
        load_project(conf_copy / "lakehouse.yaml")


def test_layers_only_read_downwards(conf_copy):
    _edit(
        conf_copy / "tables" / "silver" / "orders.yaml",
        lambda d: d.__setitem__("source", "gold.fct_orders"),
    )
    with pytest.raises(ConfigError, match=re.escape("silver cannot read from 'gold.fct_orders'")):
        load_project(conf_copy / "lakehouse.yaml")


def test_gold_cycle_is_reported(conf_copy):
    gold = conf_copy / "tables" / "gold"
    _edit(gold / "dim_shop.yaml", lambda d: d["inputs"].__setitem__("x", "gold.fct_orders"))
    _edit(gold / "fct_orders.yaml", lambda d: d["inputs"].__setitem__("y", "gold.dim_shop"))
    with pytest.raises(ConfigError, match="dependency cycle"):
        load_project(conf_copy / "lakehouse.yaml")


def test_invalid_yaml_names_file(conf_copy):
    file = conf_copy / "tables" / "bronze" / "shops.yaml"
    file.write_text("source: [unclosed\n")
    with pytest.raises(ConfigError, match=re.escape(f"{file}: not valid YAML")):
        load_project(conf_copy / "lakehouse.yaml")


def test_environment_fills_strings_numbers_and_booleans(conf_copy, monkeypatch):
    file = conf_copy / "lakehouse.yaml"

    def refer(d):
        d["storage"]["root"] = "${LH_TEST_ROOT}/x"
        d["operations"]["lock_stale_seconds"] = "${LH_TEST_STALE:-120}"
        d["quality"]["great_expectations"] = "${LH_TEST_GX:-no}"

    _edit(file, refer)
    monkeypatch.setenv("LH_TEST_ROOT", "/data/lake")
    settings = load_project(file).settings
    assert settings.storage.root == "/data/lake/x"
    assert settings.operations.lock_stale_seconds == 120
    assert settings.quality.great_expectations is False
    monkeypatch.setenv("LH_TEST_STALE", "soon")
    with pytest.raises(ConfigError, match=r"lock_stale_seconds: expected an integer, got 'soon'"):
        load_project(file)
    monkeypatch.delenv("LH_TEST_STALE")
    monkeypatch.delenv("LH_TEST_ROOT")
    with pytest.raises(
        ConfigError,
        match=re.escape(f"{file}: storage.root: environment variable LH_TEST_ROOT is not set"),
    ):
        load_project(file)


def test_unknown_profile_is_named(project):
    with pytest.raises(ConfigError, match="no profile 'laptop'"):
        project.profile("laptop")


@pytest.mark.parametrize(
    ("edit", "key", "message"),
    [
        (lambda d: d.pop("rows"), "measures", "declare measures with rows: additive"),
        (lambda d: d.__setitem__("strategy", "additive"), "strategy", "is now two settings"),
        (lambda d: d["measures"].__setitem__("sum", ["hour"]), "measures", "a key or derived"),
        (
            lambda d: d["changes"].__setitem__("orders", {"sql": "SELECT order_date FROM o"}),
            "changes",
            "adds up the changes of exactly one input",
        ),
    ],
)
def test_an_additive_model_names_what_it_cannot_add_up(conf_copy, edit, key, message):
    file = conf_copy / "tables" / "gold" / "mart_sales_trend.yaml"
    _edit(file, edit)
    with pytest.raises(ConfigError) as err:
        load_project(conf_copy / "lakehouse.yaml")
    assert str(file) in str(err.value)
    assert err.value.key == key
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("file", "edit", "key", "message"),
    [
        (  # a nested block's key, not just the block, is named (real-systems overlay)
            "systems/real/bronze/orders.yaml",
            lambda d: d["source"]["kafka"].__setitem__("topics", "x"),
            "source.kafka.topics",
            "unknown key (expected one of: bootstrap_servers, max_offsets_per_batch,",
        ),
        (  # a shorthand is checked as the mapping it stands for
            "tables/silver/customers.yaml",
            lambda d: d["pii"].__setitem__("email", "encrypt"),
            "pii.email.action",
            "must be one of 'drop', 'hash', 'mask', 'generalise', got 'encrypt'",
        ),
        (
            "tables/silver/customers.yaml",
            lambda d: d["pii"].__setitem__("birth_date", {"action": "generalise"}),
            "pii.birth_date.to",
            "generalise needs `to:`",
        ),
        (
            "tables/gold/mart_recommendations.yaml",
            lambda d: d.__setitem__("rows", "maybe"),
            "rows",
            "must be one of 'touched', 'additive', 'whole', 'versions', got 'maybe'",
        ),
        (
            "tables/gold/fct_orders.yaml",
            lambda d: d["changes"].__setitem__("orders", {"sqll": "SELECT 1"}),
            "changes.orders.sqll",
            "unknown key (expected one of: params, sql)",
        ),
        (
            "tables/gold/fct_orders.yaml",
            lambda d: d.__setitem__("inputs", ["silver.orders"]),
            "inputs",
            "expected a mapping, got a list",
        ),
        (
            "tables/silver/orders.yaml",
            lambda d: d.__setitem__("columns", {**d["columns"], "order_ts": ["timestamp"]}),
            "columns.order_ts",
            "expected a mapping, got a list",
        ),
    ],
)
def test_errors_name_the_exact_key(conf_copy, file, edit, key, message):
    if file.startswith("systems/real/"):
        _edit(
            conf_copy / "lakehouse.yaml", lambda d: d.__setitem__("tables_overlay", "systems/real")
        )
    _edit(conf_copy / file, edit)
    with pytest.raises(ConfigError) as err:
        load_project(conf_copy / "lakehouse.yaml")
    assert err.value.file == str(conf_copy / file)
    assert err.value.key == key
    assert message in err.value.problem
