"""Gold: models declared as SQL (or a DataFrame function) over their inputs, rebuilt only for
the keys that changed.

A model names, for each input that carries its key, the expression that yields the key
(``changes``); for a lookup (a dimension), a query that maps its changed rows to the keys they
affect. The keys touched since the last run come from the inputs' Change Data Feed; the model
then runs over the inputs restricted to those keys, and the result replaces exactly those keys
in the table, in one MERGE that names the partitions it may touch.

Two variants share that machinery:

- ``scd2``: the changed source rows are versions of a business key. They are merged with the
  versions already in the table and collapsed into validity ranges (``scd2_history``).
- ``incremental: false``: models that depend on all rows at once (global ranks, trained
  models) are recomputed whole whenever an input changed; unchanged rows are still not
  rewritten.

A model with ``refresh_every`` is refreshed at most once per that interval; a run in between
leaves it alone without starting its stream, so its changes wait in the inputs' feeds.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import reduce

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DecimalType,
    IntegralType,
    StringType,
    StructType,
)

from lakehouse import delta_io
from lakehouse.config import Project, Table
from lakehouse.config.model import ChangeQuery, GoldSpec, Scd2Spec

_PRESENT = "_present"
_INPUT = "_input"
_SEP = "__"
_SEQ = "_seq"
CHANGED_VIEW = "changed"
# A version's rows in the change feed: the first one, then each newer one.
NEW_VERSION = ("insert", "update_postimage")
# The first version of a key covers everything before it, so an event older than the first
# export of its customer still finds one; the open version is valid until the end of time.
BEGINNING_OF_TIME = "1900-01-01 00:00:00"
END_OF_TIME = "9999-12-31 00:00:00"
# Up to this many distinct values of a key column are also offered to the scans as literals
# (see restrict); more would bloat every plan, and a literal list of order ids prunes nothing.
FEW_VALUES = 1000
_EXACT_LITERALS = (StringType, DateType, IntegralType, DecimalType, BooleanType)


# --- transformations: DataFrame in, DataFrame out ---------------------------------------------


def restrict(
    df: DataFrame,
    exprs: tuple[str, ...],
    key: tuple[str, ...],
    keys: DataFrame,
    values: dict[str, list] | None = None,
) -> DataFrame:
    """The rows of ``df`` whose key, computed by ``exprs``, is among ``keys``.

    ``values`` (key column -> its distinct values among ``keys``) adds the same condition as
    literals, which Spark pushes into the scan: on a partition column (a fact's order date)
    Delta then reads only those partitions; on another column the filter goes to the Parquet
    reader. The join alone would read the whole input.
    """
    tmp = [f"_key{i}" for i in range(len(key))]
    tagged = df.select("*", *(F.expr(e).alias(t) for e, t in zip(exprs, tmp, strict=True)))
    for t, k in zip(tmp, key, strict=True):
        if values and k in values:
            tagged = tagged.where(F.col(t).isin(values[k]))
    on = reduce(lambda a, b: a & b, (tagged[t] == keys[k] for t, k in zip(tmp, key, strict=True)))
    return tagged.join(keys, on=on, how="left_semi").drop(*tmp)


def build_model(
    spark: SparkSession, spec: GoldSpec, inputs: dict[str, DataFrame], keys: DataFrame | None
) -> DataFrame:
    """Run the model over ``inputs``; with ``keys``, only over the rows behind those keys.

    Inputs that carry the key are restricted to the changed keys; the others (lookups such as
    dimensions) are offered whole.
    """
    keyed = (
        {a for a in inputs if isinstance(spec.changes.get(a), tuple)} if keys is not None else set()
    )
    values = few_values(keys, spec.key) if keyed else None
    offered = {}
    for alias, df in inputs.items():
        if alias in keyed:
            df = restrict(df, spec.changes[alias], spec.key, keys, values)
        offered[alias] = df
    if spec.transform:
        return load_transform(spec.transform)(**offered, **spec.params)
    name_views(spark, offered)
    return spark.sql(spec.sql)


def name_views(spark: SparkSession, views: dict[str, DataFrame]) -> None:
    """Register ``views`` as the session's temp views of those names.

    An existing view is dropped first, never replaced: replacing a temp view uncaches, in
    every session, each cached plan that reads the old view's plan (the touched keys
    persisted for a batch among them, which Spark would then recompute for every input they
    restrict). Dropping a view made from a DataFrame uncaches only that view's own plan.
    """
    for name, df in views.items():
        spark.catalog.dropTempView(name)
        df.createOrReplaceTempView(name)


def few_values(keys: DataFrame, key: tuple[str, ...]) -> dict[str, list]:
    """Each key column's distinct values among ``keys``, for the columns that have at most
    ``FEW_VALUES`` of them (the days or months a batch touches, not its order ids).

    Only types that come back from Python unchanged qualify: a timestamp goes through the
    local time zone of the Python process, and an hour repeated at a clock change is lost.
    """
    exact = [c for c in key if isinstance(keys.schema[c].dataType, _EXACT_LITERALS)]
    if not exact:
        return {}
    limited = (F.slice(F.collect_set(c), 1, FEW_VALUES + 1).alias(c) for c in exact)
    sets = keys.agg(*limited).first()
    return {c: list(sets[c]) for c in exact if len(sets[c]) <= FEW_VALUES}


def load_transform(ref: str) -> Callable[..., DataFrame]:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def scd2_history(versions: DataFrame, key: tuple[str, ...], scd2: Scd2Spec) -> DataFrame:
    """Collapse versions of each key into validity ranges.

    ``versions`` holds the model's columns, one row per version as delivered, plus ``_seq``
    (a later delivery of the same key and time wins). A new version begins only where a
    tracked column differs from the version before; the other columns take the latest
    version's value in every version (type 1). The result is the same whether the versions
    arrive at once or day by day with the previous result fed back in, which is what makes
    the incremental run equal a rebuild.
    """
    vf = scd2.valid_from
    vf_type = versions.schema[vf].dataType
    begin, end = F.lit(BEGINNING_OF_TIME).cast(vf_type), F.lit(END_OF_TIME).cast(vf_type)
    columns = [c for c in versions.columns if c != _SEQ]
    type1 = [c for c in columns if c not in (*key, vf, *scd2.track)]

    latest = Window.partitionBy(*key, vf).orderBy(F.col(_SEQ).desc())
    by_time = Window.partitionBy(*key).orderBy(vf)
    whole = by_time.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    tracked = F.struct(*scd2.track)
    changes = (
        versions.withColumn(vf, F.coalesce(F.col(vf), begin))
        .withColumn("_n", F.row_number().over(latest))
        .where("_n = 1")
        .select(
            *(F.last(c).over(whole).alias(c) if c in type1 else F.col(c) for c in columns),
            (F.lag(tracked).over(by_time).eqNullSafe(tracked)).alias("_same"),
        )
        .where(~F.coalesce("_same", F.lit(False)))
        .drop("_same")
    )
    ranged = changes.select(
        *columns,
        F.coalesce(F.lead(vf).over(by_time), end).alias("valid_to"),
        F.row_number().over(by_time).alias("_n"),
    ).withColumn(vf, F.when(F.col("_n") == 1, begin).otherwise(F.col(vf)))
    return ranged.select(
        F.xxhash64(*key, vf).alias(scd2.version_key),
        *columns,
        "valid_to",
        (F.col("valid_to") == end).alias("is_current"),
    )


def unknown_member(spark: SparkSession, spec: GoldSpec, schema: StructType) -> DataFrame | None:
    """The row facts point to when their dimension member is missing."""
    if not spec.unknown:
        return None
    values = dict(spec.unknown)
    if spec.scd2:
        values.setdefault(spec.scd2.valid_from, BEGINNING_OF_TIME)
        values.setdefault("valid_to", END_OF_TIME)
        values.setdefault("is_current", "true")
    row = [
        F.lit(values.get(f.name)).cast(f.dataType).alias(f.name) for f in schema.fields
    ]  # a null is cast too, so the row has the table's exact types
    return spark.range(1).select(*row)


def with_unknown_member(spark: SparkSession, spec: GoldSpec, rows: DataFrame) -> DataFrame:
    unknown = unknown_member(spark, spec, rows.schema)
    return rows if unknown is None else rows.unionByName(unknown)


# --- change feed -----------------------------------------------------------------------------


def change_stream(spark: SparkSession, project: Project, spec: GoldSpec) -> DataFrame:
    """One stream of the changed rows of every input the model watches, each input's columns
    prefixed with its alias so that inputs of different shapes travel together."""
    aliases = list(spec.changes) if spec.incremental else list(spec.inputs)
    streams = []
    for alias in aliases:
        reader = spark.readStream.format("delta").option("readChangeFeed", "true")
        if spec.scd2:
            # History is in the changes, not in the current rows: a new checkpoint (a rebuild)
            # replays the source's whole feed instead of starting from its latest snapshot.
            reader = reader.option("startingVersion", 0)
        df = reader.load(project.table_path(project.table(spec.inputs[alias])))
        streams.append(
            df.select(
                F.lit(alias).alias(_INPUT),
                *(F.col(f"`{c}`").alias(f"{alias}{_SEP}{c}") for c in df.columns),
            )
        )
    return reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), streams)


def changed_rows(batch: DataFrame, alias: str) -> DataFrame:
    """One input's rows of a batch of ``change_stream``, with their own column names."""
    prefix = f"{alias}{_SEP}"
    return batch.where(F.col(_INPUT) == alias).select(
        *(F.col(f"`{c}`").alias(c[len(prefix) :]) for c in batch.columns if c.startswith(prefix))
    )


