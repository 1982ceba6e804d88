"""The typed shape of the YAML configuration: one dataclass per kind of block."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from lakehouse.config.connectors import JdbcSource, KafkaSource
from lakehouse.config.loader import ConfigError

LAYERS = ("bronze", "silver", "gold")
SAFE_RETENTION_HOURS = 168  # Delta's default delta.deletedFileRetentionDuration
_TABLE_REF = re.compile(r"^(bronze|silver|gold)\.[A-Za-z_][A-Za-z0-9_]*$")
_INTERVAL = re.compile(r"^\s*(\d+)\s*(minute|hour|day|week)s?\s*$")


def parse_interval(text: str) -> timedelta:
    """``"7 days"``, ``"12 hours"``, ``"1 week"``, ``"30 minutes"``."""
    match = _INTERVAL.match(str(text))
    if not match:
        raise ValueError(f"expected '<n> minutes|hours|days|weeks', got {text!r}")
    return timedelta(**{match[2] + "s": int(match[1])})


@dataclass(frozen=True)
class ColumnSpec:
    """A column: its Spark SQL type and, in silver, the expression that computes it."""

    type: str
    expr: str | None = None
    # A harmoniser from conf/harmonisation.yaml (timestamp, date, country, city) applied to
    # the expression's value before the cast.
    harmonise: Literal["timestamp", "date", "country", "city"] | None = None
    description: str = ""

    @classmethod
    def from_shorthand(cls, value: Any, file: str | Path, key: str) -> Any:
        # `order_id: string` is the common case; the mapping form is for expressions.
        return {"type": value} if isinstance(value, str) else value


@dataclass(frozen=True)
class PiiPolicy:
    """What silver does with a personal source column before anything else sees it."""

    action: Literal["drop", "hash", "mask", "generalise"]
    keep_last: int = 2  # mask: characters left visible
    to: Literal["year", "year_month", "postcode_area"] | None = None  # generalise: how

    @classmethod
    def from_shorthand(cls, value: Any, file: str | Path, key: str) -> Any:
        # `email: hash`; `birth_date: {action: generalise, to: year}`
        return {"action": value} if isinstance(value, str) else value

    def validate(self, file: str | Path, key: str) -> None:
        if self.action == "generalise" and self.to is None:
            raise ConfigError(
                file, f"{key}.to", "generalise needs `to:` (year, year_month, postcode_area)"
            )


@dataclass(frozen=True)
class SourceSpec:
    """Files an operational system drops into the landing area, or a Kafka topic, or a
    database table (docs/sources.md)."""

    format: Literal["csv", "json", "parquet", "kafka", "jdbc"]
    schema: dict[str, ColumnSpec]
    path: str = ""
    kafka: KafkaSource | None = None
    jdbc: JdbcSource | None = None
    options: dict[str, str] = field(default_factory=dict)
    # What a file that departs from `schema` (a new, missing or retyped column) does:
    # `rescue` keeps unexpected values in `_rescued_data`, `evolve` adds new columns to the
    # table, `fail` stops the run naming the file (docs/contracts_and_erasure.md).
    on_schema_change: Literal["rescue", "evolve", "fail"] = "rescue"

    def validate(self, file: str | Path, key: str) -> None:
        if not self.schema:
            raise ConfigError(file, f"{key}.schema", "declare at least one column")
        for kind in ("kafka", "jdbc"):
            if (self.format == kind) != (getattr(self, kind) is not None):
                raise ConfigError(
                    file, f"{key}.{kind}", f"needed with, and only with, format {kind}"
                )
        if self.format in ("csv", "json", "parquet") and not self.path:
            raise ConfigError(file, f"{key}.path", "a file source needs the folder it lands in")


@dataclass(frozen=True)
class ErasureSpec:
    """Which rows of a table belong to a data subject, for the erasure job.

    ``column`` holds the subject's id or a value derived from it; ``expr`` (SQL over
    ``subject_id``) derives that value from the id, e.g. ``xxhash64(subject_id)`` for a
    surrogate key.
    """

    column: str
    expr: str = "subject_id"


@dataclass(frozen=True)
class MaintenanceSpec:
    """How the maintenance job keeps a table fast and its storage bounded."""

    optimize: bool = True
    # Z-order within files, or liquid clustering (Delta rewrites the table's layout to it);
    # one or the other, and neither on a partitioned table's partition columns.
    zorder_by: tuple[str, ...] = ()
    cluster_by: tuple[str, ...] = ()
    # Files no longer referenced are deleted after this many hours. Below Delta's safe default
    # (7 days) a stream reading an older version, or a long query, could lose its files, so
    # shorter needs `allow_short_retention: true`.
    vacuum_retain_hours: int | None = None
    allow_short_retention: bool = False
    statistics: bool = True

    def validate(self, file: str | Path, key: str) -> None:
        if self.zorder_by and self.cluster_by:
            raise ConfigError(file, key, "declare zorder_by or cluster_by, not both")
        hours = self.vacuum_retain_hours
        if hours is not None and hours < SAFE_RETENTION_HOURS and not self.allow_short_retention:
            raise ConfigError(
                file,
                f"{key}.vacuum_retain_hours" if key else "vacuum_retain_hours",
                f"{hours} hours is below the safe default of {SAFE_RETENTION_HOURS}; "
                "set allow_short_retention: true if that is intended",
            )


@dataclass(frozen=True)
class BronzeSpec:
    source: SourceSpec
    description: str = ""
    partition_by: tuple[str, ...] = ()
    # Delta table properties, e.g. delta.dataSkippingStatsColumns to keep personal values
    # out of the file statistics Delta writes into its log.
    table_properties: dict[str, str] = field(default_factory=dict)
    erasure: ErasureSpec | None = None
    maintenance: MaintenanceSpec | None = None

    @property
    def upstream(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class SilverSpec:
    source: str
    keys: tuple[str, ...]
    columns: dict[str, ColumnSpec]
    # Which version of a key is the latest: the largest value of these columns. Without them,
    # arrival order (file, then line) decides.
    sequence_by: tuple[str, ...] = ()
    # Personal source columns and their policy; applied before the columns are computed.
    pii: dict[str, PiiPolicy] = field(default_factory=dict)
    # SQL over the bronze columns: true when the row says its key was deleted in the source
    # (`deleted_at IS NOT NULL`, or `_source_deleted` from a JDBC key comparison). The key
    # leaves silver when such a row is its latest version (lakehouse/deletes.py).
    deleted_when: str | None = None
    # The data-quality suite, a file under expectations/ (e.g. silver/orders.yaml).
    expectations: str | None = None
    description: str = ""
    partition_by: tuple[str, ...] = ()
    # SQL over the key columns giving the business date a key carries (an order id's day, an
    # event's time). The table is partitioned by it and a MERGE reads only the batch's days.
    key_date: str | None = None
    erasure: ErasureSpec | None = None
    maintenance: MaintenanceSpec | None = None

    @property
    def upstream(self) -> tuple[str, ...]:
        return (self.source,)

    def validate(self, file: str | Path, key: str) -> None:
        if not self.keys:
            raise ConfigError(file, "keys", "declare at least one business key column")
        for k in self.keys:
            if k not in self.columns:
                raise ConfigError(file, "keys", f"key column {k!r} is not one of the columns")
        for c in self.sequence_by:
            if c not in self.columns:
                raise ConfigError(file, "sequence_by", f"column {c!r} is not one of the columns")
        if self.key_date and self.partition_by:
            raise ConfigError(
                file, "key_date", "the table is partitioned by its key date: drop partition_by"
            )


@dataclass(frozen=True)
class ChangeQuery:
    """For a lookup input: SQL over its changed rows (view ``changed``, with ``_change_type``)
    and the model's other inputs that returns the model keys those changes affect."""

    sql: str


