"""The columns bronze adds to every source, and the Spark schema of declared columns.

They travel on: silver keeps the lineage and arrival order, quarantine keeps a malformed
line's raw text (``_corrupt_record``), and a value no declared column took stays in
``_rescued_data``.
"""

from __future__ import annotations

from pyspark.sql.types import (
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
    _parse_datatype_string,
)

from lakehouse.config.tables import ColumnSpec

# The column that keeps a line Spark could not parse, raw, from bronze to quarantine.
CORRUPT_RECORD = "_corrupt_record"
# Values of a landed file that no declared column takes (source.on_schema_change: rescue).
RESCUED_DATA = "_rescued_data"

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

# Columns bronze adds to every source; a landed column with one of these names is refused.
SYSTEM_COLUMNS = (CORRUPT_RECORD, RESCUED_DATA, *LINEAGE_SCHEMA.fieldNames())


def struct_from_columns(columns: dict[str, ColumnSpec]) -> StructType:
    return StructType(
        [
            StructField(name, _parse_datatype_string(spec.type), True)
            for name, spec in columns.items()
        ]
    )