def touched_keys(
    spark: SparkSession, spec: GoldSpec, batch: DataFrame, inputs: dict[str, DataFrame]
) -> DataFrame:
    """The model keys the batch's changes touch, without nulls or repeats."""
    if any(isinstance(c, ChangeQuery) for c in spec.changes.values()):
        name_views(spark, inputs)
    parts = []
    for alias, change in spec.changes.items():
        rows = changed_rows(batch, alias)
        if isinstance(change, ChangeQuery):
            name_views(spark, {CHANGED_VIEW: rows})
            parts.append(spark.sql(change.sql).toDF(*spec.key))
        else:
            parts.append(
                rows.select(*(F.expr(e).alias(k) for e, k in zip(change, spec.key, strict=True)))
            )
    keys = reduce(lambda a, b: a.unionByName(b), parts)
    return keys.where(" AND ".join(f"`{k}` IS NOT NULL" for k in spec.key)).distinct()


# --- writing ---------------------------------------------------------------------------------


def _partition_filter(spec: GoldSpec, *frames: DataFrame) -> Column | None:
    """Target-only predicate naming the partitions the rows live in, so MERGE prunes files."""
    if not spec.partition_by:
        return None
    values = (
        reduce(DataFrame.union, (f.select(*spec.partition_by) for f in frames)).distinct().collect()
    )
    condition = None
    for column in spec.partition_by:
        seen = {r[column] for r in values}
        known = [v for v in seen if v is not None]
        c = F.col(f"t.`{column}`")
        part = c.isin(known) if known else F.lit(False)
        if None in seen:
            part = part | c.isNull()
        condition = part if condition is None else condition & part
    return condition


