"""What a model's refresh will do, decided before it does anything: one pure function from the
model's declaration, its table's state and its inputs' versions to a small plan.

A plan names two things apart: how the rows are computed (``Rows``: from all inputs, for the
keys the changes touch, as the changes' contribution added to the rows there, or as SCD2
versions) and how they reach the table (``Write``: append, MERGE by key, replaceWhere of the
touched key values, or overwrite). Their pairs make the closed set of strategies (``Strategy``);
``strategies`` maps each axis to the one function that executes it. ``state`` gathers the facts
from the Delta logs without a Spark job; ``pipeline --plan`` prints the plans.

Example::

    plan = plan_refresh(table, read_state(spark, project, table), now=datetime.now(UTC))
    print(plan.describe())   # gold.fct_orders: merge_keys (touched keys, merge): silver.orders 41..42
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from lakehouse.config import Table
from lakehouse.config.tables import GoldSpec


class Rows(StrEnum):
    """How a refresh computes rows."""

    ALL = "all inputs"  # the model over its whole inputs
    TOUCHED = "touched keys"  # over the inputs restricted to the keys the changes touch
    ADDITIVE = "changes added up"  # the changes' contribution added to the rows there
    VERSIONS = "versions"  # SCD2: delivered versions merged with the table's of their keys


class Write(StrEnum):
    """How the rows reach the table."""

    APPEND = "append"  # a first build: nothing to compare with
    MERGE = "merge"  # MERGE by row key; rows that did not change are not rewritten
    REPLACE = "replace"  # replaceWhere of the touched key values: no comparison
    OVERWRITE = "overwrite"  # the whole table, in one commit


class Strategy(StrEnum):
    """The closed set of what a refresh can do."""

    UP_TO_DATE = "up_to_date"  # no input changed its data: nothing runs
    NOT_DUE = "not_due"  # refresh_every has not passed: the changes wait
    APPEND = "append"  # first build
    MERGE_KEYS = "merge_keys"
    REPLACE_PARTITIONS = "replace_partitions"
    ADDITIVE = "additive"
    SCD2_VERSIONS = "scd2_versions"
    REBUILD = "rebuild"


@dataclass(frozen=True)
class InputState:
    """An input table now, and what its commits since the model's last refresh did."""

    ref: str
    version: int | None  # None: the table does not exist
    consumed: int | None  # the version the model's last refresh read up to
    data_changed: bool = False  # a commit since then changed rows (not only OPTIMIZE and such)
    rows_changed: int | None = None  # rows those commits wrote, updated or deleted (metrics)

    @property
    def moved(self) -> bool:
        return self.version != self.consumed


@dataclass(frozen=True)
class TableState:
    """What the model's table holds, as its Delta log tells."""

    exists: bool
    # A refresh of this engine committed to it (its consumed versions are known). A table that
    # exists without one was built before they were recorded, or by hand.
    built: bool
    inputs: Mapping[str, InputState] = field(default_factory=dict)  # by table ref
    last_refresh_at: datetime | None = None
    # Some gold model reads this table's change feed incrementally: rewriting it whole would
    # hand that model every key as a change.
    read_incrementally: bool = False


@dataclass(frozen=True)
class Plan:
    table: str
    strategy: Strategy
    reason: str
    rows: Rows | None = None
    write: Write | None = None
    # Inputs whose changes the refresh reads: alias -> (first version, last version).
    changes: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    # What the refresh will have consumed, recorded with what it writes: ref -> version.
    consumed: Mapping[str, int] = field(default_factory=dict)
    not_due_until: datetime | None = None
    # Nothing to compute, but inputs moved (compactions): record the versions consumed.
    record: bool = False

    @property
    def runs(self) -> bool:
        return self.rows is not None

    def describe(self) -> str:
        how = f" ({self.rows}, {self.write})" if self.runs else ""
        return f"{self.table}: {self.strategy}{how}: {self.reason}"


class PlanError(RuntimeError):
    """A model cannot be planned (an input it reads does not exist)."""


def strategy_of(rows: Rows, write: Write) -> Strategy:
    if rows is Rows.ADDITIVE:
        return Strategy.ADDITIVE
    if rows is Rows.VERSIONS:
        return Strategy.SCD2_VERSIONS
    if rows is Rows.ALL:
        return Strategy.APPEND if write is Write.APPEND else Strategy.REBUILD
    return Strategy.REPLACE_PARTITIONS if write is Write.REPLACE else Strategy.MERGE_KEYS


