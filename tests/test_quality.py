"""Expectations: one definition per rule drives the quarantine, the results and GX's report."""

from __future__ import annotations

import inspect
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from chispa import assert_df_equality

from lakehouse import bronze, silver
from lakehouse.config import ConfigError, load_project
from lakehouse.config.expectations import KWARGS_BY_TYPE, Suite, load_suite
from lakehouse.errors import DataQualityError
from lakehouse.silver.quality import check, gx_validation
from lakehouse.silver.quality.rules import ROW_CHECKS
from lakehouse.storage import delta_tables
from tests.conftest import REPO
from tests.landing import csv, drop, run_ctx

SUITE_YAML = """
name: t
expectations:
  - type: expect_column_values_to_not_be_null
    kwargs: {column: qty}
    meta: {action: quarantine}
  - type: expect_column_values_to_be_between
    kwargs: {column: qty, min_value: 1, max_value: 100}
    meta: {action: quarantine}
  - type: expect_column_values_to_be_in_set
    kwargs: {column: status, value_set: [paid, shipped]}
    meta: {action: warn}
  - type: expect_column_values_to_match_regex
    kwargs: {column: code, regex: "^[A-Z]{2}$"}
    meta: {action: quarantine}
  - type: expect_column_value_lengths_to_be_between
    kwargs: {column: code, min_value: 2, max_value: 2}
    meta: {action: warn}
  - type: expect_column_values_to_not_be_in_set
    kwargs: {column: status, value_set: [fraud]}
    meta: {action: quarantine}
"""
ROWS = [
    ("K1", 5, "paid", "DE", None),
    ("K2", None, "paid", "DE", None),
    ("K3", 500, "placed", "D", None),
    ("K4", -1, None, None, None),
    ("K5", 7, "fraud", "de", None),
    (None, 7, "paid", "DE", None),
    (None, None, None, None, 'K7,"broken'),
    ("K8", 100, "shipped", "XYZ", None),
]
SCHEMA = "key string, qty int, status string, code string, _corrupt_record string"


@pytest.fixture
def suite(tmp_path) -> Suite:
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE_YAML)
    return load_suite(path)


def test_flag_lists_every_broken_rule_per_row(spark, suite):
    flagged = check.flag(spark.createDataFrame(ROWS, SCHEMA), suite, ("key",))
    got = {r.key or r._corrupt_record or "nokey": r._rules for r in flagged.collect()}
    assert got == {
        "K1": [],
        "K2": ["qty.not_be_null"],
        "K3": [
            "qty.be_between",
            "status.be_in_set",
            "code.match_regex",
            "code.column_value_lengths_to_be_between",
        ],
        "K4": ["qty.be_between"],
        "K5": ["status.be_in_set", "code.match_regex", "status.not_be_in_set"],
        "nokey": ["missing_key"],
        'K7,"broken': ["malformed"],
        "K8": ["code.match_regex", "code.column_value_lengths_to_be_between"],
    }


def test_outcomes_count_each_rule_in_one_pass(spark, suite):
    flagged = check.flag(spark.createDataFrame(ROWS, SCHEMA), suite, ("key",))
    total, leaving, outcomes = check.outcomes(flagged, suite)
    assert total == 8
    assert (
        leaving == 7
    )  # all but K1 break a quarantine rule or cannot be judged... except warn-only
    by_rule = {o.rule: (o.action, o.evaluated, o.failed) for o in outcomes}
    assert by_rule["malformed"] == ("quarantine", 8, 1)
    assert by_rule["missing_key"] == ("quarantine", 8, 1)
    assert by_rule["qty.be_between"] == ("quarantine", 6, 2)
    assert by_rule["status.be_in_set"] == ("warn", 6, 2)


