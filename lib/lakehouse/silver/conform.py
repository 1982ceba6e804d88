"""Silver's columns: typed, computed and harmonised from a bronze batch, with bronze's
lineage carried along."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from lakehouse.bronze.columns import (
    ARRIVAL_COLUMNS,
    CORRUPT_RECORD,
    LINEAGE_SCHEMA,
    struct_from_columns,
)
from lakehouse.config.harmonisation import HarmonisationSpec
from lakehouse.config.tables import SilverSpec
from lakehouse.silver import deletes
from lakehouse.silver.harmonise import Harmonisers

# Bronze lineage travels into silver; `_run_id` there names the silver run that wrote the row.
SILVER_LINEAGE = [f for f in LINEAGE_SCHEMA.fields if f.name != "_run_id"] + [
    StructField("_run_id", StringType(), False)
]


def silver_schema(spec: SilverSpec) -> StructType:
    return StructType(struct_from_columns(spec.columns).fields + SILVER_LINEAGE)


def conform(
    df: DataFrame,
    spec: SilverSpec,
    run_id: str,
    harmonisation: HarmonisationSpec | None = None,
) -> DataFrame:
    """Typed columns computed from their declared expression (default: same-named column),
    harmonised where the column asks for it.

    A value that does not fit its type becomes null rather than failing the batch; the raw
    value stays in bronze. A malformed line's raw text is carried along so it can be
    quarantined, unless the table holds personal data (then only its lineage is kept).
    """
    harmonisers = Harmonisers(harmonisation or HarmonisationSpec()).by_name()
    columns = []
    for name, column in spec.columns.items():
        value = F.expr(column.expr or f"`{name}`")
        if column.harmonise:
            value = harmonisers[column.harmonise](value)
        columns.append(value.try_cast(column.type).alias(name))
    lineage = [F.col(f.name) for f in SILVER_LINEAGE if f.name != "_run_id"]
    raw = []
    if CORRUPT_RECORD in df.columns:
        text = F.col(CORRUPT_RECORD)
        if spec.pii:  # the raw line holds personal data in clear; its lineage finds it in bronze
            text = F.when(text.isNotNull(), F.lit("<withheld: personal data>"))
        raw = [text.alias(CORRUPT_RECORD)]
    if deletes.DELETED in df.columns:
        raw.append(F.col(deletes.DELETED))
    return df.select(*columns, *lineage, F.lit(run_id).alias("_run_id"), *raw)


def sequence_columns(spec: SilverSpec) -> tuple[str, ...]:
    """Newest first by the declared sequence, then by arrival (file, then line)."""
    return (*spec.sequence_by, *ARRIVAL_COLUMNS)
