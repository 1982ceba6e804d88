"""The warehouse on a real S3 server (SeaweedFS, started by scripts/services.sh for this module):
the lock holds when runs race for it, and a day run on s3a:// equals the same day on disk."""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from lakehouse import pipeline
from lakehouse.config import ConfigError, load_project
from lakehouse.config.tables import MaintenanceSpec
from lakehouse.ops import erasure, maintenance, run_log
from lakehouse.ops.warehouse_lock import LockOwner, WarehouseLock
from lakehouse.serving.snapshot import GoldReader
from lakehouse.storage import delta_log, hadoop_fs, object_store
from tests.conftest import CONF, REPO
from tests.landing import run_ctx
from tests.services import started_services
from tests.test_crash import SELECTION, VARIES
from tests.test_pipeline_e2e import day_one


@pytest.fixture(scope="module")
def s3(spark):
    """One S3 server for the module, with a bucket of its own; the shared session reaches it."""
    with (
        started_services(("s3",), bucket=f"lake-{uuid.uuid4().hex[:8]}") as svc,
        pytest.MonkeyPatch.context() as env,
    ):
        for key, value in svc.s3_env().items():
            env.setenv(key, value)
        object_store.configure(spark, load_project(CONF).settings.storage.s3)
        yield svc


def s3_project(s3, monkeypatch, name: str):
    monkeypatch.setenv("LAKEHOUSE_ROOT", f"s3a://{s3.bucket}/{name}/warehouse")
    monkeypatch.setenv("LAKEHOUSE_LANDING", f"s3a://{s3.bucket}/{name}/landing")
    return load_project(CONF)


def race(locks: list[WarehouseLock]) -> list[bool]:
    """Each lock's try_acquire, all released at the same instant."""
    start = threading.Barrier(len(locks))
    won: list[bool] = [False] * len(locks)

    def attempt(i: int) -> None:
        start.wait()
        won[i] = locks[i].try_acquire()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(locks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return won


def test_racing_for_the_lock_on_s3_one_wins(spark, s3, monkeypatch):
    project = s3_project(s3, monkeypatch, "lock")
    path = f"{project.root}/_ops/lock"
    for round_ in range(3):
        locks = [
            WarehouseLock(path, LockOwner(f"r{round_}-{i}", "pipeline"), spark=spark)
            for i in range(2)
        ]
        won = race(locks)
        assert won.count(True) == 1, f"round {round_}: {won}"
        winner = locks[won.index(True)]
        assert winner.holder().token == winner.owner.token
        winner.release()
        assert winner.holder() is None

    # A lock left by a run on another host that stopped renewing it: taken over by one only.
    dead = LockOwner("dead", "pipeline", host="elsewhere", renewed_at=0.0)
    assert WarehouseLock(path, dead, spark=spark).try_acquire()
    locks = [WarehouseLock(path, LockOwner(f"t{i}", "pipeline"), spark=spark) for i in range(2)]
    won = race(locks)
    assert won.count(True) == 1, won
    winner = locks[won.index(True)]
    assert winner.taken_over.token == dead.token
    assert winner.holder().token == winner.owner.token
    winner.release()


def upload(spark, local: Path, target: str) -> None:
    fs, dest = hadoop_fs.file_system(spark, target)
    fs.copyFromLocalFile(False, True, hadoop_fs.hadoop_path(spark, f"file:{local}"), dest)


@pytest.mark.slow
def test_a_day_on_s3_equals_the_day_on_disk_then_maintenance_and_erasure_work_there(
    spark, s3, tmp_path, monkeypatch
):
    monkeypatch.setenv("LAKEHOUSE_PII_KEY", "s3-and-local")  # one key: the same hashes
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "local"))
    monkeypatch.setenv("LAKEHOUSE_LANDING", str(tmp_path / "landing"))
    local = load_project(CONF)
    day_one(local)
    remote = s3_project(s3, monkeypatch, "day")
    upload(spark, tmp_path / "landing", remote.landing)
    tables = pipeline.select(local, pipeline.Selection(tables=(SELECTION[1],), upstream=True))
    pipeline.run(spark, local, run_ctx("local-day"), tables=tables)

    # Two runs of the same day on S3 at once: one runs it, the other finds the lock taken.
    env = {**os.environ, "LAKEHOUSE_DRIVER_MEMORY": "1g"}
    env.pop("LAKEHOUSE_CONF", None)
    runs = [
        subprocess.Popen(
            [str(REPO / "spark-submit.sh"), "pipeline", *SELECTION],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=1200)[0] for p in runs]
    codes = sorted(p.returncode for p in runs)
    assert codes == [0, 4], "\n---\n".join(o[-3000:] for o in outputs)
    refused = outputs[[p.returncode for p in runs].index(4)]
    assert "warehouse is locked by pipeline run" in refused

    for table in tables:
        assert rows(spark, remote, table) == rows(spark, local, table), table.ref
    sources = spark.read.format("delta").load(remote.table_path(remote.table("bronze.customers")))
    assert {r[0].split("/")[0] for r in sources.select("_source_file").collect()} == {"s3a:"}
    # The run log's rows went through delta-rs to S3, the lock is gone, and names were given.
    latest = run_log.of(spark, remote).last_runs(5)
    assert [r["status"] for r in latest] == ["succeeded"]
    assert not hadoop_fs.exists(spark, f"{remote.root}/_ops/lock")
    # Great Expectations' Data Docs went to the warehouse too.
    docs = f"{remote.root}/_quality/gx/gx/uncommitted/data_docs/local_site/index.html"
    assert "silver_customers" in (delta_log.read_text(spark, docs) or "")

    # The serving layer reads gold from S3 without a JVM: the same rows Spark sees.
    reader = GoldReader(remote, ["dim_customer"])
    snapshot = reader.snapshot()
    try:
        served = snapshot.rows("SELECT count(*) AS n FROM dim_customer", {}, ["dim_customer"])
    finally:
        snapshot.close()
    gold = spark.read.format("delta").load(remote.table_path(remote.table("gold.dim_customer")))
    assert served == [{"n": gold.count()}] and gold.count() > 0
    gold_path = remote.table_path(remote.table("gold.dim_customer"))
    assert snapshot.versions["dim_customer"] == delta_log.latest_version(spark, gold_path)

    # Maintenance and erasure work there as on disk: OPTIMIZE, VACUUM and statistics; the
    # subject gone from every table, its landed file rewritten, and old files purged.
    silver = remote.table_path(remote.table("silver.customers"))
    done = maintenance.maintain(spark, "silver.customers", silver, MaintenanceSpec())
    assert done.statistics["rows"] == 2 and done.files_after >= 1
    report = erasure.erase(spark, remote, ["C1"], run_ctx("erase"), catch_up_first=False)
    assert report.landing_files["bronze.customers"] == 1
    landed = f"{remote.landing}/ecommerce/customers/customers_2026-03-01.csv"
    assert "ann@example.com" not in delta_log.read_text(spark, landed)
    for ref in ("bronze.customers", "silver.customers"):
        files = spark.read.parquet(remote.table_path(remote.table(ref)))  # every data file left
        assert files.where("customer_id = 'C1'").count() == 0, ref
        assert files.count() == 1, ref


