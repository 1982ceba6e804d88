"""Gold tables read without a JVM: delta-rs pins one committed version of each table a request
touches, and DuckDB queries that version's files through Arrow.

A Delta commit is one log file that appears whole (written aside, then renamed), and the data
files of a version stay until VACUUM removes them after the retention period; so a request that
reads version N of a table never sees a half-written table, whatever a pipeline commits
meanwhile.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow.dataset as ds
from deltalake import DeltaTable

from lakehouse.config import Project
from lakehouse.storage import object_store

if TYPE_CHECKING:
    from collections.abc import Mapping

    from lakehouse.serving.queries import Derived

# Spark writes timestamps as Parquet INT96, which Arrow reads as nanoseconds by default: the
# open end of an SCD2 version (9999-12-31) does not fit. Delta's own type is microseconds.
INT96_AS_MICROS = ds.ParquetReadOptions(coerce_int96_timestamp_unit="us")


class TableMissing(LookupError):
    """A gold table the API serves does not exist (yet) in the warehouse."""


@dataclass
class PinnedTable:
    """One committed version of a table, as DuckDB reads it: copied into DuckDB's own storage
    (``relation``), or, above the row limit, scanned from its Parquet files (``dataset``)."""

    version: int
    relation: str | None
    dataset: ds.Dataset | None
    derived: dict[str, str] = field(default_factory=dict)  # derived table -> its relation
    users: int = 0  # requests reading it now
    retired: bool = False  # a newer version is current: dropped when its last request ends


class GoldReader:
    """The gold tables named in the configuration, each at its latest committed version.

    Only tables listed in ``tables`` can be read, at the paths the configuration gives them:
    nothing a client sends becomes a path. A table of at most ``max_rows_in_memory`` rows is
    copied into an in-memory DuckDB table once per version (a lookup then takes about a
    millisecond, against some 20 ms scanning Parquet through Arrow); a larger one is scanned.
    """

    def __init__(
        self,
        project: Project,
        tables: list[str],
        max_rows_in_memory: int = 5_000_000,
        derived: Mapping[str, Derived] | None = None,
    ):
        # A table on S3 is read with the warehouse's storage options (endpoint, credentials).
        located = {
            name: object_store.delta_rs_location(
                project.table_path(project.table(f"gold.{name}")), project.settings.storage.s3
            )
            for name in tables
        }
        self.paths = {name: uri for name, (uri, _) in located.items()}
        self._options = {name: options or None for name, (_, options) in located.items()}
        self.max_rows_in_memory = max_rows_in_memory
        # Tables computed from a gold table's version when it is loaded (see queries.Derived).
        self.derived = dict(derived or {})
        self._probes: dict[str, DeltaTable] = {}
        self._pinned: dict[str, PinnedTable] = {}
        self._locks = {name: threading.Lock() for name in tables}
        self._db = duckdb.connect(":memory:")

    def acquire(self, name: str) -> PinnedTable:
        """The table's newest committed version, held until ``release``."""
        with self._locks[name]:
            probe = self._probes.get(name)
            try:
                if probe is None:
                    probe = self._probes[name] = DeltaTable(
                        self.paths[name], storage_options=self._options[name]
                    )
                else:
                    probe.update_incremental()
            except Exception as err:  # delta-rs: TableNotFoundError and kin
                raise TableMissing(f"gold.{name} has no Delta table yet") from err
            version = probe.version()
            pinned = self._pinned.get(name)
            if pinned is None or pinned.version != version:
                fresh = self._load(name, version)
                if pinned is not None:
                    pinned.retired = True
                    self._drop_if_unused(pinned)
                pinned = self._pinned[name] = fresh
            pinned.users += 1
            return pinned

    def release(self, name: str, pinned: PinnedTable) -> None:
        with self._locks[name]:
            pinned.users -= 1
            self._drop_if_unused(pinned)

    def warm(self) -> dict[str, int]:
        """Loads every table that exists now; returns their versions."""
        versions = {}
        for name in self.paths:
            try:
                pinned = self.acquire(name)
            except TableMissing:
                continue
            versions[name] = pinned.version
            self.release(name, pinned)
        return versions

    def _load(self, name: str, version: int) -> PinnedTable:
        table = DeltaTable(self.paths[name], version=version, storage_options=self._options[name])
        dataset = table.to_pyarrow_dataset(parquet_read_options=INT96_AS_MICROS)
        in_memory = dataset.count_rows() <= self.max_rows_in_memory
        # Relation names are the configured table names and an integer, never client text.
        relation = f'"{name}@{version}"' if in_memory else None
        derived = {}
        with self._db.cursor() as cursor:
            cursor.register("_source", dataset)
            if relation:
                cursor.execute(f"CREATE OR REPLACE TABLE {relation} AS SELECT * FROM _source")
            for derived_name, spec in self.derived.items():
                if spec.base == name:  # an aggregate: kept in memory even over a scanned table
                    derived[derived_name] = f'"{name}@{version}:{derived_name}"'
                    sql = spec.sql.format(base=relation or "_source")
                    cursor.execute(f"CREATE OR REPLACE TABLE {derived[derived_name]} AS {sql}")
            cursor.unregister("_source")
        return PinnedTable(version, relation, None if relation else dataset, derived)

    def _drop_if_unused(self, pinned: PinnedTable) -> None:
        if pinned.retired and pinned.users == 0:
            with self._db.cursor() as cursor:
                for relation in [pinned.relation, *pinned.derived.values()]:
                    if relation:
                        cursor.execute(f"DROP TABLE IF EXISTS {relation}")

    def snapshot(self) -> Snapshot:
        return Snapshot(self, self._db.cursor())


class Snapshot:
    """One request's view: each table pinned at first use, the same version for every query
    of the request (a temporary view of this connection names it). Queries take their values
    as parameters only; table names are the fixed names of ``GoldReader.paths``."""

    def __init__(self, reader: GoldReader, cursor: duckdb.DuckDBPyConnection):
        self.reader = reader
        self.cursor = cursor
        self.versions: dict[str, int] = {}
        self._derived_views: set[str] = set()
        self._held: list[tuple[str, PinnedTable]] = []

    def _use(self, name: str) -> None:
        if name in self.versions or name in self._derived_views:
            return
        if name in self.reader.derived:
            self._use_derived(name)
            return
        if name not in self.reader.paths:
            raise KeyError(f"not a served table: {name}")
        pinned = self.reader.acquire(name)
        self._held.append((name, pinned))
        if pinned.relation:
            self.cursor.execute(f'CREATE TEMP VIEW "{name}" AS SELECT * FROM {pinned.relation}')
        else:
            self.cursor.register(name, pinned.dataset)
        self.versions[name] = pinned.version

    def _use_derived(self, name: str) -> None:
        """A derived table at the version of its base this request holds."""
        spec = self.reader.derived[name]
        self._use(spec.base)
        source = next(p for n, p in self._held if n == spec.base).derived[name]
        self.cursor.execute(f'CREATE TEMP VIEW "{name}" AS SELECT * FROM {source}')
        self._derived_views.add(name)

    def rows(self, sql: str, params: dict[str, Any], tables: list[str]) -> list[dict[str, Any]]:
        """The query's rows as JSON-ready dicts; ``tables`` are the names the SQL reads."""
        for name in tables:
            self._use(name)
        result = self.cursor.execute(sql, params)
        columns = [d[0] for d in result.description]
        return [dict(zip(columns, map(_plain, row), strict=True)) for row in result.fetchall()]

    def close(self) -> None:
        try:
            self.cursor.close()
        finally:
            for name, pinned in self._held:
                self.reader.release(name, pinned)
            self._held.clear()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
