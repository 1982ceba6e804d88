"""Data contracts: a landed file against the schema its source declares.

A file may bring a column the contract does not know, lack one it declares, or (Parquet) carry
a column with another type. The source's ``on_schema_change`` decides what happens:

- ``rescue`` (default): the declared columns are kept as declared; whatever does not fit them
  (unknown columns, values of a retyped column) goes, as text, into ``_rescued_data``, a JSON
  object of column -> raw value. Nothing is lost and the table's schema never moves.
- ``evolve``: unknown columns are added to the table (Delta schema evolution) and flow on; a
  changed type cannot evolve in place and stops the run.
- ``fail``: any difference stops the run, naming each file and what differs; the batch is not
  appended, so fixing the file (or the policy) and running again takes it.

A declared column missing from a file is null under ``rescue`` and ``evolve``.

Detection is per file and cheap: a CSV file's header line, a Parquet file's footer, the
top-level keys of a JSON lines file. CSV files are then read by their own header, never by
position, so a column inserted in the middle cannot shift values into the wrong columns.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from typing import Literal

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    ByteType,
    DataType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    MapType,
    ShortType,
    StringType,
    StructField,
    StructType,
)

from lakehouse.bronze.columns import RESCUED_DATA
from lakehouse.storage import hadoop_fs

Policy = Literal["rescue", "evolve", "fail"]
POLICIES: tuple[Policy, ...] = ("rescue", "evolve", "fail")

# Integral types in widening order: a file holding a narrower one reads losslessly as a wider.
_INTEGRAL = (ByteType, ShortType, IntegerType, LongType)


@dataclass(frozen=True)
class Drift:
    """How one file departs from the contract."""

    file: str
    added: tuple[tuple[str, str], ...] = ()  # (column, type in the file)
    missing: tuple[str, ...] = ()
    changed: tuple[tuple[str, str, str], ...] = ()  # (column, declared type, type in the file)

    def __bool__(self) -> bool:
        return bool(self.added or self.missing or self.changed)

    def describe(self) -> str:
        parts = []
        if self.added:
            parts.append("new " + ", ".join(f"{c} ({t})" for c, t in self.added))
        if self.missing:
            parts.append("missing " + ", ".join(self.missing))
        if self.changed:
            parts.append(
                "changed type " + ", ".join(f"{c} ({d} -> {f})" for c, d, f in self.changed)
            )
        return f"{self.file}: {'; '.join(parts)}"


class SchemaDriftError(ValueError):
    """A landed file breaks its source's contract and the policy says stop."""

    def __init__(self, table: str, policy: Policy, drifts: list[Drift]):
        self.table, self.policy, self.drifts = table, policy, drifts
        lines = "\n".join(f"  {d.describe()}" for d in drifts)
        hint = (
            "a type change cannot evolve; fix the file or set on_schema_change: rescue"
            if policy == "evolve"
            else "fix the files or change on_schema_change (rescue, evolve), then run again"
        )
        super().__init__(
            f"{table}: schema drift with on_schema_change: {policy}; nothing appended:\n"
            f"{lines}\n{hint}"
        )


def widens(found: DataType, declared: DataType) -> bool:
    """Can a value of ``found`` be read as ``declared`` without loss (int -> long, ...)?"""
    if found == declared:
        return True
    kinds = [type(found), type(declared)]
    if all(k in _INTEGRAL for k in kinds):
        return _INTEGRAL.index(kinds[0]) <= _INTEGRAL.index(kinds[1])
    if isinstance(declared, DoubleType):
        return isinstance(found, (FloatType, ByteType, ShortType, IntegerType))
    if isinstance(found, DecimalType) and isinstance(declared, DecimalType):
        return (
            found.scale <= declared.scale
            and found.precision - found.scale <= declared.precision - declared.scale
        )
    return False


def compare(expected: StructType, found: StructType, file: str, typed: bool) -> Drift:
    """The drift of a file whose columns are ``found``; types count only where the format
    carries them (``typed``: Parquet), since CSV text and JSON values are parsed to the
    declared type anyway."""
    declared = {f.name: f.dataType for f in expected.fields}
    present = {f.name: f.dataType for f in found.fields}
    added = tuple((n, t.simpleString()) for n, t in present.items() if n not in declared)
    missing = tuple(n for n in declared if n not in present)
    changed = tuple(
        (n, declared[n].simpleString(), t.simpleString())
        for n, t in present.items()
        if typed and n in declared and not widens(t, declared[n])
    )
    return Drift(file, added, missing, changed)


def check(table: str, policy: Policy, drifts: list[Drift], reserved: tuple[str, ...] = ()) -> None:
    """Raise when the policy does not accept the batch's drift.

    A new column named like one of the ``reserved`` (system) columns is refused whatever the
    policy: it could neither be added nor be told apart from bronze's own column.
    """
    drifts = [d for d in drifts if d]
    if policy == "fail" and drifts:
        raise SchemaDriftError(table, policy, drifts)
    if policy == "evolve" and any(d.changed for d in drifts):
        raise SchemaDriftError(table, policy, [d for d in drifts if d.changed])
    clashes = [d for d in drifts if any(c in reserved for c, _ in d.added)]
    if clashes:
        raise SchemaDriftError(table, "fail", clashes)


def _col(name: str) -> Column:
    # Header names may hold dots or spaces; backticks keep them one column name.
    return F.col("`" + name.replace("`", "``") + "`")


