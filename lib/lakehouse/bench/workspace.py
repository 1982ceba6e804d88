"""The bench's warehouses and landing area: a project rooted elsewhere or with fewer checks,
a warehouse sharing another's bronze, and what a simulated day landed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from collections.abc import Iterable
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse import simulator as simulator_package
from lakehouse.config import Project
from lakehouse.simulator.simulator import MANIFEST_DIR


def at_root(project: Project, root: Path | str, landing: Path | str) -> Project:
    """The same tables and rules with the warehouse at ``root`` and files from ``landing``."""
    storage = project.settings.storage.model_copy(
        update={"root": str(root), "landing": str(landing)}
    )
    return dataclasses.replace(
        project, settings=project.settings.model_copy(update={"storage": storage})
    )


def without_expectations(project: Project) -> Project:
    return dataclasses.replace(project, suites={})


def without_gx(project: Project) -> Project:
    quality = project.settings.quality.model_copy(update={"great_expectations": False})
    return dataclasses.replace(
        project, settings=project.settings.model_copy(update={"quality": quality})
    )


def share_bronze(source_root: Path, target_root: Path) -> None:
    """A warehouse that reads another's bronze (and its hashing key) for a rebuild from
    scratch; its own silver, gold and checkpoints start empty."""
    if target_root.exists():
        shutil.rmtree(target_root)
    target_root.mkdir(parents=True)
    for name in ("bronze", "_secrets"):
        if (source_root / name).exists():
            (target_root / name).symlink_to(source_root / name, target_is_directory=True)


def simulator_digest(settings) -> str:
    """What the simulated bytes depend on besides seed and volumes: the simulator's code and
    its world, behaviour and defects, so a landing area from another version is not reused."""
    digest = hashlib.sha1()
    for source in sorted(Path(simulator_package.__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    for part in (settings.world, settings.behaviour, settings.defects):
        digest.update(repr(part).encode())
    return digest.hexdigest()[:16]


def scheduled_models(project: Project) -> tuple[str, ...]:
    """The gold models refreshed on a schedule (``refresh_every``): the trained marts."""
    return tuple(
        sorted(
            ref for ref, t in project.tables.items() if t.layer == "gold" and t.spec.refresh_every
        )
    )


def landed_files(folder: Path, days: Iterable[str]) -> list[str]:
    """The files of a source landed for ``days``: names carry the day; names starting with
    ``.`` or ``_`` are unfinished or not data, as Spark itself treats them."""
    wanted = set(days)
    if not folder.is_dir():
        return []
    return sorted(
        str(f)
        for f in folder.rglob("*")
        if f.is_file() and not f.name.startswith((".", "_")) and any(d in f.name for d in wanted)
    )


def read_manifests(landing: Path) -> dict[str, dict]:
    return {
        f.stem: json.loads(f.read_text()) for f in sorted((landing / MANIFEST_DIR).glob("*.json"))
    }


def landed_rows(manifests: dict[str, dict], days: Iterable[str]) -> int:
    return sum(s["rows"] for d in days for s in manifests[d]["sources"].values())


def bronze_row_count(spark: SparkSession, project: Project) -> int:
    return sum(
        spark.read.format("delta").load(project.table_path(t)).count()
        for t in project.tables.values()
        if t.layer == "bronze"
    )
