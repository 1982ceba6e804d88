"""Executing a plan: one function per way of computing rows (``COMPUTE``) and one per way of
writing them (``WRITE``), each with the same signature, so a strategy is a pair looked up,
never a branch grown per model.

Spark actions live here and in the writers they call: computing touched keys' literals (one
job), building rows, and the write itself. Nothing probes what the plan already knows (which
inputs changed, whether the table exists).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.config import Project, Table
from lakehouse.config.tables import GoldSpec
from lakehouse.gold.additive import additive_rows
from lakehouse.gold.build import FEW_VALUES, KeyLiterals, build_model, key_literals
from lakehouse.gold.change_sets import NEW_VERSION, ChangeSets
from lakehouse.gold.changes import touched_keys
from lakehouse.gold.dimensions import SEQ, scd2_history, with_unknown_member
from lakehouse.gold.plan import Plan, Rows, Write
from lakehouse.gold.writers import append_first_build, merge_keys, overwrite_whole, replace_where


@dataclass
class ModelRun:
    """What executing one model's plan needs: its own Spark session (its temp views and commit
    settings), the plan, the run's shared change sets and the metadata its commit carries."""

    session: SparkSession
    project: Project
    table: Table
    plan: Plan
    change_sets: ChangeSets
    metadata: str

    @property
    def spec(self) -> GoldSpec:
        return self.table.spec

    @property
    def path(self) -> str:
        return self.project.table_path(self.table)

    def inputs(self) -> dict[str, DataFrame]:
        """Every input at the version the plan consumes, so what is read and what is
        recorded as consumed are the same."""
        return {
            alias: self.session.read.format("delta")
            .option("versionAsOf", self.plan.consumed[ref])
            .load(self.project.table_path(self.project.table(ref)))
            for alias, ref in self.spec.inputs.items()
        }

    def changes(self) -> dict[str, DataFrame]:
        """alias -> the changed rows of each input the plan reads changes of."""
        return {
            alias: self.change_sets.rows(
                self.session,
                self.project.table_path(self.project.table(self.spec.inputs[alias])),
                start,
                end,
            )
            for alias, (start, end) in self.plan.changes.items()
        }

    def key_date_exprs(self) -> dict[str, str]:
        """alias -> ``key_date`` of each input laid out by the date its keys carry."""
        out = {}
        for alias, ref in self.spec.inputs.items():
            source = self.project.table(ref)
            if source.layer == "silver" and source.spec.key_date:
                out[alias] = source.spec.key_date
        return out


@dataclass
class Computed:
    """A plan's rows, and the keys they replace (None: all of them)."""

    rows: DataFrame
    keys: DataFrame | None = None
    literals: KeyLiterals | None = None
    cached: list[DataFrame] = field(default_factory=list)  # unpersisted once written


def compute_all(run: ModelRun) -> Computed:
    """The model over its whole inputs; an SCD2 model over every version its source's change
    feed holds."""
    inputs = run.inputs()
    if not run.spec.scd2:
        return Computed(build_model(run.session, run.spec, inputs, None))
    source = next(iter(run.spec.changes))
    ref = run.spec.inputs[source]
    history = run.change_sets.rows(
        run.session, run.project.table_path(run.project.table(ref)), 0, run.plan.consumed[ref]
    )
    inputs[source] = history.where(F.col("_change_type").isin(*NEW_VERSION))
    delivered = build_model(run.session, run.spec, inputs, None).withColumn(SEQ, F.lit(1))
    return Computed(scd2_history(delivered, run.spec.key, run.spec.scd2))


def compute_touched(run: ModelRun) -> Computed:
    """The model over its inputs restricted to the keys the changes touch."""
    inputs = run.inputs()
    keys = touched_keys(run.session, run.spec, run.changes(), inputs).persist()
    literals = key_literals(keys, run.spec, inputs, run.key_date_exprs())
    rows = build_model(run.session, run.spec, inputs, keys, literals)
    return Computed(rows, keys, literals, [keys])


def compute_additive(run: ModelRun) -> Computed:
    """The changes' contribution added to the rows there (``additive``)."""
    table = run.session.read.format("delta").load(run.path)
    rows, keys, literals, cached = additive_rows(
        run.session, run.spec, table, run.changes(), run.inputs(), run.key_date_exprs()
    )
    return Computed(rows, keys, literals, cached)


def compute_versions(run: ModelRun) -> Computed:
    """SCD2: the versions the source's changes deliver, merged with the table's versions of
    the same keys into validity ranges."""
    spec = run.spec
    inputs = run.inputs()
    source = next(iter(spec.changes))
    changed = run.changes()[source]
    inputs[source] = changed.where(F.col("_change_type").isin(*NEW_VERSION))
    delivered = build_model(run.session, spec, inputs, None).persist()
    keys = delivered.select(*spec.key).distinct().persist()
    existing = (
        run.session.read.format("delta")
        .load(run.path)
        .join(keys, on=list(spec.key), how="left_semi")
        .select(*delivered.columns)
    )
    versions = existing.withColumn(SEQ, F.lit(0)).unionByName(delivered.withColumn(SEQ, F.lit(1)))
    rows = scd2_history(versions, spec.key, spec.scd2)
    return Computed(rows, keys, None, [delivered, keys])


def write_append(run: ModelRun, computed: Computed) -> bool:
    append_first_build(run.session, run.path, computed.rows, run.spec, run.metadata)
    return True


def write_merge(run: ModelRun, computed: Computed) -> bool:
    rows, keys = computed.rows, computed.keys
    if keys is None:  # a whole rebuild merged: every key produced or there before
        rows = with_unknown_member(run.session, run.spec, rows).persist()
        computed.cached.append(rows)
        there = run.session.read.format("delta").load(run.path).select(*run.spec.key)
        keys = rows.select(*run.spec.key).union(there).distinct()
    return merge_keys(run.session, run.path, keys, rows, run.spec, run.metadata)


def write_replace(run: ModelRun, computed: Computed) -> bool:
    """replaceWhere of the touched values of the one key column; a MERGE when the values
    number more than ``FEW_VALUES`` (a literal predicate that long would cost more than it
    saves) or are not known."""
    column = run.spec.key[0]
    values = computed.literals.values.get(column) if computed.literals else None
    if values is None or len(values) > FEW_VALUES:
        return write_merge(run, computed)
    replace_where(run.path, column, values, computed.rows, run.metadata)
    return True


def write_overwrite(run: ModelRun, computed: Computed) -> bool:
    overwrite_whole(run.session, run.path, computed.rows, run.spec, run.metadata)
    return True


COMPUTE: dict[Rows, Callable[[ModelRun], Computed]] = {
    Rows.ALL: compute_all,
    Rows.TOUCHED: compute_touched,
    Rows.ADDITIVE: compute_additive,
    Rows.VERSIONS: compute_versions,
}
WRITE: dict[Write, Callable[[ModelRun, Computed], bool]] = {
    Write.APPEND: write_append,
    Write.MERGE: write_merge,
    Write.REPLACE: write_replace,
    Write.OVERWRITE: write_overwrite,
}


def execute(run: ModelRun) -> tuple[bool, int | None]:
    """Compute the plan's rows and write them: (committed, keys rebuilt; None when all)."""
    computed = COMPUTE[run.plan.rows](run)
    try:
        touched = computed.literals.keys if computed.literals else None
        if touched == 0:  # the changes touched no key (a lookup change no row uses)
            return False, 0
        return WRITE[run.plan.write](run, computed), touched
    finally:
        for df in computed.cached:
            df.unpersist()