def test_quarantine_counts_equal_great_expectations_unexpected_counts(spark, suite, tmp_path):
    flagged = check.flag(spark.createDataFrame(ROWS, SCHEMA), suite, ("key",))
    _, _, outcomes = check.outcomes(flagged, suite)
    gx = gx_validation.validate(
        check.judged_rows(flagged).drop("_corrupt_record"), suite, tmp_path / "gx", "t", "run-1"
    )
    ours = {o.rule: o.failed for o in outcomes if o.expectation_type != "structural"}
    assert ours == gx.unexpected
    assert sum(ours.values()) > 0
    assert gx.docs_index and gx.docs_index.endswith("index.html")
    assert (tmp_path / "gx").exists()


def test_great_expectations_keeps_no_copy_of_the_batch_cached(spark, suite, tmp_path):
    judged = check.judged_rows(check.flag(spark.createDataFrame(ROWS, SCHEMA), suite, ("key",)))
    judged = judged.drop("_corrupt_record")
    gx_validation.validate(judged, suite, tmp_path / "gx", "t", "run-1")
    assert not judged.is_cached  # nothing would ever release it


def test_tables_validated_side_by_side_each_get_their_own_counts_and_docs(spark, suite, tmp_path):
    """The runner refreshes tables in threads; each validation runs in a GX context of its
    own and only the shared project's stores and Data Docs are written one at a time."""
    judged = check.judged_rows(check.flag(spark.createDataFrame(ROWS, SCHEMA), suite, ("key",)))
    batches = {
        "all_rows": judged.drop("_corrupt_record"),
        "qty_ok": judged.drop("_corrupt_record").where("qty between 1 and 100"),
    }
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            (name, i): pool.submit(
                gx_validation.validate, df, suite, tmp_path / "gx", f"{name}_{i}", "run-1"
            )
            for name, df in batches.items()
            for i in range(2)
        }
        results = {key: f.result() for key, f in futures.items()}
    for (name, _), gx in results.items():
        _, _, outcomes = check.outcomes(check.flag(batches[name], suite, ("key",)), suite)
        expected = {o.rule: o.failed for o in outcomes if o.expectation_type != "structural"}
        assert gx.unexpected == expected, name
    assert results[("all_rows", 0)].unexpected["qty.be_between"] == 2
    assert results[("qty_ok", 0)].unexpected["qty.be_between"] == 0
    index = Path(results[("all_rows", 0)].docs_index.removeprefix("file://")).read_text()
    pages = tmp_path / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site" / "validations"
    for name, i in results:
        assert f"{name}_{i}" in index
        assert list((pages / f"{name}_{i}").rglob("*.html")), f"no Data Docs page for {name}_{i}"


def test_data_docs_index_lists_only_the_latest_runs(spark, suite, tmp_path):
    judged = check.judged_rows(check.flag(spark.createDataFrame(ROWS, SCHEMA), suite, ("key",)))
    for run in ("run-first", "run-second", "run-third"):
        gx = gx_validation.validate(
            judged.drop("_corrupt_record"), suite, tmp_path / "gx", "t", run, index_runs=2
        )
    index = gx.docs_index.removeprefix("file://")
    listed = Path(index).read_text(encoding="utf-8")
    assert "run-third" in listed and "run-second" in listed
    assert "run-first" not in listed
    pages = tmp_path / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site" / "validations"
    assert len([p for p in pages.rglob("*.html") if "run-first" in str(p)]) == 1


