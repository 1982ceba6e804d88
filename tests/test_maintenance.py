"""Maintenance: OPTIMIZE with Z-order or clustering, VACUUM within the allowed retention,
statistics; and the YAML that declares it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lakehouse.config import ConfigError
from lakehouse.config.reading import parse
from lakehouse.config.tables import MaintenanceSpec
from lakehouse.ops import maintenance


def small_table(spark, path, appends=3):
    for i in range(appends):
        spark.range(i * 10, i * 10 + 10).selectExpr("id", "id % 3 AS shop").write.format(
            "delta"
        ).mode("append").save(path)


def parquet_files(path):
    return [p for p in Path(path).rglob("*.parquet") if "_delta_log" not in p.parts]


def test_zorder_then_vacuum_deletes_the_compacted_files(spark, tmp_path):
    path = str(tmp_path / "t")
    small_table(spark, path)
    assert maintenance.file_count(spark, path) >= 3
    spec = MaintenanceSpec(zorder_by=("shop",), vacuum_retain_hours=0, allow_short_retention=True)
    result = maintenance.maintain(spark, "t", path, spec)
    assert result.files_after == 1
    assert len(parquet_files(path)) == 1  # the replaced files are gone from storage
    assert result.files_deleted >= 3
    assert any(step.startswith("optimize z-ordered by shop") for step in result.done)
    assert "statistics (30 rows)" in result.done
    assert result.statistics["columns"]["shop"] == {
        "nulls": 0,
        "distinct": 3,
        "min": "0",
        "max": "2",
    }
    assert spark.read.format("delta").load(path).count() == 30


def test_short_retention_needs_to_be_asked_for(spark, tmp_path):
    path = str(tmp_path / "t")
    small_table(spark, path, appends=1)
    with pytest.raises(ValueError, match="below the safe default"):
        maintenance.vacuum(spark, path, 1)
    # The safe default keeps recently replaced files.
    maintenance.optimize(spark, path, MaintenanceSpec())
    assert maintenance.vacuum(spark, path, None) == 0


def test_clustering_is_declared_and_applied(spark, tmp_path):
    path = str(tmp_path / "t")
    small_table(spark, path)
    maintenance.maintain(spark, "t", path, MaintenanceSpec(cluster_by=("shop",)))
    assert maintenance.clustering_columns(spark, path) == ["shop"]
    assert maintenance.file_count(spark, path) == 1


def test_yaml_blocks(project):
    def block(data):
        return parse(MaintenanceSpec, data, "orders.yaml", "maintenance")

    own = block({"zorder_by": ["order_id"], "vacuum_retain_hours": 240})
    table = project.table("silver.orders")
    table = dataclasses.replace(table, spec=table.spec.model_copy(update={"maintenance": own}))
    assert maintenance.settings_for(project, table).zorder_by == ("order_id",)
    default = maintenance.settings_for(project, project.table("bronze.orders"))
    assert default == project.settings.operations.maintenance

    with pytest.raises(ConfigError, match=r"maintenance\.vacuum_retain_hours: 1 hours is below"):
        block({"vacuum_retain_hours": 1})
    assert block({"vacuum_retain_hours": 1, "allow_short_retention": True}).vacuum_retain_hours == 1
    with pytest.raises(ConfigError, match="not both"):
        block({"zorder_by": "a", "cluster_by": "a"})