def replace_keys(
    spark: SparkSession, path: str, keys: DataFrame, rows: DataFrame, spec: GoldSpec
) -> None:
    """In one commit, make the table's rows for ``keys`` equal ``rows``, deleting rows of those
    keys that are no longer produced. Rows that already hold the same values are left alone,
    so a rerun over unchanged inputs commits nothing."""
    if not delta_io.exists(spark, path):
        create_table(spark, path, spec, rows.schema)
    key, grain = list(spec.key), list(spec.row_key)
    current = DeltaTable.forPath(spark, path).toDF().join(keys, on=key, how="left_semi")
    same = reduce(lambda a, b: a & b, (rows[c].eqNullSafe(current[c]) for c in rows.columns))
    upserts = rows.join(current, on=same, how="left_anti").withColumn(_PRESENT, F.lit(True))
    gone = reduce(lambda a, b: a & b, (current[c].eqNullSafe(rows[c]) for c in grain))
    kept = list(dict.fromkeys([*grain, *spec.partition_by]))
    deletes = current.join(rows, on=gone, how="left_anti").select(*kept)
    source = upserts.unionByName(deletes.dropDuplicates(), allowMissingColumns=True).persist()
    try:
        if source.isEmpty():
            return
        on = reduce(
            lambda a, b: a & b, (F.col(f"t.`{c}`").eqNullSafe(F.col(f"s.`{c}`")) for c in grain)
        )
        partitions = _partition_filter(spec, source)
        if partitions is not None:
            on = on & partitions
        values = {c: F.col(f"s.`{c}`") for c in rows.columns}
        (
            DeltaTable.forPath(spark, path)
            .alias("t")
            .merge(source.alias("s"), on)
            .whenMatchedDelete(condition=f"s.{_PRESENT} IS NULL")
            .whenMatchedUpdate(set=values)
            .whenNotMatchedInsert(condition=f"s.{_PRESENT}", values=values)
            .execute()
        )
    finally:
        source.unpersist()


