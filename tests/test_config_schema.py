"""The JSON Schemas in docs/schema/ are the models' own, and the files we ship point to them
and pass them, so that an editor checks a file as it is typed and never flags a good one."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator

from lakehouse.config.json_schema import CONFIG_FILES, stale
from tests.conftest import REPO

SCHEMAS = REPO / "docs" / "schema"
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")
# Reference data the simulator reads as it is: no model, no schema.
UNTYPED = {REPO / "conf" / "simulator" / "world.yaml"}
YAML_FILES = sorted(
    p
    for p in [*REPO.glob("conf/**/*.yaml"), *REPO.glob("expectations/**/*.yaml")]
    if p not in UNTYPED
)


def expected_schema(path: Path) -> str:
    rel = path.relative_to(REPO)
    named = {
        "conf/lakehouse.yaml": "lakehouse",
        "conf/harmonisation.yaml": "harmonisation",
        "conf/simulator/presets.yaml": "simulator_presets",
        "conf/simulator/defects.yaml": "simulator_defects",
        "conf/simulator/behaviour.yaml": "simulator_behaviour",
    }
    if rel.parts[0] == "expectations":
        return "expectations"
    return named.get(rel.as_posix(), path.parent.name)  # tables: their layer's folder


def test_committed_schemas_are_the_models_own():
    old = stale(SCHEMAS, CONFIG_FILES)
    assert not old, f"run ./spark-submit.sh schema: {[p.name for p in old]} out of date"


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_each_file_names_its_schema_and_passes_it(path):
    modeline = MODELINE.match(path.read_text(encoding="utf-8").split("\n", 1)[0])
    assert modeline, f"{path}: first line should be '# yaml-language-server: $schema=...'"
    schema_file = (path.parent / modeline[1]).resolve()
    assert schema_file == SCHEMAS / f"{expected_schema(path)}.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in Draft7Validator(schema).iter_errors(yaml.safe_load(path.read_text()))
    ]
    assert not errors, errors


def test_the_schema_refuses_what_the_models_refuse():
    bronze = Draft7Validator(json.loads((SCHEMAS / "bronze.json").read_text()))
    good = {"source": {"format": "csv", "path": "x", "schema": {"id": "string"}}}
    assert bronze.is_valid(good)
    assert not bronze.is_valid({**good, "sources": {}})  # unknown key
    assert not bronze.is_valid({"source": {**good["source"], "format": "xlsx"}})
    suite = Draft7Validator(json.loads((SCHEMAS / "expectations.json").read_text()))
    entry = {"type": "expect_column_values_to_be_between", "kwargs": {"column": "q"}}
    assert suite.is_valid({"name": "s", "expectations": [entry]})
    assert not suite.is_valid({"name": "s", "expectations": [{**entry, "kwargs": {"min": 1}}]})
    lakehouse = Draft7Validator(json.loads((SCHEMAS / "lakehouse.json").read_text()))
    settings = yaml.safe_load((REPO / "conf" / "lakehouse.yaml").read_text())
    settings["quality"]["data_docs_index_runs"] = 0
    assert not lakehouse.is_valid(settings)


def test_the_schema_job_rewrites_and_checks_without_spark(tmp_path):
    def job(*args):
        return subprocess.run(
            [sys.executable, str(REPO / "jobs" / "schema.py"), "--out", str(tmp_path), *args],
            capture_output=True,
            text=True,
            check=False,
        )

    assert job("--check").returncode == 1  # nothing there yet
    assert job().returncode == 0
    assert job("--check").returncode == 0
    (tmp_path / "gold.json").write_text("{}\n")
    checked = job("--check")
    assert checked.returncode == 1 and "gold.json" in checked.stdout
    imports = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, lakehouse.config.json_schema;"
            "print(sorted(m for m in ('pyspark', 'py4j') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert imports.stdout.strip() == "[]"  # cheap: no Spark to start, not even imported