def test_suite_errors_name_file_and_entry(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\nexpectations:\n  - type: expect_column_values_to_be_between\n"
        "    kwargs: {column: q, min: 1}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_suite(path)
    assert err.value.file == str(path) and err.value.key == "expectations[0].kwargs.min"
    assert "unknown key (expected one of: column, max_value, min_value, strict_max" in str(
        err.value
    )
    path.write_text(
        "name: bad\nexpectations:\n  - type: expect_column_values_to_be_in_set\n"
        "    kwargs: {column: q}\n"
    )
    with pytest.raises(ConfigError, match=r"expectations\[0\].kwargs.value_set: required key"):
        load_suite(path)
    path.write_text(
        "name: bad\nexpectations:\n  - type: expect_column_values_to_not_be_null\n"
        "    kwargs: {column: q}\n    meta: {action: stop}\n"
    )
    with pytest.raises(
        ConfigError, match=r"expectations\[0\].meta.action: must be one of 'warn', 'quarantine'"
    ):
        load_suite(path)
    path.write_text(
        "name: bad\nexpectations:\n  - type: expect_table_row_count_to_equal\n    kwargs: {}\n"
    )
    with pytest.raises(ConfigError, match=r"expectations\[0\].type: .* has no row-level check"):
        load_suite(path)
    path.write_text(
        "name: bad\nexpectations:\n  - type: expect_column_values_to_not_be_null\n"
        "    kwargs: {column: q, mostly: 0.95}\n"
    )
    with pytest.raises(ConfigError, match=r"kwargs.mostly: is not supported.*fail_above: 0.05"):
        load_suite(path)


def test_each_kwargs_model_takes_what_its_row_check_takes():
    # config cannot import silver (tests/test_layers.py), so this holds the two together
    assert set(KWARGS_BY_TYPE) == set(ROW_CHECKS)
    for name, row_check in ROW_CHECKS.items():
        params = inspect.signature(row_check).parameters
        fields = KWARGS_BY_TYPE[name].model_fields
        assert list(fields) == list(params), name
        for key, param in params.items():
            required = param.default is inspect.Parameter.empty
            assert fields[key].is_required() == required, (name, key)
            if not required:
                assert fields[key].default == param.default, (name, key)


# --- through silver, on real Delta tables -------------------------------------------------

ORDERS = (
    "order_id,customer_id,shop_id,channel,order_ts,status,shipping_date,delivery_date,updated_at"
)


@pytest.fixture
def quality_project(tmp_path, monkeypatch):
    """A copy of conf/ and expectations/ that a test may change, warehouse in tmp."""
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    shutil.copytree(REPO / "expectations", tmp_path / "expectations")
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "warehouse"))
    monkeypatch.setenv("LAKEHOUSE_GX_VALIDATION", "true")

    def load(change_suite=None):
        if change_suite:
            path = tmp_path / "expectations" / "silver" / "orders.yaml"
            suite = yaml.safe_load(path.read_text())
            change_suite(suite)
            path.write_text(yaml.safe_dump(suite))
        return load_project(tmp_path / "conf" / "lakehouse.yaml")

    return load


def drop_orders(project, name, *rows):
    drop(project, "bronze.orders", name, csv(ORDERS, *rows))


GOOD = "O1,C1,S0,web,2026-03-01T10:00:00Z,paid,,,2026-03-01T10:00:00Z"
BAD_STATUS = "O2,C1,S0,web,2026-03-01T10:00:00Z,lost,,,2026-03-01T10:00:00Z"
NO_CUSTOMER = "O3,,S0,web,2026-03-01T10:00:00Z,paid,,,2026-03-01T10:00:00Z"
MALFORMED = 'O4,C1,S0,web,"2026-03-01'


def refresh_orders(spark, project, run_id):
    bronze.ingest(spark, project, project.table("bronze.orders"), run_ctx(run_id))
    return silver.refresh(spark, project, project.table("silver.orders"), run_ctx(run_id))


def read(spark, path):
    return spark.read.format("delta").load(path)


