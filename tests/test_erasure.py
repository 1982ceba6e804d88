"""Erasure: three customers through bronze, silver and gold, one of them forgotten; afterwards no
file under the warehouse holds any of her values, the others are untouched, and the pipeline
carries on without taking any file twice."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lakehouse import pipeline
from lakehouse.config.tables import ErasureSpec
from lakehouse.context import RunContext
from lakehouse.ops import erasure
from tests.landing import csv, drop, run_ctx

CUSTOMERS = "customer_id,first_name,last_name,email,phone,street,postcode,city,country,birth_date,signup_at,updated_at"
ORDERS = (
    "order_id,customer_id,shop_id,channel,order_ts,status,shipping_date,delivery_date,updated_at"
)

FORGOTTEN = {
    "id": "CUST-ANNE-0001",
    "first_name": "Annegret",
    "last_name": "Zwirnfeld",
    "email": "annegret.zwirnfeld@example.org",
    "phone": "+49 151 7300001",
    "street": "Lindenallee 17",
}
KEPT = ("CUST-BERT-0002", "CUST-CORA-0003")

# A customer, her orders, and a gold model over customers: every layer, small enough for two
# shared cores.
TABLES = (
    "bronze.customers",
    "bronze.orders",
    "silver.customers",
    "silver.orders",
    "gold.dim_customer",
)


def small(project):
    return dataclasses.replace(project, tables={r: project.table(r) for r in TABLES})


def land_day_one(project):
    f = FORGOTTEN
    drop(
        project,
        "bronze.customers",
        "customers_2026-03-01.csv",
        csv(
            CUSTOMERS,
            f"{f['id']},{f['first_name']},{f['last_name']},{f['email']},{f['phone']},{f['street']},80331,München,DE,1980-05-01,2026-01-01T00:00:00Z,2026-03-01T00:00:00Z",
            "CUST-BERT-0002,Bertram,Quellmann,bertram.quellmann@example.org,+49 151 7300002,Birkenweg 2,10115,Berlin,DE,1990-05-01,2026-02-01T00:00:00Z,2026-03-01T00:00:00Z",
            "CUST-CORA-0003,Cordula,Ebersheim,cordula.ebersheim@example.org,+49 151 7300003,Eichenring 3,20095,Hamburg,DE,1985-05-01,2026-02-01T00:00:00Z,2026-03-01T00:00:00Z",
            # A broken line: kept in bronze only as raw text, and it names her.
            f'{f["id"]},"{f["first_name"]},{f["email"]}',
        ),
    )
    drop(
        project,
        "bronze.orders",
        "orders_2026-03-01.csv",
        csv(
            ORDERS,
            f"O-1001,{f['id']},S0,web,2026-03-01T10:00:00Z,placed,,,2026-03-01T10:00:00Z",
            f"O-1001,{f['id']},S0,web,2026-03-01T10:00:00Z,paid,,,2026-03-01T11:00:00Z",
            "O-1002,CUST-BERT-0002,S0,web,2026-03-01T11:00:00Z,placed,,,2026-03-01T11:00:00Z",
            "O-1003,CUST-CORA-0003,S0,web,2026-03-01T12:00:00Z,placed,,,2026-03-01T12:00:00Z",
            f'O-1004,{f["id"]},S0,web,"2026-03-01T12:00:00Z,placed',
        ),
    )


def read(spark, project, ref):
    return spark.read.format("delta").load(project.table_path(project.table(ref)))


def kept_rows(spark, project) -> dict[str, set[tuple]]:
    """Every table's rows that do not belong to the forgotten customer, as comparable tuples."""
    out = {}
    for ref, table in project.tables.items():
        df = read(spark, project, ref)
        spec = table.spec.erasure
        if spec is not None:
            df = erasure.without_subjects(df, erasure.subject_ids(spark, [FORGOTTEN["id"]]), spec)
        out[ref] = {tuple(map(repr, r)) for r in df.collect()}
    return out


def needles() -> dict[str, bytes]:
    return {k: v.encode() for k, v in FORGOTTEN.items()}


def findings(root: Path) -> list[str]:
    """Every file under root (data, logs, checksums, checkpoints, landing) that holds one of
    her values, as raw bytes or, in Parquet (compressed, dictionary-encoded), as a value."""
    found = []
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        data = file.read_bytes()
        hits = {k for k, v in needles().items() if v in data}
        if file.suffix == ".parquet" and not file.name.startswith("."):
            text = repr(pq.read_table(file).to_pylist())
            hits |= {k for k, v in FORGOTTEN.items() if v in text}
        found += [f"{file.relative_to(root)}: {k}" for k in sorted(hits)]
    return found