@dataclass(frozen=True)
class Scd2Spec:
    """History kept as versions: a change in a tracked column opens a new version."""

    valid_from: str  # output column: when the version began (the source's change time)
    track: tuple[str, ...]  # other columns are overwritten in every version (type 1)
    version_key: str  # surrogate key of a version, a hash of the business key and valid_from


@dataclass(frozen=True)
class MeasuresSpec:
    """The columns of an additive model that add up over its input's rows, so that a change
    adds its contribution (new rows) and takes back the old one (deleted or replaced rows)."""

    count: str  # counts the input rows of a row's group: a group that falls to 0 is removed
    sum: tuple[str, ...] = ()  # sums of integers or decimals (null counts as 0)

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.count, *self.sum)


@dataclass(frozen=True)
class GoldSpec:
    key: tuple[str, ...]
    inputs: dict[str, str] = field(default_factory=dict)
    sql: str | None = None
    # "module:function" taking the inputs (alias -> DataFrame) and params, returning a DataFrame,
    # for models SQL cannot express (machine learning).
    transform: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    # The columns that identify a row, when one key (the unit rebuilt together) holds many rows.
    grain: tuple[str, ...] = ()
    changes: dict[str, tuple[str, ...] | ChangeQuery] = field(default_factory=dict)
    # false: the model is rebuilt whole whenever an input changed (global ranks, trained models).
    incremental: bool = True
    # How the rows of the touched keys reach the table: `merge` (only rows that changed are
    # rewritten, one MERGE) or `replace` (the keys' rows overwritten with replaceWhere, no
    # comparison), or `additive` (``measures`` add the changed input rows' contribution to
    # the rows there, without re-reading the input). Default: replace for a one-column key
    # holding many rows (a day, a month) when a run touches few of its values, merge otherwise.
    strategy: Literal["merge", "replace", "additive"] | None = None
    measures: MeasuresSpec | None = None
    # Columns computed from the model's other columns after its SQL: ratios of measures,
    # which do not add up themselves ("1 - revenue / nullif(order_intake, 0)").
    derived: dict[str, str] = field(default_factory=dict)
    scd2: Scd2Spec | None = None
    # The "unknown" member: column -> value; columns not named are null.
    unknown: dict[str, str] = field(default_factory=dict)
    description: str = ""
    partition_by: tuple[str, ...] = ()
    erasure: ErasureSpec | None = None
    maintenance: MaintenanceSpec | None = None
    # At most one refresh per this interval ("7 days"): runs in between leave the table as it
    # is and its changes wait in the inputs' change feeds. For models that are costly and
    # whole by nature (a trained model), where a day's data moves little.
    refresh_every: str | None = None

    @property
    def upstream(self) -> tuple[str, ...]:
        return tuple(self.inputs.values())

    @property
    def refresh_interval(self) -> timedelta | None:
        return parse_interval(self.refresh_every) if self.refresh_every else None

    @property
    def direct_inputs(self) -> list[str]:
        """The inputs whose changed rows carry the key in their own columns (not lookups,
        whose change queries find the keys)."""
        return [a for a, c in self.changes.items() if isinstance(c, tuple)]

    @property
    def additive_input(self) -> str:
        """The input whose changed rows an additive model adds up (lookups' changes rebuild
        the keys they touch)."""
        return self.direct_inputs[0]

    def _validate_additive(self, file: str | Path) -> None:
        if self.sql is None or self.scd2 or self.unknown or not self.incremental:
            raise ConfigError(
                file, "strategy", "additive needs sql, an incremental model, no scd2 or unknown"
            )
        if len(self.direct_inputs) != 1:
            raise ConfigError(
                file,
                "changes",
                "an additive model adds up the changes of exactly one input "
                "named by its key columns; other inputs need change queries",
            )
        measures = self.measures.columns
        clash = set(measures) & set((*self.row_key, *self.derived))
        if clash or len(set(measures)) < len(measures):
            raise ConfigError(file, "measures", "a measure is named twice, or is a key or derived")

    @property
    def row_key(self) -> tuple[str, ...]:
        if self.scd2:
            return (*self.key, self.scd2.valid_from)
        return self.grain or self.key

    def validate(self, file: str | Path, key: str) -> None:
        if (self.sql is None) == (self.transform is None):
            raise ConfigError(file, "sql", "declare either sql or transform (module:function)")
        if self.transform is not None and ":" not in self.transform:
            raise ConfigError(file, "transform", "expected module:function")
        for alias, change in self.changes.items():
            if alias not in self.inputs:
                raise ConfigError(file, f"changes.{alias}", "not one of the inputs")
            if isinstance(change, tuple) and len(change) != len(self.key):
                raise ConfigError(
                    file,
                    f"changes.{alias}",
                    f"name one column for each key column {list(self.key)}",
                )
        if self.refresh_every is not None:
            try:
                parse_interval(self.refresh_every)
            except ValueError as exc:
                raise ConfigError(file, "refresh_every", str(exc)) from None
        if self.strategy == "replace" and (len(self.key) != 1 or self.scd2 or self.unknown):
            raise ConfigError(
                file, "strategy", "replace needs a one-column key, no scd2 and no unknown member"
            )
        if (self.strategy == "additive") != (self.measures is not None):
            raise ConfigError(
                file, "measures", "declare measures with strategy: additive, and only with it"
            )
        if self.strategy == "additive":
            self._validate_additive(file)
        if not self.incremental:
            if self.changes:
                raise ConfigError(file, "changes", "a model rebuilt whole needs no changes")
            if self.scd2:
                raise ConfigError(file, "scd2", "history needs an incremental model")
            return
        if not self.inputs:
            raise ConfigError(file, "inputs", "declare at least one input table")
        if not self.changes:
            raise ConfigError(
                file, "changes", "declare, for at least one input, the column that carries the key"
            )
        if self.scd2 and (len(self.direct_inputs) != 1 or len(self.changes) != 1):
            raise ConfigError(
                file, "changes", "a model with history reads its versions from one input"
            )


SPEC_BY_LAYER = {"bronze": BronzeSpec, "silver": SilverSpec, "gold": GoldSpec}


@dataclass(frozen=True)
class Table:
    """One table of the lakehouse, identified as ``layer.name`` (its file's folder and stem)."""

    layer: str
    name: str
    file: Path
    spec: BronzeSpec | SilverSpec | GoldSpec

    @property
    def ref(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def upstream(self) -> tuple[str, ...]:
        return self.spec.upstream


def is_table_ref(value: str) -> bool:
    return bool(_TABLE_REF.match(value))