def test_quarantine_results_and_rerun(spark, quality_project):
    project = quality_project()
    drop_orders(project, "orders_1.csv", GOOD, BAD_STATUS, NO_CUSTOMER, MALFORMED)
    result = refresh_orders(spark, project, "run-1")
    assert (result.rows_read, result.rows_quarantined) == (4, 3)

    table = project.table("silver.orders")
    assert [r.order_id for r in read(spark, project.table_path(table)).collect()] == ["O1"]
    quarantine = read(spark, project.quarantine_path(table))
    got = {(r.order_id, tuple(r._rules), r._run_id) for r in quarantine.collect()}
    assert got == {
        ("O2", ("status.be_in_set",), "run-1"),
        ("O3", ("customer_id.not_be_null",), "run-1"),
        ("O4", ("malformed",), "run-1"),  # a broken line keeps what did parse, and its raw text
    }
    raw = quarantine.where("_corrupt_record IS NOT NULL").first()._corrupt_record
    assert raw.startswith('O4,C1,S0,web,"2026-03-01')

    results = read(spark, project.quality_results_path).where("table = 'silver.orders'")
    rows = {r.rule: (r.evaluated, r.failed, r.gx_unexpected) for r in results.collect()}
    assert rows["malformed"] == (4, 1, None)
    assert rows["status.be_in_set"] == (3, 1, 1)
    assert rows["customer_id.not_be_null"] == (3, 1, 1)
    assert (
        project.gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    ).exists()

    versions = {
        p: delta_tables.current_version(spark, p)
        for p in (
            project.table_path(table),
            project.quarantine_path(table),
            project.quality_results_path,
        )
    }
    refresh_orders(spark, project, "run-2")
    assert read(spark, project.quarantine_path(table)).count() == 3
    assert {p: delta_tables.current_version(spark, p) for p in versions} == versions


def test_fail_action_stops_before_anything_is_written(spark, quality_project):
    def fail_on_status(suite):
        for e in suite["expectations"]:
            if e["kwargs"].get("column") == "status" and e["type"].endswith("in_set"):
                e["meta"] = {"action": "fail"}

    project = quality_project(fail_on_status)
    drop_orders(project, "orders_1.csv", GOOD, BAD_STATUS)
    table = project.table("silver.orders")
    with pytest.raises(Exception) as err:
        refresh_orders(spark, project, "run-1")
    message = str(err.value)
    assert "DataQualityError" in message or isinstance(err.value, DataQualityError)
    assert "silver.orders" in message and "status.be_in_set: 1 of 2 rows" in message
    assert read(spark, project.table_path(table)).count() == 0
    assert read(spark, project.quarantine_path(table)).count() == 0


def test_threshold_turns_quarantine_into_failure(spark, quality_project):
    def at_most_10_percent(suite):
        for e in suite["expectations"]:
            if e["kwargs"].get("column") == "customer_id":
                e["meta"] = {"action": "quarantine", "fail_above": 0.10}

    project = quality_project(at_most_10_percent)
    drop_orders(project, "orders_1.csv", GOOD, NO_CUSTOMER)
    with pytest.raises(Exception, match=r"customer_id.not_be_null: 1 of 2 rows \(50.0%\)"):
        refresh_orders(spark, project, "run-1")


def test_harmonised_values(spark, project):
    from lakehouse.silver.harmonise import Harmonisers

    h = Harmonisers(project.harmonisation)
    df = spark.createDataFrame(
        [
            ("2026-03-01T14:03:22Z", "Deutschland", "MUNICH "),
            ("2026-03-01T15:03:22+01:00", " de ", "München"),
            ("01.03.2026 14:03", "germany", "muenchen"),
            ("2026/03/01 14:03:22", "AT", "Graz "),
            ("03/01/2026", "Österreich", "  vienna"),
            ("nonsense", "Atlantis", None),
        ],
        "ts string, country string, city string",
    )
    out = df.select(
        h.timestamp(df.ts).cast("string").alias("ts"),
        h.country(df.country).alias("country"),
        h.city(df.city).alias("city"),
    )
    expected = spark.createDataFrame(
        [
            ("2026-03-01 14:03:22", "DE", "München"),
            ("2026-03-01 14:03:22", "DE", "München"),
            ("2026-03-01 14:03:00", "DE", "München"),
            ("2026-03-01 14:03:22", "AT", "Graz"),
            ("2026-03-01 00:00:00", "AT", "Wien"),
            (None, "ATLANTIS", None),
        ],
        out.schema,
    )
    assert_df_equality(out, expected)
