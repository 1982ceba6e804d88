"""Personal data: keyed hashing, masking, generalising, and no value in clear past bronze."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat

import pytest

from lakehouse import pipeline
from lakehouse.config.tables import PiiPolicy
from lakehouse.silver import pii
from lakehouse.silver.harmonise import Harmonisers
from tests.landing import run_ctx

KEY = pii.HashKey(b"test-key-not-a-secret")


def test_hash_is_hmac_sha256_stable_and_keyed(spark):
    df = spark.createDataFrame([("ann@example.com",), (None,)], "email string")
    hashed = [r.h for r in df.select(pii.hmac_column(KEY)("email").alias("h")).collect()]
    assert hashed == [hmac.new(KEY.value, b"ann@example.com", hashlib.sha256).hexdigest(), None]
    again = df.select(pii.hmac_column(pii.HashKey(KEY.value))("email").alias("h")).first().h
    other = df.select(pii.hmac_column(pii.HashKey(b"other"))("email").alias("h")).first().h
    assert again == hashed[0] != other


def test_key_stays_out_of_plans_and_reprs(spark, capsys):
    df = spark.createDataFrame([("ann@example.com",)], "email string")
    out = pii.protect(df, {"email": PiiPolicy(action="hash")}, KEY, lambda c: c)
    out.explain(extended=True)
    printed = capsys.readouterr().out
    assert "test-key-not-a-secret" not in printed and repr(KEY) == "HashKey(***)"
    assert KEY.value.hex() not in printed


def test_key_sources(tmp_path, monkeypatch):
    monkeypatch.delenv(pii.KEY_ENV, raising=False)
    monkeypatch.delenv(pii.KEY_FILE_ENV, raising=False)
    with pytest.raises(pii.MissingSecretError, match="profile 'cluster' needs"):
        pii.load_key("cluster", tmp_path / "k")
    local = pii.load_key("local", tmp_path / "secrets" / "pii.key")
    assert local == pii.load_key("local", tmp_path / "secrets" / "pii.key")
    assert stat.S_IMODE(os.stat(tmp_path / "secrets" / "pii.key").st_mode) == 0o600
    (tmp_path / "mounted").write_text("from-a-file\n")
    monkeypatch.setenv(pii.KEY_FILE_ENV, str(tmp_path / "mounted"))
    assert pii.load_key("cluster", tmp_path / "k").value == b"from-a-file"
    monkeypatch.setenv(pii.KEY_ENV, "from-env")
    assert pii.load_key("cluster", tmp_path / "k").value == b"from-env"


def test_mask_generalise_drop(spark, project):
    df = spark.createDataFrame(
        [("+49 170 1234567", "1980-05-17", "80331", "Ann"), ("12", "17.05.1980", " 10 115", None)],
        "phone string, birth string, postcode string, name string",
    )
    policies = {
        "phone": PiiPolicy(action="mask", keep_last=2),
        "birth": PiiPolicy(action="generalise", to="year"),
        "postcode": PiiPolicy(action="generalise", to="postcode_area"),
        "name": PiiPolicy(action="drop"),
    }
    out = pii.protect(df, policies, None, Harmonisers(project.harmonisation).timestamp)
    assert [tuple(r) for r in out.collect()] == [
        ("*************67", "1980", "80", None),
        ("12", "1980", "10", None),
    ]


@pytest.mark.slow
def test_no_personal_value_reaches_silver_or_gold(spark, project):
    from lakehouse.simulator import Simulator, load_preset

    Simulator(spark, load_preset("tiny"), landing=project.landing, seed=7).simulate(days=2)
    pipeline.run(spark, project, run_ctx("pii-scan"))

    customers = spark.read.format("delta").load(
        project.table_path(project.table("bronze.customers"))
    )
    personal = {
        v.strip()
        for r in customers.select("first_name", "last_name", "email", "phone", "street").collect()
        for v in r
        if v and len(v.strip()) >= 3
    }
    long_values = {v for v in personal if len(v) >= 8}  # searched inside other strings too
    assert len(personal) > 100

    hits = []
    for ref, table in project.tables.items():
        if table.layer == "bronze":
            continue
        paths = [project.table_path(table)]
        if table.layer == "silver":
            paths.append(project.quarantine_path(table))
        for path in paths:
            df = spark.read.format("delta").load(path)
            strings = [f.name for f in df.schema.fields if f.dataType.simpleString() == "string"]
            for row in df.select(*strings).collect() if strings else ():
                for column, value in zip(strings, row, strict=True):
                    if value and (
                        value.strip() in personal or any(p in value for p in long_values)
                    ):
                        hits.append((ref, path, column, value))
    assert hits == []
