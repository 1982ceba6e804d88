"""The runner: selection from the YAML graph, the plan, the run log, exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from lakehouse import bronze, pipeline
from lakehouse.errors import DataQualityError
from lakehouse.ops import run_log
from lakehouse.results import RefreshResult, Status
from lakehouse.storage import exactly_once
from tests.landing import csv, drop, run_ctx
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
    tables = pipeline.select(project, pipeline.Selection(layers=("bronze", "silver")))
    sources = [t for t in tables if t.layer == "bronze"]
    assert sources
    for t in sources:
        options = bronze.listing_options(t, days)
        assert options["pathGlobFilter"] == "*{2026-03-01,2026-03-02,2026-03-03}*"
    # The days are the run's, not the configuration's: it is untouched.
    assert "pathGlobFilter" not in project.table(sources[0].ref).spec.source.options
    with pytest.raises(ValueError, match="before it starts"):
        pipeline.days_between(date(2026, 3, 2), date(2026, 3, 1))


def test_plan_lists_waves_in_order(project):
    tables = pipeline.select(
        project, pipeline.Selection(tables=("gold.fct_orders",), upstream=True)
    )
    text = pipeline.format_plan(
        tables, pipeline.Selection(tables=("gold.fct_orders",)), run_ctx("plan")
    )
    body = text.split("\n", 1)[1]
    assert body.index(". bronze.orders") < body.index(". silver.orders") < body.index(". gold.fct")
    assert "wave 3" in text


def test_plan_shows_schedules_and_refresh_now_lifts_them(project):
    ref = "gold.mart_recommendations"
    selection = pipeline.Selection(tables=(ref,))
    scheduled = pipeline.select(project, selection)
    text = pipeline.format_plan(scheduled, selection, run_ctx("plan"))
    assert f"{ref}  at most every 7 days" in text
    now = run_ctx("plan", refresh_now=True)
    lifted = pipeline.format_plan(scheduled, selection, now)
    assert "refresh_now" in lifted.splitlines()[0]
    assert "at most every" not in lifted
    # The schedule is lifted for the run only: the configuration keeps it.
    assert [t.spec.refresh_every for t in scheduled] == ["7 days"]


def test_a_model_left_alone_by_its_schedule_says_until_when():
    due = datetime(2027, 3, 8, 6, 30, tzinfo=UTC)
    left = RefreshResult(
        "gold.mart_recommendations",
        Status.NOT_DUE,
        keys_changed=0,
        not_due_until=due,
        rows=10,
        version=3,
        seconds=1.2,
    )
    done = RefreshResult("gold.fct_orders", keys_changed=7, rows=10, version=4, seconds=3.0)
    assert left.note == "not due until 2027-03-08 06:30 UTC" and done.note is None
    out = io.StringIO()
    show = pipeline.console_progress(out)
    for report in (left, done):
        show({"event": f"table_{report.status}", "table": report.ref, **pipeline.numbers(report)})
    first, second = out.getvalue().splitlines()
    assert first == "  == gold.mart_recommendations: not due until 2027-03-08 06:30 UTC (1.2s)"
    assert second.startswith("  ok gold.fct_orders") and "not due" not in second
    summary = pipeline.format_reports([left, done]).splitlines()
    assert "not_due" in summary[2]
    assert summary[2].endswith("1.2  not due until 2027-03-08 06:30 UTC")
    assert summary[3].endswith("3.0")


def test_an_error_raised_in_a_micro_batch_reaches_the_caller_as_itself(spark, tmp_path):
    source = str(tmp_path / "source")
    spark.range(3).write.format("delta").save(source)
    writer = (
        spark.readStream.format("delta")
        .load(source)
        .writeStream.option("checkpointLocation", str(tmp_path / "checkpoint"))
    )

    def fail(batch, batch_id):
        raise DataQualityError(f"silver.orders: {batch.count()} rows break 'amount >= 0'")

    # Spark alone would hand back a StreamingQueryException with the text only.
    with pytest.raises(DataQualityError, match="3 rows break"):
        exactly_once.for_each_batch_exactly_once(writer, "test", fail)


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
    log = run_log.RunLog(spark, run_log.run_log_path(project))
    log.ensure()
    selection = pipeline.Selection(tables=("silver.orders",), upstream=True)
    tables = pipeline.select(project, selection)
    first_day = run_ctx("r1", days=(date(2026, 3, 1),))
    pending = run_log.Pending(log)
    reports = pipeline.run(
        spark, project, first_day, tables=tables, on_finished=pending.recorder("r1")
    )
    pending.flush()
    by_ref = {r.ref: r for r in reports}
    # Only the first day's file was listed; the second stays for a later run.
    assert by_ref["bronze.orders"].rows_written == 3
    assert by_ref["silver.orders"].rows_written == 2  # O1 twice: latest wins, one row
    assert by_ref["silver.orders"].rows_read == 3
    logged = {r["table"]: r for r in log.tables_of("r1")}
    assert logged["silver.orders"]["status"] == run_log.SUCCEEDED
    assert logged["silver.orders"]["rows_written"] == 2
    assert logged["silver.orders"]["version"] == by_ref["silver.orders"].version

    # A data-quality failure stops what reads from the table, not the rest.
    def broken(spark, project, table, ctx):
        raise DataQualityError(f"{table.ref}: a rule failed")

    monkeypatch.setitem(pipeline.REFRESH_BY_LAYER, "silver", broken)
    tables = pipeline.select(
        project, pipeline.Selection(tables=("bronze.orders",), downstream=True)
    )
    with pytest.raises(pipeline.PipelineFailed) as failed:
        pipeline.run(
            spark, project, run_ctx("r2"), tables=tables, on_finished=pending.recorder("r2")
        )
    pending.flush()
    assert failed.value.data_quality
    status = {r.ref: r.status for r in failed.value.reports}
    assert status["bronze.orders"] == run_log.SUCCEEDED
    assert status["silver.orders"] == run_log.DATA_QUALITY_FAILED
    assert status["gold.fct_orders"] == run_log.SKIPPED
    assert {r["table"]: r["status"] for r in log.tables_of("r2")} == status
    assert by_ref["bronze.orders"].rows_written == 3
    second = {r["table"]: r for r in log.tables_of("r2")}
    assert second["bronze.orders"]["rows_written"] == 3  # the other day's file, now


def test_run_log_rows_committed_without_spark_and_with_it_when_delta_rs_cannot(spark, tmp_path):
    from lakehouse.storage import delta_log

    def log_into(path):
        log = run_log.RunLog(spark, str(path))
        log.ensure()
        started = datetime(2026, 3, 1, 6, 30)
        log.append(
            run_log.LogEntry("r1", "pipeline", run_log.RUNNING, started),
            run_log.LogEntry("r1", "pipeline", run_log.FAILED, started, error="x" * 5000),
        )
        latest = log.latest().where("run_id = 'r1'").collect()
        assert [(r.status, r.started_at, len(r.error)) for r in latest] == [
            (run_log.FAILED, started, run_log.ERROR_CHARS)
        ]
        return delta_log.commit_info(spark, str(path), delta_log.latest_version(spark, str(path)))

    # A local run log takes its rows from delta-rs: no Spark job.
    assert log_into(tmp_path / "plain").get("clientVersion", "").startswith("delta-rs")
    # A table feature delta-rs cannot write: the same rows through Spark.
    widened = tmp_path / "widened"
    run_log.RunLog(spark, str(widened)).ensure()
    spark.sql(
        f"ALTER TABLE delta.`{widened}` SET TBLPROPERTIES ('delta.enableTypeWidening' = true)"
    )
    assert "Apache-Spark" in log_into(widened).get("engineInfo", "")


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