def test_a_missing_credential_is_named(monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_S3_ACCESS_KEY", "only-half")
    monkeypatch.delenv("LAKEHOUSE_S3_SECRET_KEY", raising=False)
    monkeypatch.delenv("LAKEHOUSE_S3_SECRET_KEY_FILE", raising=False)
    with pytest.raises(Exception, match="LAKEHOUSE_S3_SECRET_KEY"):
        object_store.hadoop_settings(load_project(CONF).settings.storage.s3)


def rows(spark, project, table):
    """The table's rows without what differs by run (when, which run) and by store: a file's
    lineage is kept relative to its landing area, and its modification time (on S3, when it
    was uploaded) is left out."""
    df = spark.read.format("delta").load(project.table_path(table))
    if "_source_file" in df.columns:
        relative = F.substring_index("_source_file", "/landing/", -1)
        df = df.withColumn("_source_file", relative)
    varies = [*VARIES, "_source_modified_at"]
    return sorted(map(tuple, df.drop(*[c for c in varies if c in df.columns]).collect()), key=repr)


def test_one_setting_reaches_both_engines(tmp_path, monkeypatch):
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t\n")
    monkeypatch.setenv("LAKEHOUSE_S3_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("LAKEHOUSE_S3_PATH_STYLE", "true")
    monkeypatch.setenv("LAKEHOUSE_S3_ACCESS_KEY", "AKID")
    monkeypatch.setenv("LAKEHOUSE_S3_SECRET_KEY_FILE", str(secret))
    s3 = load_project(CONF).settings.storage.s3
    hadoop = object_store.hadoop_settings(s3)
    assert hadoop["fs.s3a.endpoint"] == "http://127.0.0.1:9"
    assert hadoop["fs.s3a.path.style.access"] == "true"
    assert hadoop["fs.s3a.connection.ssl.enabled"] == "false"
    assert (hadoop["fs.s3a.access.key"], hadoop["fs.s3a.secret.key"]) == ("AKID", "s3cr3t")
    uri, options = object_store.delta_rs_location("s3a://b/warehouse/gold/x", s3)
    assert uri == "s3a://b/warehouse/gold/x"
    assert options["AWS_ALLOW_HTTP"] == "true"
    assert options["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] == "false"
    assert (options["AWS_ACCESS_KEY_ID"], options["AWS_SECRET_ACCESS_KEY"]) == ("AKID", "s3cr3t")
    assert object_store.delta_rs_location("file:/tmp/w/x", s3) == ("/tmp/w/x", {})


def test_s3_secrets_are_named_not_written(conf_copy):
    text = (conf_copy / "lakehouse.yaml").read_text()
    text = text.replace(
        "secrets: {access_key: LAKEHOUSE_S3_ACCESS_KEY, secret_key: LAKEHOUSE_S3_SECRET_KEY}",
        "secrets: {access_key: LAKEHOUSE_S3_ACCESS_KEY, token: X}",
    )
    (conf_copy / "lakehouse.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"storage\.s3\.secrets\.token: must be one of"):
        load_project(conf_copy / "lakehouse.yaml")