def nullable(schema: StructType) -> StructType:
    """The schema without NOT NULL, nested types included: Delta would enforce it (and refuses
    it inside arrays), while an unknown member or a rebuilt key may hold nulls where the first
    rows happened not to."""
    text = schema.json()
    for flag in ("nullable", "containsNull", "valueContainsNull"):
        text = text.replace(f'"{flag}":false', f'"{flag}":true')
    return StructType.fromJson(json.loads(text))


def create_table(spark: SparkSession, path: str, spec: GoldSpec, schema: StructType) -> None:
    delta_io.ensure_table(spark, path, nullable(schema), spec.partition_by, delta_io.CHANGE_FEED)


def ensure_model_table(spark: SparkSession, path: str, spec: GoldSpec, schema: StructType) -> bool:
    """Create the table (so that models reading it can start) with its unknown member; True
    when the table holds nothing but that yet."""
    if not delta_io.exists(spark, path):
        create_table(spark, path, spec, schema)
    if delta_io.current_version(spark, path) != 0:
        return False
    unknown = unknown_member(spark, spec, schema)
    if unknown is not None:
        unknown.write.format("delta").mode("append").save(path)
    return True


_registered: set[tuple[int, str, str]] = set()
_registering = threading.Lock()


def register(spark: SparkSession, project: Project, table: Table) -> None:
    """Name the table in the session catalog (``gold.fct_orders``): with a persistent catalog
    (Hive metastore) spark-sql users find it there in later sessions too."""
    name = f"{table.layer}.{table.name}"
    path = project.table_path(table)
    done = (id(spark.sparkContext), name, path)
    if done in _registered:
        return
    with _registering:  # refreshes side by side would race to create the database
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {table.layer}")
        if spark.catalog.tableExists(name):
            location = spark.sql(f"DESCRIBE DETAIL {name}").first()["location"]
            if location.removeprefix("file:").rstrip("/") != path.removeprefix("file:").rstrip("/"):
                spark.sql(f"DROP TABLE {name}")  # an external table: only the name goes
        spark.sql(f"CREATE TABLE IF NOT EXISTS {name} USING delta LOCATION '{path}'")
        _registered.add(done)


def register_all(spark: SparkSession, project: Project, layer: str = "gold") -> list[str]:
    """Register every existing table of ``layer``; returns the names registered."""
    names = []
    for table in project.in_dependency_order():
        if table.layer == layer and delta_io.exists(spark, project.table_path(table)):
            register(spark, project, table)
            names.append(f"{table.layer}.{table.name}")
    return names


