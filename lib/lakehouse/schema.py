"""Spark schemas from the column declarations in YAML."""

from __future__ import annotations

from pyspark.sql.types import StructField, StructType, _parse_datatype_string

from lakehouse.config.model import ColumnSpec

# The column that keeps a line Spark could not parse, raw, from bronze to quarantine.
CORRUPT_RECORD = "_corrupt_record"


def struct_from_columns(columns: dict[str, ColumnSpec]) -> StructType:
    return StructType(
        [
            StructField(name, _parse_datatype_string(spec.type), True)
            for name, spec in columns.items()
        ]
    )
