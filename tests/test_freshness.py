"""Nothing new, nothing started: a table whose inputs did not change since its last complete
refresh is "up to date" without a stream or a Spark job."""

from __future__ import annotations

from datetime import date

from lakehouse import pipeline
from lakehouse.results import Status
from lakehouse.storage import fingerprint
from tests.landing import run_ctx
from tests.test_runner import small_drop


def test_brace_patterns_expand_like_hadoop_globs():
    assert fingerprint._expand_braces("*{2026-03-01,2026-03-02}*") == [
        "*2026-03-01*",
        "*2026-03-02*",
    ]
    assert fingerprint._expand_braces("*.csv") == ["*.csv"]
    assert fingerprint._expand_braces("{a,{b,c}}") is None  # nested: not judged, always runs


def test_the_landing_digest_sees_new_and_changed_files_only(spark, tmp_path):
    root = tmp_path / "landing"
    root.mkdir()
    (root / "orders_2026-03-01.csv").write_text("a\n1\n")
    (root / ".orders_2026-03-02.csv.tmp").write_text("half a file")  # being written
    (root / "_SUCCESS").write_text("")
    first = fingerprint.landing_digest(spark, str(root), {})
    assert fingerprint.landing_digest(spark, str(root), {"delimiter": ";"}) == first
    day_one = {"pathGlobFilter": "*{2026-03-01}*"}
    (root / "orders_2026-03-02.csv").write_text("a\n2\n")
    assert fingerprint.landing_digest(spark, str(root), {}) != first
    # The day's listing does not see the other day's file.
    assert fingerprint.landing_digest(spark, str(root), day_one) == first
    assert fingerprint.landing_digest(spark, str(root), {"recursiveFileLookup": "true"}) is None


def test_a_run_with_nothing_new_starts_no_job_and_says_up_to_date(spark, project):
    small_drop(project)
    tables = pipeline.select(
        project, pipeline.Selection(tables=("gold.fct_orders",), upstream=True)
    )
    first = pipeline.run(spark, project, run_ctx("first"), tables)
    assert {r.status for r in first} == {Status.SUCCEEDED}

    tracker = spark.sparkContext.statusTracker()
    jobs_before = set(tracker.getJobIdsForGroup())
    again = pipeline.run(spark, project, run_ctx("again"), tables)
    assert {r.ref: r.status for r in again} == {t.ref: Status.UP_TO_DATE for t in tables}
    assert set(tracker.getJobIdsForGroup()) == jobs_before, "an up-to-date table ran a job"
    assert all(r.note == "up to date" and r.version is not None for r in again)

    # A new day's orders: what reads them runs, the rest stays up to date.
    small_drop(project, "2026-03-02")
    third = {r.ref: r for r in pipeline.run(spark, project, run_ctx("third"), tables)}
    assert third["bronze.orders"].status is Status.SUCCEEDED
    assert third["bronze.orders"].rows_written == 3
    assert third["silver.orders"].status is Status.SUCCEEDED
    assert third["gold.fct_orders"].status is Status.SUCCEEDED
    assert third["bronze.customers"].status is Status.UP_TO_DATE


def test_a_day_selection_is_judged_by_its_own_listing(spark, project):
    small_drop(project)
    small_drop(project, "2026-03-02")
    table = project.table("bronze.orders")
    day_one = run_ctx("d1", days=(date(2026, 3, 1),))
    assert pipeline.refresh_table(spark, project, table, day_one).rows_written == 3
    assert pipeline.refresh_table(spark, project, table, day_one).status is Status.UP_TO_DATE
    # The whole landing area still holds a file the day's run did not take.
    rest = pipeline.refresh_table(spark, project, table, run_ctx("all"))
    assert rest.status is Status.SUCCEEDED and rest.rows_written == 3