# --- a run -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshResult:
    table: str
    keys_changed: int | None  # None: the table was built for the first time, every key is new
    # Set when the run left the table alone: its ``refresh_every`` has not passed yet.
    not_due_until: datetime | None = None


# The commits a refresh makes: the table's creation, a first build appended, a MERGE. Erasure
# overwrites (mode Overwrite), maintenance OPTIMIZEs and VACUUMs; neither is a refresh.
REFRESH_COMMIT = (
    "operation IN ('CREATE TABLE', 'MERGE')"
    " OR (operation = 'WRITE' AND operationParameters['mode'] = 'Append')"
)


def next_refresh(spark: SparkSession, path: str, every: timedelta) -> datetime | None:
    """When a model refreshed at most once per ``every`` is due again (UTC): ``every`` after
    its last refresh commit. None: no such commit, due now.

    A refresh whose result equals the table commits nothing, so the model stays due and the
    next run with changes rebuilds it again.
    """
    last = (
        DeltaTable.forPath(spark, path)
        .history()
        .where(REFRESH_COMMIT)
        # seconds since the epoch: free of the session's and the driver's time zones
        .agg(F.max(F.col("timestamp").cast("double")).alias("at"))
        .first()["at"]
    )
    return None if last is None else datetime.fromtimestamp(last, UTC) + every


def _read_inputs(session: SparkSession, project: Project, spec: GoldSpec) -> dict[str, DataFrame]:
    return {
        alias: session.read.format("delta").load(project.table_path(project.table(ref)))
        for alias, ref in spec.inputs.items()
    }


def _model_schema(session: SparkSession, project: Project, spec: GoldSpec) -> StructType | None:
    """The model's output schema from analysis alone; None for a transform (it may train)."""
    if spec.transform:
        return None
    rows = build_model(session, spec, _read_inputs(session, project, spec), None)
    if spec.scd2:
        rows = scd2_history(rows.withColumn(_SEQ, F.lit(0)), spec.key, spec.scd2)
    return rows.schema


def rebuild_whole(
    session: SparkSession, project: Project, table: Table, first: bool = False
) -> int | None:
    """Recompute a model over all of its inputs and replace the table with it.

    ``first``: the table holds nothing yet but its unknown member, or does not exist; the
    rows are then appended as they are (``write_first``), and None is returned for the
    keys changed (all of them).
    """
    spec: GoldSpec = table.spec
    path = project.table_path(table)
    rows = build_model(session, spec, _read_inputs(session, project, spec), None)
    if first:
        write_first(session, path, rows, spec)
        return None
    rows = with_unknown_member(session, spec, rows).persist()
    try:
        keys = rows.select(*spec.key)
        if delta_io.exists(session, path):
            keys = keys.union(session.read.format("delta").load(path).select(*spec.key))
        keys = keys.distinct()
        replace_keys(session, path, keys, rows, spec)
        return keys.count()
    finally:
        rows.unpersist()


def write_first(spark: SparkSession, path: str, rows: DataFrame, spec: GoldSpec) -> None:
    """The first build of a table that does not exist or holds only its unknown member
    (``ensure_model_table``): append the model's rows in one commit, with the unknown member
    when the table is created here.

    ``replace_keys`` would compare every row with a table that holds none of them: collect
    all keys, stage the rows a second time and join them with the table in a MERGE, several
    times the cost of the write itself on an initial load. Rows go to one file per
    partition, the layout that MERGE would have left.
    """
    if not delta_io.exists(spark, path):
        create_table(spark, path, spec, rows.schema)
        rows = with_unknown_member(spark, spec, rows)
    if spec.partition_by:
        rows = rows.repartition(*spec.partition_by)
    rows.write.format("delta").mode("append").save(path)


