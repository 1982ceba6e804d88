"""The simulated day, delivered by real systems: e-commerce feeds published to Kafka topics,
the shops' sales and shops kept as PostgreSQL tables, inventory left as CSV files.

The file simulation writes the day into a staging folder first; every defect it injected
(malformed lines, duplicates, late and out-of-order records) travels on: a malformed CSV line
becomes a message that is not JSON, a late record a message published late. What the
systems add is listed under ``systems`` in the day's manifest: messages per topic, rows
upserted per table, and the sales lines of earlier days deleted (voided) in the database.
Where a source goes is read from the tables' configuration (the ``systems/real`` overlay).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
from decimal import Decimal, InvalidOperation
from pathlib import Path

from lakehouse.config import Project, Table, secrets

STAGING = "_systems_staging"
_PG_TYPES = {"string": "text", "int": "integer", "long": "bigint", "double": "double precision"}
_URL = re.compile(r"^jdbc:postgresql://([^/:]+)(?::(\d+))?/([^?]+)")


def _pg_type(spark_type: str) -> str:
    t = spark_type.lower()
    if t.startswith("decimal"):
        return t.replace("decimal", "numeric")
    return _PG_TYPES.get(t, "timestamp" if t.startswith("timestamp") else "text")


def _typed(value: str, spark_type: str) -> object:
    """A CSV field as the JSON value the declared type reads; as text where it does not fit
    (a defect stays a defect)."""
    t = spark_type.lower()
    try:
        if t in ("int", "long", "bigint", "short"):
            return int(value)
        if t.startswith("decimal") or t in ("double", "float"):
            return float(Decimal(value))
    except (ValueError, InvalidOperation):
        return value
    return value


class RealSystems:
    """Deliver a staged day to the systems the project's bronze tables read."""

    def __init__(self, project: Project, landing: str | os.PathLike, seed: int, void_share: float):
        self.project = project
        self.landing = Path(landing)
        self.seed = seed
        self.void_share = void_share
        self.by_name = {t.name: t for t in project.tables.values() if t.layer == "bronze"}

    # --- a day ---------------------------------------------------------------------------

    def deliver(self, staging: Path, manifest: dict) -> dict:
        systems: dict[str, dict] = {"topics": {}, "tables": {}, "voided": {}}
        for name, source in manifest["sources"].items():
            table = self.by_name.get(name)
            files = [staging / f["path"] for f in source["files"]]
            kind = table.spec.source.format if table else "csv"
            if kind == "kafka":
                systems["topics"][table.spec.source.kafka.topic] = self._publish(table, files)
            elif kind == "jdbc":
                systems["tables"][table.spec.source.jdbc.table] = self._store(table, files)
            else:
                for f, entry in zip(files, source["files"], strict=True):
                    target = self.landing / entry["path"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(f, target)
        for table in self.by_name.values():
            jdbc = table.spec.source.jdbc
            if jdbc is not None and jdbc.compare_keys and self.void_share > 0:
                voided = self._void(table, manifest["day"])
                systems["voided"][jdbc.table] = {"count": len(voided), "keys": voided[:2000]}
        manifest = {**manifest, "systems": systems}
        folder = self.landing / "_manifest"
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{manifest['day']}.json.inprogress"
        tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        os.replace(tmp, folder / f"{manifest['day']}.json")
        return manifest

    # --- Kafka -----------------------------------------------------------------------------

    def _records(self, table: Table, file: Path):
        """(key, value) per record of a staged file: JSON lines as they are; a CSV row as a
        JSON object in the declared types; a line that is not a well-formed row, raw."""
        schema = {n: c.type for n, c in table.spec.source.schema.items()}
        first = next(iter(schema))
        text = file.read_text(encoding="utf-8")
        if file.suffix == ".json" or file.suffix == ".jsonl":
            for line in text.splitlines():
                if line.strip():
                    try:
                        key = json.loads(line).get(first)
                    except (ValueError, AttributeError):
                        key = None
                    yield (str(key) if key is not None else None), line
            return
        # Line by line: a line with broken quoting must not swallow the next ones.
        lines = text.splitlines()
        header = next(csv.reader(lines[:1]), []) if lines else []
        for line in lines[1:]:
            rows = list(csv.reader([line]))
            if len(rows) != 1 or len(rows[0]) != len(header):
                yield None, line
                continue
            record = {
                h: (None if v == "" else _typed(v, schema.get(h, "string")))
                for h, v in zip(header, rows[0], strict=True)
            }
            key = record.get(first)
            yield (str(key) if key is not None else None), json.dumps(record, ensure_ascii=False)

    def _publish(self, table: Table, files: list[Path]) -> dict:
        from confluent_kafka import Producer

        kafka = table.spec.source.kafka
        producer = Producer(
            {
                "bootstrap.servers": kafka.bootstrap_servers,
                "linger.ms": 20,
                **kafka.options,
                **secrets.resolve(kafka.secrets, table.ref),
            }
        )
        count = 0
        for file in files:
            for key, value in self._records(table, file):
                while True:
                    try:
                        producer.produce(kafka.topic, value=value.encode(), key=key)
                        break
                    except BufferError:  # the local queue is full: let it drain
                        producer.poll(0.5)
                count += 1
            file.unlink()
        left = producer.flush(60)
        if left:
            raise RuntimeError(f"{kafka.topic}: {left} messages not acknowledged by the broker")
        return {"messages": count}

    # --- PostgreSQL --------------------------------------------------------------------------

    def connect(self, table: Table):
        import psycopg

        jdbc = table.spec.source.jdbc
        match = _URL.match(jdbc.url)
        if not match:
            raise ValueError(f"{table.file}: the simulator writes to jdbc:postgresql URLs only")
        creds = secrets.resolve(jdbc.secrets, table.ref)
        return psycopg.connect(
            host=match[1],
            port=int(match[2] or 5432),
            dbname=match[3],
            user=creds.get("user"),
            password=creds.get("password"),
            autocommit=False,
        )

    def _ensure(self, conn, table: Table) -> list[str]:
        jdbc = table.spec.source.jdbc
        columns = [
            f"{n} {_pg_type(c.type)}"
            for n, c in table.spec.source.schema.items()
            if n != jdbc.watermark
        ]
        keys = ", ".join(jdbc.compare_keys or (next(iter(table.spec.source.schema)),))
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {jdbc.table} ({', '.join(columns)}, "
            f"{jdbc.watermark} timestamp NOT NULL DEFAULT clock_timestamp(), "
            f"UNIQUE NULLS NOT DISTINCT ({keys}))"
        )
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS {jdbc.table}_{jdbc.watermark} "
            f"ON {jdbc.table} ({jdbc.watermark})"
        )
        return [n for n in table.spec.source.schema if n != jdbc.watermark]

    def _rows(self, table: Table, file: Path, columns: list[str]):
        if file.suffix == ".parquet":
            import pyarrow.parquet as pq

            data = pq.read_table(file).to_pylist()
            for row in data:
                yield [row.get(c) for c in columns]
            return
        reader = csv.DictReader(io.StringIO(file.read_text(encoding="utf-8")))
        for row in reader:
            yield [(row.get(c) or None) for c in columns]

    def _store(self, table: Table, files: list[Path]) -> dict:
        """Upsert each row by key: a row sent again (a correction) updates, and its
        change time moves on."""
        jdbc = table.spec.source.jdbc
        keys = list(jdbc.compare_keys or (next(iter(table.spec.source.schema)),))
        count = 0
        with self.connect(table) as conn:
            columns = self._ensure(conn, table)
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in keys)
            sql = (
                f"INSERT INTO {jdbc.table} ({', '.join(columns)}) "
                f"VALUES ({', '.join(['%s'] * len(columns))}) "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}, "
                f"{jdbc.watermark} = clock_timestamp()"
            )
            with conn.cursor() as cur:
                for file in files:
                    rows = list(self._rows(table, file, columns))
                    cur.executemany(sql, rows)
                    count += len(rows)
                    file.unlink()
            conn.commit()
        return {"rows": count}

    def _void(self, table: Table, day: str) -> list[str]:
        """Delete a seeded share of the rows stored before today (voided sales)."""
        jdbc = table.spec.source.jdbc
        keys = " || ':' || ".join(f"coalesce({k}::text, '')" for k in jdbc.compare_keys)
        per_million = int(self.void_share * 1_000_000)
        with self.connect(table) as conn:
            rows = conn.execute(
                f"DELETE FROM {jdbc.table} WHERE {jdbc.watermark} < now() AND "
                f"abs(hashtext({keys} || ':{self.seed}:{day}')) % 1000000 < {per_million} "
                f"RETURNING {keys}"
            ).fetchall()
            conn.commit()
        return sorted(r[0] for r in rows)


def staging_folder(landing: str | os.PathLike) -> Path:
    return Path(landing) / STAGING


def real_systems_project(conf: str | os.PathLike) -> Project:
    """The configuration with the real-systems overlay (unless another one is chosen)."""
    from lakehouse.config import load_project

    os.environ.setdefault("LAKEHOUSE_TABLES_OVERLAY", "systems/real")
    return load_project(conf)
