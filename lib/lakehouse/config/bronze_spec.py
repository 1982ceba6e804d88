"""A bronze table file: the source it lands, as it arrived (README, docs/sources.md)."""

from __future__ import annotations

import warnings
from typing import Literal

from pydantic import Field, model_validator

from lakehouse.config.connectors import JdbcSource, KafkaSource
from lakehouse.config.table_blocks import ColumnSpec, ErasureSpec, MaintenanceSpec
from lakehouse.config.yaml_model import ConfigModel, Names, Setting, Text, problem

with warnings.catch_warnings():
    # `schema` is the word of the YAML; it hides pydantic's deprecated BaseModel.schema().
    warnings.filterwarnings("ignore", message='Field name "schema"', category=UserWarning)

    class SourceSpec(ConfigModel):
        """Files an operational system drops into the landing area, or a Kafka topic, or a
        database table (docs/sources.md)."""

        format: Literal["csv", "json", "parquet", "kafka", "jdbc"]
        schema: dict[str, ColumnSpec] = Field(description="column: Spark SQL type, in file order")
        path: Text = Field("", description="files: the folder under the landing root, or a URI")
        kafka: KafkaSource | None = None
        jdbc: JdbcSource | None = None
        options: dict[str, Setting] = Field({}, description="Spark reader options")
        on_schema_change: Literal["rescue", "evolve", "fail"] = Field(
            "rescue",
            description="a file that departs from `schema`: `rescue` keeps unexpected values "
            "in _rescued_data, `evolve` adds new columns to the table, `fail` stops the run",
        )

        @model_validator(mode="after")
        def _what_the_format_needs(self) -> SourceSpec:
            if not self.schema:
                raise problem("schema", "declare at least one column")
            for kind in ("kafka", "jdbc"):
                if (self.format == kind) != (getattr(self, kind) is not None):
                    raise problem(kind, f"needed with, and only with, format {kind}")
            if self.format in ("csv", "json", "parquet") and not self.path:
                raise problem("path", "a file source needs the folder it lands in")
            return self


class BronzeSpec(ConfigModel):
    """conf/tables/bronze/<name>.yaml"""

    source: SourceSpec
    description: Text = ""
    partition_by: Names = ()
    table_properties: dict[str, Setting] = Field(
        {},
        description="Delta table properties, e.g. delta.dataSkippingStatsColumns to keep "
        "personal values out of the statistics in Delta's log",
    )
    erasure: ErasureSpec | None = None
    maintenance: MaintenanceSpec | None = None

    @property
    def upstream(self) -> tuple[str, ...]:
        return ()