def refresh_versions(
    session: SparkSession, project: Project, table: Table, batch: DataFrame, first: bool = False
) -> int | None:
    """SCD2: merge the batch's new versions with the table's versions of the same keys.

    ``first``: the table holds no versions yet (see ``rebuild_whole``); the batch's are the
    history, written as they are."""
    spec: GoldSpec = table.spec
    source = next(iter(spec.changes))
    inputs = _read_inputs(session, project, spec)
    inputs[source] = changed_rows(batch, source).where(F.col("_change_type").isin(*NEW_VERSION))
    if first:
        delivered = build_model(session, spec, inputs, None).withColumn(_SEQ, F.lit(1))
        history = scd2_history(delivered, spec.key, spec.scd2)
        write_first(session, project.table_path(table), history, spec)
        return None
    delivered = build_model(session, spec, inputs, None).persist()
    keys = delivered.select(*spec.key).distinct().persist()
    existing = (
        session.read.format("delta")
        .load(project.table_path(table))
        .join(keys, on=list(spec.key), how="left_semi")
        .select(*delivered.columns)
    )
    versions = existing.withColumn(_SEQ, F.lit(0)).unionByName(delivered.withColumn(_SEQ, F.lit(1)))
    replace_keys(
        session,
        project.table_path(table),
        keys,
        scd2_history(versions, spec.key, spec.scd2),
        spec,
    )
    count = keys.count()
    keys.unpersist()
    delivered.unpersist()
    return count


def refresh(spark: SparkSession, project: Project, table: Table, run_id: str) -> RefreshResult:
    spec: GoldSpec = table.spec
    path = project.table_path(table)
    # Temp views are per session: a separate one keeps models refreshed side by side apart.
    own = spark.newSession()
    existed = delta_io.exists(own, path)
    fresh = False
    if not existed or delta_io.current_version(own, path) == 0:
        schema = _model_schema(own, project, spec)
        fresh = schema is not None and ensure_model_table(own, path, spec, schema)
    # A table built for the first time: its first batch touches every key (see handle).
    new_table = fresh or not existed
    first = new_table
    if spec.refresh_interval and not new_table:
        due = next_refresh(own, path, spec.refresh_interval)
        if due is not None and due > datetime.now(UTC):
            register(spark, project, table)
            return RefreshResult(table.ref, keys_changed=0, not_due_until=due)
    if not spec.inputs:
        # Nothing to watch (a calendar): built with the table; drop the table to rebuild it.
        empty = fresh or own.read.format("delta").load(path).limit(2).count() < 2
        changed = rebuild_whole(own, project, table, first=fresh) if empty else 0
        register(spark, project, table)
        return RefreshResult(table.ref, keys_changed=changed)

    changed_total = 0

    def handle(batch: DataFrame, batch_id: int) -> None:
        nonlocal changed_total, first
        # The batch's own session carries the idempotent-write settings of this micro-batch.
        session = batch.sparkSession
        is_first, first = first, False
        if (not spec.incremental or is_first) and not spec.scd2:
            # When every key changed, finding the keys and restricting the inputs to them
            # is work on top of the whole build: the initial load builds whole, and writes
            # the rows as they come.
            changed_total += rebuild_whole(session, project, table, first=is_first) or 0
            return
        batch = batch.persist()
        try:
            if spec.scd2:
                changed_total += refresh_versions(session, project, table, batch, is_first) or 0
                return
            inputs = _read_inputs(session, project, spec)
            keys = touched_keys(session, spec, batch, inputs).persist()
            try:
                changed_total += keys.count()
                rows = build_model(session, spec, inputs, keys)
                replace_keys(session, path, keys, rows, spec)
            finally:
                keys.unpersist()
        finally:
            batch.unpersist()

    writer = (
        change_stream(spark, project, spec)
        .writeStream.option("checkpointLocation", project.checkpoint_path(table))
        .queryName(f"gold_{table.name}")
    )
    delta_io.for_each_batch_exactly_once(writer, table.ref, handle)
    if delta_io.exists(spark, path):
        register(spark, project, table)
    built_first = new_table and not first  # its first batch came and was written whole
    return RefreshResult(table.ref, keys_changed=None if built_first else changed_total)
