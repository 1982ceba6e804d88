"""The benchmark harness at a tiny scale: every step runs and its figures add up. No time is
asserted; the figures themselves are the harness's output."""

from __future__ import annotations

import dataclasses
import json

import pytest

from lakehouse import pipeline
from lakehouse.bench import report
from lakehouse.bench.figures import Scale, ScaleResult, Step
from lakehouse.bench.harness import OPTIONAL_STEPS, Bench
from lakehouse.bench.workspace import landed_files, scheduled_models

# The inventory chain: three sources, an SCD2 dimension and a date-partitioned fact, so
# appends, MERGEs with and without partitions and the change feed all run, in a tenth of the
# time of all 34 tables.
CHAIN = "gold.fct_inventory_daily"


def only(project, ref):
    keep = {ref} | pipeline.upstream_of(project, [ref])
    return dataclasses.replace(
        project,
        tables={r: t for r, t in project.tables.items() if r in keep},
        suites={r: s for r, s in project.suites.items() if r in keep},
    )


@pytest.mark.slow
def test_bench_runs_every_step_at_tiny_scale(spark, project, tmp_path):
    chain = only(project, CHAIN)
    scale = Scale(positions=2000, history_days=20, increments=1, smaller=10)
    said: list[str] = []
    bench = Bench(spark, chain, tmp_path / "bench", say=said.append, parallelism=1)
    result = bench.run_scale(scale)

    home = tmp_path / "bench" / "positions-2000"
    manifests = {
        f.stem: json.loads(f.read_text()) for f in (home / "landing" / "_manifest").glob("*.json")
    }
    assert len(manifests) == 21
    history, day = sorted(manifests)[:20], sorted(manifests)[20]

    assert result.error is None
    names = [(s.name, s.history) for s in result.steps]
    assert names == [
        ("floor", "-"),
        ("full_load", "-"),
        (f"increment {day}", "large"),
        ("spark_floor", "large"),
        ("nothing_landed", "large"),
        ("naive_rebuild", "large"),
        ("silver_no_expectations", "large"),
        ("full_load_small", "-"),
        (f"increment {day}", "small"),
    ]

    # The floor wrote exactly the landed rows of the history, one Delta table per source.
    floor = result.step("floor")
    sources = [t for t in chain.tables.values() if t.layer == "bronze"]
    landed = sum(manifests[d]["sources"][t.name]["rows"] for d in history for t in sources)
    written = sum(
        spark.read.format("delta").load(str(home / "floor" / t.name)).count() for t in sources
    )
    assert written == landed
    # Rows in count every source the simulator wrote (the chain reads three of them).
    assert floor.rows == sum(s["rows"] for d in history for s in manifests[d]["sources"].values())
    assert set(floor.tables) == {t.ref for t in sources}

    # Bronze of the full load took every file of the history, and only those.
    bronze_rows = sum(
        spark.read.format("delta").load(str(home / "large" / "bronze" / t.name)).count()
        for t in sources
    )
    increment_rows = sum(manifests[day]["sources"][t.name]["rows"] for t in sources)
    assert bronze_rows == landed + increment_rows
    assert landed_files(home / "landing" / "inventory", ["no-such-day"]) == []

    increment = result.steps[2]
    assert set(increment.layers) == {"bronze", "silver", "gold"}
    assert set(increment.tables) == set(chain.tables)
    # Every MERGE the day made was seen, with what it scanned: no more than the table held.
    # (A day's new stock levels are appended to silver: no MERGE there.)
    assert "gold.fct_inventory_daily" in increment.merges
    for table, m in increment.merges.items():
        assert m["merges"] >= 1, table
        assert 0 <= m["files_scanned"] <= m["files_before_skipping"], table
        assert m["bytes_scanned"] <= m["bytes_before_skipping"], table
    # The fact is partitioned by day: its MERGE must not read every file of the year.
    fact = increment.merges["gold.fct_inventory_daily"]
    assert fact["files_scanned"] < fact["files_before_skipping"]

    # The naive rebuild read the large warehouse's bronze through its own silver and gold.
    naive = result.step("naive_rebuild")
    assert set(naive.layers) == {"silver", "gold"}
    assert naive.rows == bronze_rows
    for step in result.steps:
        assert step.seconds > 0 and step.live_heap_mb > 0 and step.python_rss_peak_mb > 0
        # One table at a time: a layer's tables add up to no more than the layer took.
        for layer, seconds in step.layers.items():
            own = [s for t, s in step.tables.items() if t.startswith(f"{layer}.")]
            if step.name != "floor":
                assert sum(own) <= seconds, (step.name, layer, own, seconds)

    # The verdict: every target has a measured ratio, and both outputs carry them.
    verdicts = report.targets(result)
    assert all(t.measured is not None for t in verdicts)
    json_file, md_file = report.write([result], tmp_path / "out")
    data = json.loads(json_file.read_text())
    assert data["scales"][0]["parallelism"] == 1
    assert [t["name"] for t in data["scales"][0]["targets"]] == [t.name for t in verdicts]
    table = md_file.read_text()
    for t in verdicts:
        assert t.name in table
    assert "| floor | - |" in table


