"""On the simulator's data, silver quarantines exactly the defects the simulator injected."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from lakehouse import pipeline
from tests.landing import run_ctx

pytestmark = pytest.mark.slow

# Injected defects that make a row unfit for silver, and which of them silver cannot see:
# a customer's last name is dropped (personal data) before any rule could check it.
INVALID = ("malformed", "null_required", "absurd_value")
UNCHECKED = {("customers", "null_required", "last_name")}


def injected(landing: Path) -> dict[str, Counter]:
    """Per source, how many rows of each invalid kind the manifests list."""
    totals: dict[str, Counter] = {}
    for file in sorted((landing / "_manifest").glob("*.json")):
        for source, info in json.loads(file.read_text())["sources"].items():
            for kind in INVALID:
                defect = info.get("defects", {}).get(kind)
                if not defect:
                    continue
                unchecked = sum(
                    n
                    for detail, n in defect.get("by_detail", {}).items()
                    if (source, kind, detail) in UNCHECKED
                )
                totals.setdefault(source, Counter())[kind] += defect["count"] - unchecked
    return totals


def test_quarantine_matches_manifest(spark, project):
    from lakehouse.simulator import Simulator, load_preset

    Simulator(spark, load_preset("tiny"), landing=project.landing, seed=11).simulate(days=2)
    pipeline.run(
        spark,
        project,
        run_ctx("dq"),
        pipeline.select(project, pipeline.Selection(layers=("bronze", "silver"))),
    )

    expected = injected(Path(project.landing))
    assert sum(sum(c.values()) for c in expected.values()) > 10
    for table in project.tables.values():
        if table.layer != "silver" or table.name not in expected:
            continue
        quarantine = spark.read.format("delta").load(project.quarantine_path(table)).collect()
        malformed = sum(1 for r in quarantine if "malformed" in r._rules)
        invalid = len(quarantine) - malformed
        want = expected[table.name]
        assert (table.name, malformed, invalid) == (
            table.name,
            want["malformed"],
            want["null_required"] + want["absurd_value"],
        )
