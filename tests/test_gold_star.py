"""The star schema and marts: SCD2 history, recommendations, and three days of hand-made silver
rows refreshed day by day, checked against plain SQL over silver and against a full rebuild."""

from __future__ import annotations

from datetime import date, datetime

from chispa import assert_df_equality

from lakehouse import gold
from lakehouse.config.tables import Scd2Spec
from lakehouse.marts.recommendations import recommend

SCD2 = Scd2Spec(valid_from="valid_from", track=("city",), version_key="customer_sk")
BEGIN, END = datetime(1900, 1, 1), datetime(9999, 12, 31)


def ts(text):
    return datetime.fromisoformat(text)


def test_scd2_history_opens_a_version_only_when_a_tracked_column_changes(spark):
    versions = spark.createDataFrame(
        [
            ("C1", "Munich", "a", ts("2026-03-01 00:00:00"), 1),
            ("C1", "Munich", "b", ts("2026-03-02 00:00:00"), 1),  # type 1 change only
            ("C1", "Hamburg", "b", ts("2026-03-03 00:00:00"), 1),
            ("C2", "Berlin", "c", ts("2026-02-01 00:00:00"), 1),
        ],
        "customer_id string, city string, note string, valid_from timestamp, _seq int",
    )
    out = gold.scd2_history(versions, ("customer_id",), SCD2).drop("customer_sk")
    expected = spark.createDataFrame(
        [
            ("C1", "Munich", "b", BEGIN, ts("2026-03-03 00:00:00"), False),
            ("C1", "Hamburg", "b", ts("2026-03-03 00:00:00"), END, True),
            ("C2", "Berlin", "c", BEGIN, END, True),
        ],
        out.schema,
    )
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


def test_scd2_history_fed_back_day_by_day_equals_all_at_once(spark):
    schema = "customer_id string, city string, note string, valid_from timestamp, _seq int"
    rows = [
        ("C1", "Munich", "a", ts("2026-03-01 00:00:00"), 1),
        ("C1", "Munich", "b", ts("2026-03-02 00:00:00"), 1),
        ("C1", "Hamburg", "c", ts("2026-03-03 00:00:00"), 1),
    ]
    at_once = gold.scd2_history(spark.createDataFrame(rows, schema), ("customer_id",), SCD2)
    state = gold.scd2_history(spark.createDataFrame(rows[:1], schema), ("customer_id",), SCD2)
    for row in rows[1:]:
        previous = state.select("customer_id", "city", "note", "valid_from").selectExpr(
            "*", "0 AS _seq"
        )
        state = gold.scd2_history(
            previous.unionByName(spark.createDataFrame([row], schema)), ("customer_id",), SCD2
        )
    assert_df_equality(state, at_once, ignore_row_order=True)


def _sold(spark, lines):
    return spark.createDataFrame(
        [(*line, date(2026, 3, 1)) for line in lines],
        "order_id string, customer_id string, product_id string, status string, order_date date",
    )


def test_recommendations_rank_what_is_bought_together(spark):
    baskets = [("A", "B")] * 3 + [("A", "C")] + [("B", "D")]
    lines = [
        (f"O{i}", f"K{i}", item, "delivered") for i, basket in enumerate(baskets) for item in basket
    ] + [("O9", "NEW", "A", "delivered")]
    df = _sold(spark, lines)
    out = recommend(
        df, top_n=2, sources=["bought_with"], window_days=0, min_support=0.1, min_confidence=0.1
    )
    got = [
        (r.rank, r.product_id, round(r.score, 2), r.reason, r.because)
        for r in out.where("customer_id = 'NEW'").orderBy("rank").collect()
    ]
    # of the 5 baskets with A (the new customer's own included), 3 hold B and 1 holds C
    assert got == [(1, "B", 0.6, "bought_with", "A"), (2, "C", 0.2, "bought_with", "A")]


def test_fewer_baskets_than_a_rule_needs_recommend_popular_products_only(spark):
    lines = [("O1", "K1", "A", "delivered"), ("O1", "K1", "B", "delivered")]
    lines += [("O2", "K2", "A", "delivered")]
    df = _sold(spark, lines)
    # Two baskets, a rule must appear in three: no rule, and no invalid support (3/2) either.
    out = recommend(
        df, top_n=2, sources=["bought_with", "popular"], min_support=0.01, min_baskets=3
    )
    assert out.where("lift IS NOT NULL").count() == 0
    assert {r.reason for r in out.collect()} == {"popular"}
