"""The runner: selection from the YAML graph, the plan, the run log, exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from lakehouse import gold, pipeline, runlog
from lakehouse.errors import DataQualityError, is_data_quality_failure
from tests.landing import csv, drop
from tests.test_pipeline_e2e import ORDERS, POSITIONS

REPO = Path(__file__).resolve().parents[1]


def refs(tables):
    return [t.ref for t in tables]


def test_everything_in_dependency_order(project):
    order = refs(pipeline.select(project))
    assert set(order) == set(project.tables)
    for table in project.tables.values():
        for up in table.upstream:
            assert order.index(up) < order.index(table.ref)


def test_one_table_with_upstream_or_downstream(project):
    fct = project.table("gold.fct_orders")
    up = set(refs(pipeline.select(project, pipeline.Selection(tables=(fct.ref,), upstream=True))))
    expected, todo = {fct.ref}, [fct.ref]
    while todo:
        for ref in project.table(todo.pop()).upstream:
            if ref not in expected:
                expected.add(ref)
                todo.append(ref)
    assert up == expected

    down = refs(
        pipeline.select(project, pipeline.Selection(tables=("bronze.orders",), downstream=True))
    )
    readers = {t.ref for t in project.tables.values() if "bronze.orders" in t.upstream}
    assert down[0] == "bronze.orders"
    assert readers <= set(down)
    assert all(
        any(u in down for u in project.table(r).upstream) for r in down if r != "bronze.orders"
    )
    assert refs(pipeline.select(project, pipeline.Selection(tables=("silver.orders",)))) == [
        "silver.orders"
    ]


def test_layer_filter_and_unknown_names(project):
    assert {t.layer for t in pipeline.select(project, pipeline.Selection(layers=("gold",)))} == {
        "gold"
    }
    with pytest.raises(KeyError, match=r"no table 'silver\.nope'"):
        pipeline.select(project, pipeline.Selection(tables=("silver.nope",)))


def test_days_restrict_the_files_bronze_lists(project):
    days = pipeline.days_between(date(2026, 3, 1), date(2026, 3, 3))
    tables = pipeline.select(project, pipeline.Selection(layers=("bronze", "silver"), days=days))
    bronze = [t for t in tables if t.layer == "bronze"]
    assert bronze
    for t in bronze:
        assert t.spec.source.options["pathGlobFilter"] == "*{2026-03-01,2026-03-02,2026-03-03}*"
    # The configuration itself is untouched.
    assert "pathGlobFilter" not in project.table(bronze[0].ref).spec.source.options
    with pytest.raises(ValueError, match="before it starts"):
        pipeline.days_between(date(2026, 3, 2), date(2026, 3, 1))


def test_plan_lists_waves_in_order(project):
    tables = pipeline.select(
        project, pipeline.Selection(tables=("gold.fct_orders",), upstream=True)
    )
    text = pipeline.format_plan(tables, pipeline.Selection(tables=("gold.fct_orders",)))
    body = text.split("\n", 1)[1]
    assert body.index(". bronze.orders") < body.index(". silver.orders") < body.index(". gold.fct")
    assert "wave 3" in text


def test_plan_shows_schedules_and_refresh_now_lifts_them(project):
    ref = "gold.mart_recommendations"
    scheduled = pipeline.select(project, pipeline.Selection(tables=(ref,)))
    text = pipeline.format_plan(scheduled, pipeline.Selection(tables=(ref,)))
    assert f"{ref}  at most every 7 days" in text
    now = pipeline.Selection(tables=(ref, "gold.fct_orders"), refresh_now=True)
    lifted = pipeline.select(project, now)
    assert [t.spec.refresh_every for t in lifted] == [None, None]
    assert "refresh_now" in now.describe()
    assert "at most every" not in pipeline.format_plan(lifted, now)


def test_a_model_left_alone_by_its_schedule_says_until_when():
    due = datetime(2027, 3, 8, 6, 30, tzinfo=UTC)
    left = pipeline.TableReport(
        "gold", "mart_recommendations", 10, 3, 1.2, gold.RefreshResult("g", 0, not_due_until=due)
    )
    done = pipeline.TableReport("gold", "fct_orders", 10, 4, 3.0, gold.RefreshResult("g", 7))
    assert left.note == "not due until 2027-03-08 06:30 UTC" and done.note is None
    out = io.StringIO()
    show = pipeline.console_progress(out)
    for report in (left, done):
        show({"event": "table_succeeded", "table": report.ref, **pipeline._numbers(report)})
    first, second = out.getvalue().splitlines()
    assert first.endswith("(1.2s), not due until 2027-03-08 06:30 UTC")
    assert "not due" not in second
    summary = pipeline.format_reports([left, done]).splitlines()
    assert summary[2].endswith("1.2  not due until 2027-03-08 06:30 UTC")
    assert summary[3].endswith("3.0")


def test_data_quality_failure_is_recognised_through_wrapping():
    try:
        try:
            raise DataQualityError("silver.orders: 3 rows break 'amount >= 0'")
        except DataQualityError as inner:
            # What a foreachBatch failure looks like after Py4J: a new exception, message kept.
            raise RuntimeError(f"StreamingQueryException: {inner!r}") from None
    except RuntimeError as outer:
        assert is_data_quality_failure(outer)
    assert not is_data_quality_failure(RuntimeError("disk full"))


def small_drop(project, day="2026-03-01"):
    drop(
        project,
        "bronze.orders",
        f"orders_{day}.csv",
        csv(
            ORDERS,
            f"O1,C1,S0,web,{day}T10:00:00Z,placed,,,{day}T10:00:00Z",
            f"O1,C1,S0,web,{day}T10:00:00Z,paid,,,{day}T11:00:00Z",
            f"O2,C2,S0,web,{day}T11:00:00Z,placed,,,{day}T11:00:00Z",
        ),
    )
    drop(
        project,
        "bronze.order_positions",
        f"order_positions_{day}.csv",
        csv(POSITIONS, f"O1,1,P1,2,10.00,{day}T10:00:00Z"),
    )


def test_run_log_records_delta_metrics(spark, project, monkeypatch):
    small_drop(project)
    small_drop(project, "2026-03-02")
    log = runlog.RunLog(spark, runlog.run_log_path(project))
    log.ensure()
    selection = pipeline.Selection(
        tables=("silver.orders",), upstream=True, days=(date(2026, 3, 1),)
    )
    tables = pipeline.select(project, selection)
    reports = pipeline.run(spark, project, "r1", tables=tables, log=log)
    by_ref = {r.ref: r for r in reports}
    # Only the first day's file was listed; the second stays for a later run.
    assert by_ref["bronze.orders"].rows_written == 3
    assert by_ref["silver.orders"].rows_written == 2  # O1 twice: latest wins, one row
    assert by_ref["silver.orders"].rows_read == 3
    logged = {r["table"]: r for r in log.tables_of("r1")}
    assert logged["silver.orders"]["status"] == runlog.SUCCEEDED
    assert logged["silver.orders"]["rows_written"] == 2
    assert logged["silver.orders"]["version"] == by_ref["silver.orders"].version

    # A data-quality failure stops what reads from the table, not the rest.
    def broken(spark, project, table, run_id):
        raise DataQualityError(f"{table.ref}: a rule failed")

    monkeypatch.setitem(pipeline.REFRESH_BY_LAYER, "silver", broken)
    tables = pipeline.select(
        project, pipeline.Selection(tables=("bronze.orders",), downstream=True)
    )
    with pytest.raises(pipeline.PipelineFailed) as failed:
        pipeline.run(spark, project, "r2", tables=tables, log=log)
    assert failed.value.data_quality
    status = {r.ref: r.status for r in failed.value.reports}
    assert status["bronze.orders"] == runlog.SUCCEEDED
    assert status["silver.orders"] == runlog.DATA_QUALITY_FAILED
    assert status["gold.fct_orders"] == runlog.SKIPPED
    assert {r["table"]: r["status"] for r in log.tables_of("r2")} == status
    assert by_ref["bronze.orders"].rows_written == 3
    second = {r["table"]: r for r in log.tables_of("r2")}
    assert second["bronze.orders"]["rows_written"] == 3  # the other day's file, now


def submit(*args, root, cwd=REPO, timeout=300):
    env = {**os.environ, "LAKEHOUSE_ROOT": str(root)}
    env.pop("LAKEHOUSE_LANDING", None)
    return subprocess.run(
        [str(REPO / "spark-submit.sh"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_job_exit_codes_json_log_and_runs(project, tmp_path):
    root = project.root
    bad = submit("pipeline", "--table", "silver.nope", root=root)
    assert bad.returncode == 2, bad.stderr
    assert "no table 'silver.nope'" in bad.stdout + bad.stderr  # spark-submit merges them

    small_drop(project)
    done = submit("pipeline", "--layer", "bronze", "--log-format", "json", root=root)
    assert done.returncode == 0, done.stdout[-3000:]
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_succeeded"
    ok = {e["table"]: e for e in events if e["event"] == "table_succeeded"}
    assert ok["bronze.orders"]["rows_written"] == 3

    shown = submit("runs", root=root)
    assert shown.returncode == 0, shown.stdout[-3000:]
    assert events[0]["run_id"] in shown.stdout
    assert "bronze.orders" in shown.stdout and "succeeded" in shown.stdout
