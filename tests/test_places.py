"""Places in one spelling: values that differ only by case, spaces or diacritics fold to one
canonical spelling, listed in conf/harmonisation.yaml or not, whatever batch they come in;
silver warns when it meets a spelling it has not met before."""

from __future__ import annotations

from collections import defaultdict

import pytest
import yaml

from lakehouse import pipeline
from lakehouse.config import load_project
from lakehouse.ops import run_log
from lakehouse.silver.harmonise import Harmonisers, fold, fold_column
from lakehouse.silver.spellings import SPELLINGS
from tests.conftest import CONF, REPO
from tests.landing import run_ctx

ODD = ["  Genève ", "GENÈVE", "Straße", "STRASSE", "Łódź", "lodz", "Baden-baden", "a\tb\u00a0c", ""]


def test_fold_in_python_equals_fold_in_spark(spark):
    df = spark.createDataFrame([(v,) for v in ODD], "v string")
    got = {r.v: r.f for r in df.select("v", fold_column(df.v).alias("f")).collect()}
    assert got == {v: fold(v) for v in ODD}
    assert fold(" MÜNCHEN  ") == "munchen" and fold("Straße") == fold("STRASSE") == "strasse"


def _canonical(spark, harmonisers, values, kind="city"):
    df = spark.createDataFrame([(v,) for v in values], "v string")
    harmonise = getattr(harmonisers, kind)
    return {r.v: r.c for r in df.select("v", harmonise(df.v).alias("c")).collect()}


def test_places_fold_to_one_spelling_listed_or_not(spark, project):
    listed = Harmonisers(project.harmonisation)
    unlisted = Harmonisers(project.harmonisation.model_copy(update={"cities": {}}))
    variants = {
        "Berlin": ["Berlin", "BERLIN", "berlin", " Berlin ", "berlin\t"],
        "Stuttgart": ["STUTTGART", "Stuttgart ", "stuttgart"],
        "Baden-Baden": ["baden-baden", "BADEN-BADEN", " Baden-Baden"],
        "Geneve": ["Genève", "GENEVE", "geneve", "GENÈVE "],
    }
    for harmonisers in (listed, unlisted):
        every = [v for spellings in variants.values() for v in spellings]
        got = _canonical(spark, harmonisers, every)
        for city, spellings in variants.items():
            want = "Genève" if city == "Geneve" and harmonisers is listed else city
            assert {got[v] for v in spellings} == {want}, (city, got)
    # A listed city: its other names too, and its accents kept.
    got = _canonical(spark, listed, ["MUNICH ", "Muenchen", "MÜNCHEN", "munchen", "Genf"])
    assert set(got.values()) == {"München", "Genève"}
    got = _canonical(spark, listed, ["Österreich", "OSTERREICH", "at", "fi ", "Fi"], "country")
    assert got == {"Österreich": "AT", "OSTERREICH": "AT", "at": "AT", "fi ": "FI", "Fi": "FI"}


def test_two_listed_places_that_fold_alike_are_refused(spark, project):
    clash = project.harmonisation.model_copy(update={"cities": {"Köln": (), "Koln": ("x",)}})
    with pytest.raises(ValueError, match=r"harmonisation.yaml: cities: .* fold to the same 'koln'"):
        Harmonisers(clash).city(spark.range(1).selectExpr("'k' AS v").v)


def world_cities() -> dict[str, list[str]]:
    world = yaml.safe_load((REPO / "conf" / "simulator" / "world.yaml").read_text())
    return {c["name"]: c["variants"] for c in world["cities"]}


def silver_places(spark, project, ref: str) -> dict[str, set[str]]:
    """Folded place -> the spellings silver holds, over the table's city and country."""
    df = spark.read.format("delta").load(project.table_path(project.table(ref)))
    found = defaultdict(set)
    for r in df.select("city", "country").collect():
        for value in (r.city, r.country):
            if value is not None:
                found[fold(value)].add(value)
    return found


def run_silver(spark, project, run_id: str):
    tables = pipeline.select(
        project, pipeline.Selection(tables=("silver.shops", "silver.customers"), upstream=True)
    )
    return pipeline.run(spark, project, run_ctx(run_id), tables=tables)


def warnings_of(results, ref: str) -> list[str]:
    return [w for r in results if r.ref == ref for w in r.warnings]


@pytest.mark.slow
def test_simulated_place_defects_reach_silver_in_one_spelling(
    spark, project, tmp_path, monkeypatch
):
    """The simulator's place-name defects (shops 30 %, customers 6 %), day by day into one
    warehouse and both days at once into another: the same canonical spellings, one per
    place, each the world's own name; new spellings are warned about once."""
    from lakehouse.simulator import Simulator, load_preset

    sim = Simulator(spark, load_preset("tiny"), landing=project.landing, seed=7)
    sim.simulate_day(0)
    first = run_silver(spark, project, "places-0")
    sim.simulate_day(1)
    second = run_silver(spark, project, "places-1")
    again = run_silver(spark, project, "places-2")

    names = world_cities()
    for ref in ("silver.shops", "silver.customers"):
        places = silver_places(spark, project, ref)
        assert all(len(spellings) == 1 for spellings in places.values()), places
        cities = {
            r.city
            for r in spark.read.format("delta")
            .load(project.table_path(project.table(ref)))
            .select("city")
            .distinct()
            .collect()
        }
        assert cities - {None} <= set(names), cities - set(names)

    # Warned once per new spelling: the first day names them, the second only new ones.
    shops_first = warnings_of(first, "silver.shops")
    assert len(shops_first) == 1 and "spellings not met before" in shops_first[0]
    variants = {v for vs in names.values() for v in vs}
    assert any(f"city {v!r}" in shops_first[0] for v in variants), shops_first
    seen = spark.read.format("delta").load(f"{project.root}/{SPELLINGS}")
    per_spelling = seen.groupBy("table", "column", "spelling").count()
    assert per_spelling.where("count > 1").count() == 0
    assert warnings_of(again, "silver.shops") == warnings_of(again, "silver.customers") == []
    day_two = " ".join(warnings_of(second, "silver.customers"))
    for r in seen.where("table = 'silver.customers' AND run_id = 'places-0'").collect():
        assert f"{r.column} {r.spelling!r} ->" not in day_two
    shops = next(r for r in first if r.ref == "silver.shops")
    assert shops_first[0] in run_log.table_entry("places-0", "pipeline", shops, None).detail

    # Both days in one batch, into a warehouse of its own: the same spellings.
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "at-once"))
    monkeypatch.setenv("LAKEHOUSE_LANDING", project.landing)
    other = load_project(CONF)
    run_silver(spark, other, "at-once")
    for ref in ("silver.shops", "silver.customers"):
        assert silver_places(spark, other, ref) == silver_places(spark, project, ref)
