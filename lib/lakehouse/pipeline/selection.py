"""Which tables a run takes: a selection over the YAML graph, in dependency order and waves."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import SparkSession

from lakehouse import bronze, gold
from lakehouse.config import Project, Table
from lakehouse.config.tables import LAYERS
from lakehouse.context import RunContext


@dataclass(frozen=True)
class Selection:
    """What to run. Empty means everything; the filters narrow it in this order: tables (with
    their upstream and/or downstream), then layers. How to run them (days, refresh-now) is the
    run's context, not the selection's."""

    tables: tuple[str, ...] = ()
    upstream: bool = False
    downstream: bool = False
    layers: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = []
        if self.tables:
            scope = "+upstream" if self.upstream else ""
            scope += "+downstream" if self.downstream else ""
            parts.append(f"tables={','.join(self.tables)}{scope}")
        if self.layers:
            parts.append(f"layers={','.join(self.layers)}")
        return " ".join(parts) or "all"


def describe_run(selection: Selection, ctx: RunContext) -> str:
    """The selection and the run's options, as the run log's detail keeps them."""
    return f"{selection.describe()} {ctx.describe()}"


def downstream_of(project: Project, refs: Iterable[str]) -> set[str]:
    readers: dict[str, set[str]] = {ref: set() for ref in project.tables}
    for table in project.tables.values():
        for up in table.upstream:
            readers[up].add(table.ref)
    return _closure(refs, readers)


def upstream_of(project: Project, refs: Iterable[str]) -> set[str]:
    return _closure(refs, {ref: set(t.upstream) for ref, t in project.tables.items()})


def _closure(start: Iterable[str], edges: dict[str, set[str]]) -> set[str]:
    found: set[str] = set()
    todo = list(start)
    while todo:
        ref = todo.pop()
        for nxt in edges[ref]:
            if nxt not in found:
                found.add(nxt)
                todo.append(nxt)
    return found


def select(project: Project, selection: Selection = Selection()) -> list[Table]:
    """The selected tables in dependency order."""
    refs: set[str] | None = None
    if selection.tables:
        for ref in selection.tables:
            project.table(ref)  # unknown names fail here, listing the known ones
        refs = set(selection.tables)
        if selection.upstream:
            refs |= upstream_of(project, selection.tables)
        if selection.downstream:
            refs |= downstream_of(project, selection.tables)
    tables = project.in_dependency_order(sorted(refs) if refs is not None else None)
    if selection.layers:
        unknown = set(selection.layers) - set(LAYERS)
        if unknown:
            raise ValueError(f"unknown layer(s) {sorted(unknown)}; layers are {list(LAYERS)}")
        tables = [t for t in tables if t.layer in selection.layers]
    return tables


def check_days(tables: list[Table], days: tuple[date, ...]) -> None:
    """Refuse, before anything runs, a day selection a bronze source cannot take."""
    for table in tables:
        if table.layer == "bronze":
            bronze.listing_options(table, days)


def days_between(first: date, last: date) -> tuple[date, ...]:
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    if (last - first).days > 366:
        raise ValueError("a backfill covers at most a year at a time")
    return tuple(first + timedelta(days=i) for i in range((last - first).days + 1))


def waves(tables: list[Table]) -> list[list[Table]]:
    """Tables grouped by depth in the selected graph: a wave needs only earlier waves."""
    refs = {t.ref for t in tables}
    depth: dict[str, int] = {}
    for t in tables:  # dependency order, so every upstream has its depth already
        depth[t.ref] = 1 + max((depth[u] for u in t.upstream if u in refs), default=-1)
    out: list[list[Table]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for t in tables:
        out[depth[t.ref]].append(t)
    return out


def gold_plans(
    spark: SparkSession | None, project: Project, tables: list[Table], ctx: RunContext
) -> dict[str, str]:
    """Each selected gold model's strategy and why, as its table and inputs stand now (tables
    refreshed earlier in the same run may add changes). ``spark`` may be None when the
    warehouse is on a local disk: the plans read only the Delta logs."""
    plans = {}
    for table in tables:
        if table.layer == "gold":
            try:
                decided = gold.plan(spark, project, table, ctx)
                plans[table.ref] = f"{decided.strategy}: {decided.reason}"
            except gold.PlanError as exc:
                plans[table.ref] = f"waits for its inputs ({exc})"
    return plans


def format_plan(
    tables: list[Table],
    selection: Selection,
    ctx: RunContext,
    plans: dict[str, str] | None = None,
) -> str:
    lines = [f"plan ({describe_run(selection, ctx)}): {len(tables)} tables"]
    number = 0
    for i, wave in enumerate(waves(tables), start=1):
        lines.append(f"wave {i}")
        for t in wave:
            number += 1
            after = ", ".join(u for u in t.upstream if u in {x.ref for x in tables})
            note = f"  after {after}" if after else ""
            if t.layer == "bronze" and ctx.days:
                glob = bronze.listing_options(t, ctx.days).get("pathGlobFilter")
                note += f"  files {glob}" if glob else ""
            every = t.spec.refresh_every if t.layer == "gold" else None
            note += f"  at most every {every}" if every and not ctx.refresh_now else ""
            lines.append(f"  {number:>3}. {t.ref}{note}")
            if plans and t.ref in plans:
                lines.append(f"         {plans[t.ref]}")
    return "\n".join(lines)