def test_a_run_that_stopped_reports_its_steps_and_why(tmp_path):
    steps = [
        Step("floor", "-", 10.0, 1000, layers={"bronze": 10.0}),
        Step("full_load", "-", 25.0, 1000, layers={"bronze": 5.0, "silver": 8.0, "gold": 12.0}),
        Step("increment 2026-03-21", "large", 9.0, 50, not_due=["gold.mart_recommendations"]),
    ]
    result = ScaleResult(
        Scale(positions=1000, history_days=20),
        {"files": 3, "bytes": 10, "rows": 1000, "days": 21, "seconds": 1.0},
        steps,
        4096,
        error="increment 2026-03-22 (large): boom",
    )
    # Only the ratio whose steps both ran: none from the increments of a half-run.
    assert [(t.name, t.measured) for t in report.targets(result)] == [
        ("full initial load / floor", 2.5)
    ]
    json_file, md_file = report.write([result], tmp_path)
    data = json.loads(json_file.read_text())["scales"][0]
    assert data["error"].endswith("boom") and [s["name"] for s in data["steps"]] == [
        "floor",
        "full_load",
        "increment 2026-03-21",
    ]
    text = md_file.read_text()
    assert "| full_load | - | 1,000 | 25 | 40 | 5 | 8 | 12 |" in text
    assert "**The run stopped**: increment 2026-03-22 (large): boom" in text
    assert (
        "increment 2026-03-21 (large) left alone, not due by their refresh_every: "
        "gold.mart_recommendations" in text
    )


def test_a_run_told_to_skip_the_silver_rebuilds_reports_every_other_ratio(tmp_path):
    steps = [
        Step("floor", "-", 10.0, 1000),
        Step("full_load", "-", 30.0, 1000),
        Step("increment 2026-03-21", "large", 8.0, 50, live_heap_mb=100),
        Step("spark_floor", "large", 5.0, 0),
        Step("nothing_landed", "large", 6.0, 0),
        Step("naive_rebuild", "large", 40.0, 1050, layers={"silver": 15.0, "gold": 25.0}),
        Step("full_load_small", "-", 12.0, 100),
        Step("increment 2026-03-21", "small", 5.0, 50, live_heap_mb=80),
    ]
    result = ScaleResult(Scale(positions=1000, history_days=20), {}, steps, 4096)
    measured = {t.name: t.measured for t in report.targets(result)}
    assert measured == {
        "full initial load / floor": 3.0,
        "daily increment, 10x history / small history": 1.6,
        "naive rebuild / daily increment": 5.0,
        "run with nothing landed / Spark start-up floor": 1.2,
        "driver live heap after a day, large history / small history": 1.25,
    }


def test_the_scheduled_models_are_timed_against_a_day(project):
    assert scheduled_models(project) == (
        "gold.mart_demand_forecast",
        "gold.mart_recommendations",
    )
    steps = [
        Step("increment 2026-03-21", "large", 100.0, 50),
        Step("increment 2026-03-22", "large", 120.0, 50),
        Step(
            "scheduled_models",
            "large",
            33.0,
            0,
            tables={"gold.mart_recommendations": 20.0, "gold.mart_demand_forecast": 12.0},
        ),
    ]
    result = ScaleResult(Scale(positions=1000, history_days=20), {}, steps, 4096)
    (target,) = report.targets(result)
    assert (target.name, target.measured, target.met) == (
        "scheduled models on a day they are due / daily increment",
        0.3,
        False,
    )
    assert "mart_demand_forecast 12s, mart_recommendations 20s" in target.detail


def test_only_the_silver_rebuilds_can_be_skipped(tmp_path):
    assert Bench(None, None, tmp_path, skip=OPTIONAL_STEPS).skip == set(OPTIONAL_STEPS)
    with pytest.raises(ValueError, match="naive_rebuild"):
        Bench(None, None, tmp_path, skip=["naive_rebuild"])
