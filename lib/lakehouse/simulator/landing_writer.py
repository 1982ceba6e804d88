"""Write one landing file atomically and count what went into it.

Spark's file stream ignores names starting with '.' or '_', so a file is assembled under a
hidden name in its final folder and renamed when complete. Small days are collected to the
driver (one Spark job per file); large days are written by Spark in parallel and the part
files concatenated in partition order, which gives the same bytes.
"""

from __future__ import annotations

import os
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

META = ("_defect", "_detail", "_key", "_arrival", "_lag")


@dataclass
class Written:
    path: str
    rows: int
    bytes: int
    defects: dict[str, dict] = field(default_factory=dict)


class DefectTally:
    """Counts per defect kind (and per detail: the column, format or shape) with sorted keys."""

    def __init__(self, max_keys: int):
        self.max_keys = max_keys
        self.counts: dict[str, int] = defaultdict(int)
        self.details: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.keys: dict[str, list[str]] = defaultdict(list)
        self.rows = 0

    def add(self, defect: str | None, detail: str | None, count: int, keys: list[str]) -> None:
        self.rows += count
        if defect is None:
            return
        self.counts[defect] += count
        if detail is not None:
            self.details[defect][detail] += count
        self.keys[defect].extend(keys)

    def as_dict(self) -> dict[str, dict]:
        out = {}
        for defect in sorted(self.counts):
            keys = sorted(self.keys[defect])
            entry = {"count": self.counts[defect], "keys": keys[: self.max_keys]}
            if len(keys) > self.max_keys:
                entry["keys_truncated"] = True
            if self.details.get(defect):
                entry["by_detail"] = dict(sorted(self.details[defect].items()))
            out[defect] = entry
        return out


def _tally_on_spark(rendered: DataFrame, max_keys: int) -> DefectTally:
    keys = F.collect_list(F.when(F.col("_defect").isNotNull(), F.col("_key")))
    grouped = rendered.groupBy("_defect", "_detail").agg(
        F.count(F.lit(1)).alias("n"), F.slice(F.array_sort(keys), 1, max_keys).alias("keys")
    )
    tally = DefectTally(max_keys)
    for row in grouped.collect():
        tally.add(row["_defect"], row["_detail"], row["n"], list(row["keys"]))
    return tally


def _publish(tmp: Path, target: Path) -> int:
    os.replace(tmp, target)
    return target.stat().st_size


def write_lines(
    rows: list, target: Path, header: str | None, max_keys: int
) -> tuple[int, DefectTally]:
    """CSV or JSON lines collected on the driver: bytes written (0: nothing) and the tally."""
    tally = DefectTally(max_keys)
    for row in rows:
        tally.add(row["_defect"], row["_detail"], 1, [row["_key"]] if row["_defect"] else [])
    if not rows:
        return 0, tally
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.inprogress"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        if header is not None:
            f.write(header + "\n")
        for row in rows:
            f.write(row["_line"] + "\n")
    return _publish(tmp, target), tally


def write_text(
    rendered: DataFrame, target: Path, header: str | None, staging: Path, max_keys: int
) -> tuple[int, DefectTally]:
    """CSV or JSON lines written by Spark in parallel: bytes written and the tally."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.inprogress"
    tally = _tally_on_spark(rendered, max_keys)
    if tally.rows == 0:
        return 0, tally
    shutil.rmtree(staging, ignore_errors=True)
    rendered.select("_line").write.option("compression", "none").text(str(staging))
    parts = sorted(p for p in staging.iterdir() if p.name.startswith("part-"))
    with open(tmp, "wb") as out:
        if header is not None:
            out.write((header + "\n").encode("utf-8"))
        for part in parts:
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out, 16 * 1024 * 1024)
    shutil.rmtree(staging, ignore_errors=True)
    return _publish(tmp, target), tally


def write_parquet(rendered: DataFrame, target: Path, max_keys: int) -> tuple[int, DefectTally]:
    """Parquet through Arrow on the driver.

    Spark's Parquet writer lists a column's encodings in hash-set order, which differs
    between JVMs, so its files are not byte-stable; pyarrow's are.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = rendered.toArrow()
    tally = DefectTally(max_keys)
    if table.num_rows == 0:
        return 0, tally
    flagged = table.filter(pc.is_valid(table["_defect"])).select(["_defect", "_detail", "_key"])
    tally.rows = table.num_rows - flagged.num_rows
    for row in flagged.to_pylist():
        tally.add(row["_defect"], row["_detail"], 1, [row["_key"]])
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.inprogress"
    pq.write_table(table.drop_columns(list(META)), tmp, compression="snappy")
    return _publish(tmp, target), tally