def _as_text(column: Column, data_type: DataType) -> Column:
    if isinstance(data_type, (StructType, ArrayType, MapType)):
        return F.to_json(column)
    if isinstance(data_type, BinaryType):
        return F.base64(column)
    return column.cast("string")


def rescued(values: dict[str, tuple[Column, DataType]]) -> Column:
    """A JSON object of the non-null ``values`` as text; null when there are none."""
    if not values:
        return F.lit(None).cast("string")
    pairs = [x for name, (c, t) in values.items() for x in (F.lit(name), _as_text(c, t))]
    kept = F.map_filter(F.create_map(*pairs), lambda _k, v: v.isNotNull())
    return F.when(F.size(kept) > 0, F.to_json(kept))


def conform(
    df: DataFrame,
    expected: StructType,
    drift: Drift,
    policy: Policy,
    keep: tuple[str, ...] = (),
) -> DataFrame:
    """Shape rows read with a file's own columns into the contract's columns.

    Declared columns come out with their declared type (null where the file lacks them);
    ``keep`` columns (lineage, the corrupt-record text) pass through. Under ``evolve`` the new
    columns follow as they are; otherwise they, and the raw values of retyped columns, go
    into ``_rescued_data``.
    """
    types = {f.name: f.dataType for f in df.schema.fields}
    changed = {c for c, _, _ in drift.changed}
    columns = []
    for field in expected.fields:
        if field.name not in types:
            columns.append(F.lit(None).cast(field.dataType).alias(field.name))
        elif field.name in changed:
            columns.append(_col(field.name).try_cast(field.dataType).alias(field.name))
        else:
            columns.append(_col(field.name).cast(field.dataType).alias(field.name))
    added = [c for c, _ in drift.added if c in types]
    if policy == "evolve":
        extra = [_col(c) for c in added]
        to_rescue = {}
    else:
        extra = []
        to_rescue = {c: (_col(c), types[c]) for c in (*added, *sorted(changed)) if c in types}
    return df.select(
        *columns, *extra, rescued(to_rescue).alias(RESCUED_DATA), *(_col(c) for c in keep)
    )


# --- what a landed file holds -------------------------------------------------------------


def csv_header(line: str, options: dict[str, str]) -> list[str]:
    """Column names from a CSV header line, with the source's delimiter and quote."""
    delimiter, quote = csv_dialect(options)
    row = next(csv.reader([line.lstrip("\ufeff")], delimiter=delimiter, quotechar=quote), [])
    return [name.strip() for name in row]


def csv_dialect(options: dict[str, str]) -> tuple[str, str]:
    """(delimiter, quote) as Spark's CSV reader takes them from its options."""
    return options.get("sep", options.get("delimiter", ",")), options.get("quote", '"')


def _hadoop(spark: SparkSession, path: str):
    fs, hadoop_path = hadoop_fs.file_system(spark, path)
    return hadoop_fs.jvm(spark), hadoop_path, fs, hadoop_fs.hadoop_conf(spark)


def first_line(spark: SparkSession, path: str, encoding: str = "UTF-8") -> str | None:
    """The first line of a file, read through Hadoop's file system (any storage, compressed
    or not) without reading the rest."""
    jvm, hadoop_path, fs, conf = _hadoop(spark, path)
    stream = fs.open(hadoop_path)
    try:
        codec = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(conf).getCodec(
            hadoop_path
        )
        if codec is not None:
            stream = codec.createInputStream(stream)
        reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, encoding))
        return reader.readLine()
    finally:
        stream.close()


def csv_file_columns(spark: SparkSession, path: str, options: dict[str, str]) -> list[str] | None:
    line = first_line(spark, path, options.get("encoding", options.get("charset", "UTF-8")))
    return None if line is None else csv_header(line, options)


def parquet_file_schema(spark: SparkSession, path: str) -> StructType:
    """A Parquet file's schema from its footer alone, converted as Spark's reader does."""
    jvm, hadoop_path, _fs, conf = _hadoop(spark, path)
    parquet = jvm.org.apache.parquet.hadoop
    reader = parquet.ParquetFileReader.open(
        parquet.util.HadoopInputFile.fromPath(hadoop_path, conf)
    )
    try:
        message = reader.getFooter().getFileMetaData().getSchema()
    finally:
        reader.close()
    converter = (
        jvm.org.apache.spark.sql.execution.datasources.parquet.ParquetToSparkSchemaConverter(
            spark._jsparkSession.sessionState().conf()
        )
    )
    return StructType.fromJson(json.loads(converter.convert(message).json()))


def json_file_keys(spark: SparkSession, paths: list[str]) -> dict[str, set[str]]:
    """The top-level keys used by the records of each JSON lines file (one scan of the text)."""
    keys: dict[str, set[str]] = {p: set() for p in paths}
    rows = (
        spark.read.text(paths)
        .select(
            F.col("_metadata.file_path").alias("file"),
            F.explode(F.json_object_keys("value")).alias("key"),
        )
        .distinct()
        .collect()
    )
    for row in rows:
        keys.setdefault(row.file, set()).add(row.key)
    return keys


def string_schema(names: list[str], expected: StructType) -> StructType:
    """Read schema for a text format: declared columns typed, unknown ones as text."""
    declared = {f.name: f.dataType for f in expected.fields}
    return StructType([StructField(n, declared.get(n, StringType()), True) for n in names])
