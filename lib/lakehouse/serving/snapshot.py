"""Gold tables read without a JVM: delta-rs pins one committed version of each table a request
touches, and DuckDB queries that version's files through Arrow.

A Delta commit is one log file that appears whole (written aside, then renamed), and the data
files of a version stay until VACUUM removes them after the retention period; so a request that
reads version N of a table never sees a half-written table, whatever a pipeline commits
meanwhile.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow.dataset as ds
from deltalake import DeltaTable

from lakehouse.config import Project


class TableMissing(LookupError):
    """A gold table the API serves does not exist (yet) in the warehouse."""


@dataclass(frozen=True)
class PinnedTable:
    version: int
    dataset: ds.Dataset


class GoldReader:
    """The gold tables named in the configuration, each at its latest committed version.

    Only tables listed in ``tables`` can be read, at the paths the configuration gives them:
    nothing a client sends becomes a path.
    """

    def __init__(self, project: Project, tables: list[str]):
        self.paths = {name: project.table_path(project.table(f"gold.{name}")) for name in tables}
        self._probes: dict[str, DeltaTable] = {}
        self._pinned: dict[str, PinnedTable] = {}
        self._locks = {name: threading.Lock() for name in tables}
        self._db = duckdb.connect(":memory:")

    def latest(self, name: str) -> PinnedTable:
        """The table's newest committed version (its data files listed once per version)."""
        with self._locks[name]:
            probe = self._probes.get(name)
            try:
                if probe is None:
                    probe = self._probes[name] = DeltaTable(self.paths[name])
                else:
                    probe.update_incremental()
            except Exception as err:  # delta-rs: TableNotFoundError and kin
                raise TableMissing(f"gold.{name} has no Delta table yet") from err
            version = probe.version()
            pinned = self._pinned.get(name)
            if pinned is None or pinned.version != version:
                table = DeltaTable(self.paths[name], version=version)
                pinned = self._pinned[name] = PinnedTable(version, table.to_pyarrow_dataset())
            return pinned

    def snapshot(self) -> Snapshot:
        return Snapshot(self, self._db.cursor())


class Snapshot:
    """One request's view: each table pinned at first use, the same version for every query
    of the request. Queries take their values as parameters only; table names are the fixed
    names of ``GoldReader.paths``."""

    def __init__(self, reader: GoldReader, cursor: duckdb.DuckDBPyConnection):
        self.reader = reader
        self.cursor = cursor
        self.versions: dict[str, int] = {}

    def _use(self, name: str) -> None:
        if name in self.versions:
            return
        if name not in self.reader.paths:
            raise KeyError(f"not a served table: {name}")
        pinned = self.reader.latest(name)
        self.cursor.register(name, pinned.dataset)
        self.versions[name] = pinned.version

    def rows(self, sql: str, params: dict[str, Any], tables: list[str]) -> list[dict[str, Any]]:
        """The query's rows as JSON-ready dicts; ``tables`` are the names the SQL reads."""
        for name in tables:
            self._use(name)
        result = self.cursor.execute(sql, params)
        columns = [d[0] for d in result.description]
        return [dict(zip(columns, map(_plain, row), strict=True)) for row in result.fetchall()]

    def close(self) -> None:
        self.cursor.close()


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
