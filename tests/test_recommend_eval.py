"""The offline evaluation of the recommendations, on baskets small enough to check by hand."""

from __future__ import annotations

from datetime import date

import pytest

from lakehouse.marts.recommend_eval import Score, evaluate, popular_baseline, score, split_last_week
from lakehouse.marts.recommendations import recommend

LINES = "order_id string, customer_id string, product_id string, status string, order_date date"


def _lines(spark, rows):
    return spark.createDataFrame(
        [(o, c, p, s, date.fromisoformat(d)) for o, c, p, s, d in rows], LINES
    )


@pytest.fixture
def lines(spark):
    return _lines(
        spark,
        [
            # A: one basket a week before the last, the last basket held out
            ("A1", "A", "P1", "delivered", "2026-03-01"),
            ("A1", "A", "P2", "delivered", "2026-03-01"),
            ("A2", "A", "P3", "delivered", "2026-03-10"),
            ("A2", "A", "P4", "delivered", "2026-03-10"),
            # B: every basket within the last week: nothing to train on, not evaluated
            ("B1", "B", "P1", "delivered", "2026-03-09"),
            ("B2", "B", "P2", "delivered", "2026-03-10"),
            # C: the cancelled order does not count, so its last week ends on 03-01
            ("C1", "C", "P5", "delivered", "2026-03-01"),
            ("C2", "C", "P1", "cancelled", "2026-03-20"),
            # an anonymous till sale: training only
            ("X1", None, "P3", "delivered", "2026-03-10"),
        ],
    )


def test_last_week_of_each_customer_is_held_out_whole(lines):
    train, held_out = split_last_week(lines, days=7)
    assert sorted({r.order_id for r in train.collect()}) == ["A1", "X1"]
    assert sorted({r.order_id for r in held_out.collect()}) == ["A2", "B1", "B2", "C1"]


def test_hit_rate_and_precision_count_only_customers_with_a_history(spark, lines):
    train, held_out = split_last_week(lines, days=7)
    recommended = spark.createDataFrame(
        [("A", 1, "P3"), ("A", 2, "P9"), ("A", 3, "P4"), ("B", 1, "P1")],
        "customer_id string, rank int, product_id string",
    )
    # A alone is evaluated; at k=2 P3 is found, P4 (rank 3) is not counted; B is ignored
    got = score("hand", recommended, train, held_out, k=2)
    assert got == Score("hand", customers=1, hits=1, relevant=1, k=2)
    assert (got.hit_rate, got.precision) == (1.0, 0.5)
    assert score("k3", recommended, train, held_out, k=3).relevant == 2


def test_baseline_and_recommender_on_hand_made_baskets(lines):
    train, _ = split_last_week(lines, days=7)
    # popularity in training: P1, P2, P3 one basket each; A owns P1 and P2
    baseline = {(r.customer_id, r.rank, r.product_id) for r in popular_baseline(train, 2).collect()}
    assert baseline == {("A", 1, "P3")}
    scores, baskets = evaluate(lines, {"min_baskets": 1, "min_confidence": 0.1}, days=7, k=2)
    assert baskets == 2
    # the only rules (P1 <-> P2) recommend what A owns; the top-up brings P3, as the baseline
    assert [(s.method, s.customers, s.hits, s.relevant) for s in scores] == [
        ("FPGrowth rules", 1, 0, 0),
        ("rules + popular (the mart)", 1, 1, 1),
        ("most popular (baseline)", 1, 1, 1),
    ]


def test_popular_top_up_fills_the_places_rules_leave(spark):
    rows = [(f"O{i}", f"K{i}", p, "delivered", "2026-03-01") for i, p in enumerate("AABBBC")]
    rows += [
        ("O9", "K9", "A", "delivered", "2026-03-01"),
        ("O9", "K9", "B", "delivered", "2026-03-01"),
    ]
    df = _lines(spark, rows)
    bare = recommend(df, top_n=2, min_baskets=1, min_confidence=0.1)
    filled = recommend(df, top_n=2, min_baskets=1, min_confidence=0.1, fill_popular=True)
    k0 = [
        (r.rank, r.product_id, r.lift)
        for r in filled.where("customer_id = 'K0'").orderBy("rank").collect()
    ]
    # K0 owns A: the rule A -> B comes first (lift set), then the most popular left, C
    assert [(rank, product) for rank, product, _ in k0] == [(1, "B"), (2, "C")]
    assert k0[0][2] is not None and k0[1][2] is None
    assert bare.where("customer_id = 'K5'").count() == 0  # C alone: no rule applies
    assert filled.where("customer_id = 'K5'").count() == 2
