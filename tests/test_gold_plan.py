"""The planner is a pure function: a model's YAML, its table's state and its inputs' versions
in, a strategy and its reason out. No Spark here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lakehouse.gold.plan import (
    InputState,
    PlanError,
    Rows,
    Strategy,
    TableState,
    Write,
    plan_refresh,
)

NOW = datetime(2027, 3, 2, 6, 0, tzinfo=UTC)


def state(inputs: dict[str, tuple], built=True, exists=True, **more) -> TableState:
    """``inputs``: ref -> (version, consumed[, data_changed])."""
    return TableState(
        exists=exists,
        built=built,
        inputs={
            ref: InputState(ref, v[0], v[1], data_changed=v[2] if len(v) > 2 else True)
            for ref, v in inputs.items()
        },
        **more,
    )


@pytest.fixture
def tables(project):
    return project.tables


def test_a_table_never_built_is_built_whole_and_appended(tables):
    fact = tables["gold.fct_orders"]
    inputs = {ref: (3, None) for ref in fact.spec.inputs.values()}
    plan = plan_refresh(fact, state(inputs, built=False, exists=False), NOW)
    assert (plan.strategy, plan.rows, plan.write) == (Strategy.APPEND, Rows.ALL, Write.APPEND)
    assert plan.consumed == {ref: 3 for ref in fact.spec.inputs.values()}
    # A table there without a record of what it consumed is rebuilt and merged, not appended.
    legacy = plan_refresh(fact, state(inputs, built=False, exists=True), NOW)
    assert (legacy.strategy, legacy.write) == (Strategy.REBUILD, Write.MERGE)


def test_unchanged_inputs_run_nothing_and_compactions_are_only_recorded(tables):
    fact = tables["gold.fct_orders"]
    same = {ref: (3, 3) for ref in fact.spec.inputs.values()}
    assert plan_refresh(fact, state(same), NOW).strategy is Strategy.UP_TO_DATE
    compacted = {**same, "silver.orders": (5, 3, False)}
    plan = plan_refresh(fact, state(compacted), NOW)
    assert plan.strategy is Strategy.UP_TO_DATE and plan.record and not plan.runs
    assert plan.consumed["silver.orders"] == 5


def test_a_fact_merges_the_keys_its_changes_touch(tables):
    fact = tables["gold.fct_orders"]
    inputs = {ref: (3, 3) for ref in fact.spec.inputs.values()}
    inputs["silver.orders"] = (5, 3)
    plan = plan_refresh(fact, state(inputs), NOW)
    assert (plan.strategy, plan.rows, plan.write) == (
        Strategy.MERGE_KEYS,
        Rows.TOUCHED,
        Write.MERGE,
    )
    assert plan.changes == {"orders": (4, 5)}  # only what changed is read
    assert "silver.orders 4..5" in plan.describe()


def test_a_mart_keyed_by_day_replaces_its_days_and_an_additive_one_adds_up(tables):
    monthly = tables["gold.mart_customers_by_period"]
    inputs = {ref: (9, 7) for ref in monthly.spec.inputs.values()}
    plan = plan_refresh(monthly, state(inputs), NOW)
    assert (plan.strategy, plan.write) == (Strategy.REPLACE_PARTITIONS, Write.REPLACE)
    trend = tables["gold.mart_sales_trend"]
    plan = plan_refresh(trend, state({"gold.fct_orders": (9, 7)}), NOW)
    assert (plan.strategy, plan.rows, plan.write) == (
        Strategy.ADDITIVE,
        Rows.ADDITIVE,
        Write.REPLACE,
    )


def test_history_is_versions_and_whole_models_overwrite_unless_read_incrementally(tables):
    dim = tables["gold.dim_customer"]
    plan = plan_refresh(dim, state({"silver.customers": (4, 2)}), NOW)
    assert (plan.strategy, plan.rows, plan.write) == (
        Strategy.SCD2_VERSIONS,
        Rows.VERSIONS,
        Write.MERGE,
    )
    ranking = tables["gold.mart_brand_ranking"]
    inputs = {ref: (4, 2) for ref in ranking.spec.inputs.values()}
    alone = plan_refresh(ranking, state(inputs), NOW)
    assert (alone.strategy, alone.write) == (Strategy.REBUILD, Write.OVERWRITE)
    read = plan_refresh(ranking, state(inputs, read_incrementally=True), NOW)
    assert read.write is Write.MERGE


def test_a_weekly_model_waits_until_it_is_due_unless_asked(tables):
    weekly = tables["gold.mart_recommendations"]
    changed = {"gold.fct_order_positions": (9, 7)}
    recent = state(changed, last_refresh_at=NOW - timedelta(days=2))
    waiting = plan_refresh(weekly, recent, NOW)
    assert waiting.strategy is Strategy.NOT_DUE
    assert waiting.not_due_until == NOW + timedelta(days=5)
    assert plan_refresh(weekly, recent, NOW, refresh_now=True).strategy is Strategy.REBUILD
    due = state(changed, last_refresh_at=NOW - timedelta(days=8))
    assert plan_refresh(weekly, due, NOW).strategy is Strategy.REBUILD


def test_an_input_rebuilt_or_new_to_the_model_rebuilds_it_and_a_missing_one_is_an_error(tables):
    fact = tables["gold.fct_orders"]
    inputs = {ref: (3, 3) for ref in fact.spec.inputs.values()}
    back = plan_refresh(fact, state({**inputs, "silver.orders": (1, 3)}), NOW)
    assert back.strategy is Strategy.REBUILD and "version went back" in back.reason
    new = plan_refresh(fact, state({**inputs, "silver.orders": (1, None)}), NOW)
    assert new.strategy is Strategy.REBUILD and "new to the model" in new.reason
    with pytest.raises(PlanError, match=r"silver\.orders has no table yet"):
        plan_refresh(fact, state({**inputs, "silver.orders": (None, None)}), NOW)


# Spark actions gold may run, and where: the one look at the touched keys (build), the check
# for a taken-back extreme (additive), and the writes.
ACTIONS = {
    "collect",
    "count",
    "first",
    "take",
    "head",
    "isEmpty",
    "show",
    "toPandas",
    "save",
    "execute",
    "toLocalIterator",
}
ALLOWED = {
    "build.py": {"first"},
    "additive.py": {"take"},
    # the write; before a MERGE, one look at its source and where the keys' rows live
    "writers.py": {"first", "collect", "save", "execute"},
}


def test_spark_actions_stay_where_the_plan_needs_them():
    import ast
    from pathlib import Path

    gold = Path(__file__).resolve().parents[1] / "lib" / "lakehouse" / "gold"
    found = {}
    for module in sorted(gold.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ACTIONS
                and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "F")
            ):
                found.setdefault(module.name, set()).add(node.func.attr)
    stray = {m: a - ALLOWED.get(m, set()) for m, a in found.items() if a - ALLOWED.get(m, set())}
    assert not stray, f"Spark actions outside their places: {stray}"
    assert found.get("writers.py", set()) >= {"save", "execute"}  # the check sees the writes
