"""What dimensions add to a model's rows: history as validity ranges (SCD2) and the unknown
member that facts point to while their real member has not arrived."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from lakehouse.config.tables import GoldSpec, Scd2Spec

# The first version of a key is valid from the beginning of time, so a fact older than the
SEQ = "_seq"
# export of its customer still finds one; the open version is valid until the end of time.
BEGINNING_OF_TIME = "1900-01-01 00:00:00"
END_OF_TIME = "9999-12-31 00:00:00"


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
    columns = [c for c in versions.columns if c != SEQ]
    type1 = [c for c in columns if c not in (*key, vf, *scd2.track)]

    latest = Window.partitionBy(*key, vf).orderBy(F.col(SEQ).desc())
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