@pytest.mark.slow
def test_erase_one_customer_everywhere(spark, project):
    project = small(project)
    root = Path(project.root)
    land_day_one(project)
    pipeline.run(spark, project, run_ctx("day-1"))

    assert findings(root), "the scan must see her before the erasure"
    assert read(spark, project, "bronze.customers").count() == 4
    before = kept_rows(spark, project)
    bronze_versions = {
        r: read(spark, project, r).count() for r in TABLES if r.startswith("bronze.")
    }

    report = erasure.erase(spark, project, [FORGOTTEN["id"]], run_ctx("erase-1"))

    assert report.rows_removed["bronze.customers"] == 2  # her row and the broken line
    assert report.rows_removed["bronze.orders"] == 3  # two versions of O-1001, broken O-1004
    assert report.rows_removed["silver.customers"] == 1
    assert report.rows_removed["gold.dim_customer"] >= 1
    assert report.landing_files == {"bronze.customers": 1, "bronze.orders": 1}
    assert findings(root) == []
    assert kept_rows(spark, project) == before
    assert {r.customer_id for r in read(spark, project, "silver.customers").collect()} == set(KEPT)

    # The pipeline carries on: a new day is taken, nothing already landed is taken again.
    drop(
        project,
        "bronze.orders",
        "orders_2026-03-02.csv",
        csv(
            ORDERS, "O-1002,CUST-BERT-0002,S0,web,2026-03-01T11:00:00Z,paid,,,2026-03-02T09:00:00Z"
        ),
    )
    pipeline.run(spark, project, run_ctx("day-2"))
    after = {r: read(spark, project, r).count() for r in bronze_versions}
    assert after == {
        **{
            r: n - report.rows_removed[r] if r in report.rows_removed else n
            for r, n in bronze_versions.items()
        },
        "bronze.orders": bronze_versions["bronze.orders"] - 3 + 1,
    }
    orders = {r.order_id: r.status for r in read(spark, project, "silver.orders").collect()}
    assert orders == {"O-1002": "paid", "O-1003": "placed"}
    assert findings(root) == []


def test_raw_text_matches_whole_tokens_only(spark):
    spec = ErasureSpec(column="customer_id")
    df = spark.createDataFrame(
        [
            ("C1", None),
            ("C10", None),
            (None, 'C1,"broken'),
            (None, 'C10,"broken'),
            (None, "x-C1"),
        ],
        "customer_id string, _corrupt_record string",
    )
    kept = erasure.without_subjects(df, erasure.subject_ids(spark, ["C1"]), spec)
    assert sorted(map(tuple, kept.collect()), key=repr) == sorted(
        [("C10", None), (None, 'C10,"broken'), (None, "x-C1")], key=repr
    )


def test_hashed_keys_match_by_expression(spark):
    spec = ErasureSpec(column="customer_sk", expr="xxhash64(subject_id)")
    df = spark.sql("SELECT xxhash64('C1') AS customer_sk UNION ALL SELECT xxhash64('C2')")
    kept = erasure.without_subjects(df, erasure.subject_ids(spark, ["C1"]), spec)
    assert [r.customer_sk for r in kept.collect()] == [
        spark.sql("SELECT xxhash64('C2') AS k").first().k
    ]


def test_landing_text_loses_the_subjects_lines_only():
    text = 'customer_id,first_name\nC1,Ann\nC10,Bob\nC1,"broken\nC2,mentions C1 in a name\n'
    assert erasure.scrub_text(text, "csv", "customer_id", ["C1"], {}) == (
        "customer_id,first_name\nC10,Bob\nC2,mentions C1 in a name\n"
    )
    lines = '{"user_id": "C1", "x": 1}\n{"user_id": "C2"}\n{"user_id": "C1", broken\n'
    assert erasure.scrub_text(lines, "json", "user_id", ["C1"], {}) == '{"user_id": "C2"}\n'


def test_catch_up_refreshes_scheduled_models_too():
    ctx = erasure.catch_up_context(RunContext("erase-1", "cluster", days=(date(2026, 3, 1),)))
    # Scheduled models too, every landed day, and the erasure's own profile.
    assert ctx.refresh_now and ctx.days == () and ctx.profile == "cluster"
    assert ctx.run_id == "erase-1-catch-up"


def test_ids_from_a_file_skip_blanks_and_comments():
    assert erasure.read_ids(["C1\n", "\n", "# request 42\n", " C2  # twice\n"]) == ["C1", "C2"]