def watched(spec: GoldSpec) -> dict[str, str]:
    """alias -> ref of the inputs whose changes a refresh follows: those named under
    ``changes`` (lookups are offered whole), or every input of a model rebuilt whole."""
    aliases = spec.changes if spec.incremental else spec.inputs
    return {alias: spec.inputs[alias] for alias in aliases}


# The YAML's words for the two axes (``GoldSpec.computed_as``, ``GoldSpec.written_as``).
ROWS = {
    "touched": Rows.TOUCHED,
    "additive": Rows.ADDITIVE,
    "whole": Rows.ALL,
    "versions": Rows.VERSIONS,
}
WRITES = {"merge": Write.MERGE, "replace": Write.REPLACE, "overwrite": Write.OVERWRITE}


def _versions(state: TableState, refs: list[str]) -> str:
    return ", ".join(f"{r}@{state.inputs[r].version}" for r in refs)


def _moves(state: TableState, refs: list[str]) -> str:
    def one(ref: str) -> str:
        i = state.inputs[ref]
        rows = f", {i.rows_changed} rows" if i.rows_changed is not None else ""
        start = "new" if i.consumed is None else str(i.consumed + 1)
        return f"{ref} {start}..{i.version}{rows}"

    return "; ".join(one(r) for r in refs)


def plan_refresh(table: Table, state: TableState, now: datetime, refresh_now: bool = False) -> Plan:
    """Decide the refresh of ``table`` (a gold model) from ``state``; reads nothing."""
    spec: GoldSpec = table.spec
    missing = sorted(ref for ref in spec.inputs.values() if state.inputs[ref].version is None)
    if missing:
        raise PlanError(f"{table.ref}: its input {missing[0]} has no table yet")
    consumed = {ref: state.inputs[ref].version for ref in spec.inputs.values()}

    def plan(strategy: Strategy, reason: str, **more) -> Plan:
        return Plan(table.ref, strategy, reason, consumed=consumed, **more)

    def whole(reason: str, write: Write) -> Plan:
        return plan(strategy_of(Rows.ALL, write), reason, rows=Rows.ALL, write=write)

    if not state.built:
        if state.exists:
            why = "its table holds no record of what it consumed (built before this engine)"
            return whole(why, Write.MERGE)
        return whole("first build", Write.APPEND)
    if not spec.inputs:
        return plan(Strategy.UP_TO_DATE, "no inputs: built once (drop the table to rebuild)")

    follows = watched(spec)
    moved = [ref for ref in follows.values() if state.inputs[ref].moved]
    if not moved:
        return plan(
            Strategy.UP_TO_DATE, f"inputs unchanged ({_versions(state, list(follows.values()))})"
        )
    gone_back = [
        r for r in moved if (state.inputs[r].consumed or -1) > (state.inputs[r].version or -1)
    ]
    unknown = [r for r in moved if state.inputs[r].consumed is None]
    if gone_back or unknown:
        which = (gone_back or unknown)[0]
        why = "was rebuilt (its version went back)" if gone_back else "is new to the model"
        return whole(f"{which} {why}", Write.MERGE)
    changed = [r for r in moved if state.inputs[r].data_changed]
    if not changed:
        return plan(Strategy.UP_TO_DATE, f"no data changed ({_moves(state, moved)})", record=True)
    if spec.refresh_interval and not refresh_now and state.last_refresh_at is not None:
        due = state.last_refresh_at + spec.refresh_interval
        if due > now:
            return plan(
                Strategy.NOT_DUE, f"refreshed at most every {spec.refresh_every}", not_due_until=due
            )

    ranges = {
        alias: (state.inputs[ref].consumed + 1, state.inputs[ref].version)
        for alias, ref in follows.items()
        if ref in changed
    }
    rows, write = ROWS[spec.computed_as], WRITES[spec.written_as]
    if rows is Rows.ALL:
        why = "rows: whole"
        if write is Write.OVERWRITE and state.read_incrementally:
            write, why = Write.MERGE, f"{why} (merged: a model reads its changes)"
        return plan(
            Strategy.REBUILD,
            f"{why}; {_moves(state, changed)}",
            rows=rows,
            write=write,
            changes=ranges,
        )
    return plan(
        strategy_of(rows, write), _moves(state, changed), rows=rows, write=write, changes=ranges
    )
