"""Bronze: land every dropped file once, as it arrived, with where and when it came from."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

from lakehouse import delta_io
from lakehouse.config import Project, Table
from lakehouse.config.model import SourceSpec
from lakehouse.schema import struct_from_columns

CORRUPT_RECORD = "_corrupt_record"

# Arrival order, oldest first: it decides the latest version where a source has no sequence
# column. Within one split of a file Spark keeps line order, so (file, split start, row id)
# follows the file's lines.
ARRIVAL_COLUMNS = (
    "_ingested_at",
    "_source_modified_at",
    "_source_file",
    "_source_offset",
    "_source_row",
)

LINEAGE_SCHEMA = StructType(
    [
        StructField("_source_file", StringType(), False),
        StructField("_source_modified_at", TimestampType(), True),
        StructField("_source_offset", LongType(), True),
        StructField("_source_row", LongType(), False),
        StructField("_ingested_at", TimestampType(), False),
        StructField("_run_id", StringType(), False),
    ]
)

_READER_DEFAULTS = {
    "csv": {"header": "true", "mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD},
    "json": {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD},
    "parquet": {},
}


def source_schema(source: SourceSpec) -> StructType:
    """The declared columns, plus the column that keeps a malformed line's raw text."""
    schema = struct_from_columns(source.schema)
    if source.format in ("csv", "json"):
        schema = schema.add(CORRUPT_RECORD, StringType(), True)
    return schema


def bronze_schema(source: SourceSpec) -> StructType:
    return StructType(source_schema(source).fields + LINEAGE_SCHEMA.fields)


def reader_options(source: SourceSpec) -> dict[str, str]:
    return {**_READER_DEFAULTS[source.format], **source.options}


def with_file_lineage(df: DataFrame, run_id: str) -> DataFrame:
    """Add where each row came from (the file source's hidden ``_metadata``) and when and by
    which run it landed."""
    lineage: dict[str, Column] = {
        "_source_file": F.col("_metadata.file_path"),
        "_source_modified_at": F.col("_metadata.file_modification_time"),
        "_source_offset": F.col("_metadata.file_block_start"),
        "_ingested_at": F.current_timestamp(),
        "_run_id": F.lit(run_id),
    }
    return df.select("*", *(c.alias(name) for name, c in lineage.items()))


def with_row_order(batch: DataFrame) -> DataFrame:
    """Number rows in read order; within one split of a file that is line order.

    Only possible on a batch (streaming plans refuse monotonically_increasing_id).
    """
    return batch.withColumn("_source_row", F.monotonically_increasing_id())


@dataclass(frozen=True)
class IngestResult:
    table: str
    files_seen: bool
    rows: int


def ingest(spark: SparkSession, project: Project, table: Table, run_id: str) -> IngestResult:
    """Append the rows of every file not ingested before; a file is never ingested twice."""
    source = table.spec.source
    target = project.table_path(table)
    delta_io.ensure_table(spark, target, bronze_schema(source), table.spec.partition_by)

    landing = project.landing_path(table)
    if not _path_exists(spark, landing):
        return IngestResult(table.ref, files_seen=False, rows=0)

    stream = (
        spark.readStream.format(source.format)
        .schema(source_schema(source))
        .options(**reader_options(source))
        .load(landing)
    )

    # The file stream's checkpoint remembers which files were taken; the batch is appended with
    # Delta transaction ids, so a batch replayed after a crash is not appended twice.
    # foreachBatch rather than the Delta sink: the row id of `with_lineage` needs a batch plan.
    def append(batch: DataFrame, batch_id: int) -> None:
        with_row_order(batch).write.format("delta").mode("append").save(target)

    writer = (
        with_file_lineage(stream, run_id)
        .writeStream.option("checkpointLocation", project.checkpoint_path(table))
        .queryName(f"bronze_{table.name}")
    )
    result = delta_io.for_each_batch_exactly_once(writer, table.ref, append)
    return IngestResult(table.ref, files_seen=True, rows=result.input_rows)


def _path_exists(spark: SparkSession, path: str) -> bool:
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return fs.exists(hadoop_path)
