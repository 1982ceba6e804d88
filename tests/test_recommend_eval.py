"""The offline evaluation of the recommendations: its figures counted by hand, and the whole
evaluation (tuning on the validation week included) adding up on planted baskets."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from lakehouse.marts.recommend_eval import (
    K_LONG,
    Score,
    evaluate,
    format_scores,
    ideal_dcg,
    popular_baseline,
    score,
    split_last_week,
)

LINES = "order_id string, customer_id string, product_id string, status string, order_date date"
START = date(2026, 1, 5)


def _lines(spark, rows, status="delivered"):
    return spark.createDataFrame(
        [(o, c, p, status, START + timedelta(days=d)) for o, c, p, d in rows], LINES
    )


def test_evaluation_figures_add_up_by_hand(spark):
    lines = _lines(
        spark,
        [
            ("T1", "A", "P1", 0),
            ("T2", "B", "P2", 1),
            ("T3", "C", "P3", 2),
            ("H1", "A", "P2", 10),  # held out: A bought P2 and P3
            ("H1", "A", "P3", 10),
            ("H2", "B", "P1", 11),  # B bought P1
            ("H3", "Z", "P1", 11),  # Z has no history: not evaluated
        ],
    )
    train, held_out = split_last_week(lines, days=7)
    assert sorted(r.order_id for r in train.select("order_id").distinct().collect()) == [
        "T1",
        "T2",
        "T3",
    ]
    recommended = spark.createDataFrame(
        [("A", 1, "P9"), ("A", 2, "P3"), ("A", 7, "P2"), ("B", 1, "P3"), ("C", 1, "P1")],
        "customer_id string, rank int, product_id string",
    )
    got = score("hand", recommended, train, held_out, catalogue=3)
    # A and B bought in the held-out week (C did not): A's P3 at rank 2 is a hit@5, its P2
    # at rank 7 counts for recall and NDCG@10 only; B found nothing
    ndcg_a = (1 / math.log2(3) + 1 / math.log2(8)) / ideal_dcg(2)
    assert got == Score("hand", 2, 1, 1, 1.0, pytest.approx(ndcg_a), 3, 3)
    assert (got.hit_rate, got.precision, got.recall) == (0.5, 0.1, 0.5)
    assert got.ndcg == pytest.approx(ndcg_a / 2)
    assert got.coverage == 1.0  # P9, P3, P2 in the evaluated customers' lists; 3 sold
    assert K_LONG == 10


def test_the_baseline_offers_the_most_bought_products_not_owned(spark):
    train = _lines(
        spark,
        [("O1", "A", "P1", 0), ("O2", "B", "P1", 0), ("O3", "B", "P2", 1), ("O4", None, "P3", 1)],
    )
    got = {(r.customer_id, r.rank, r.product_id) for r in popular_baseline(train, 2).collect()}
    # P1 in two baskets, P2 and P3 in one each (P2 first by id); anonymous buyers get nothing
    assert got == {("A", 1, "P2"), ("A", 2, "P3"), ("B", 1, "P3")}


def test_cancelled_lines_are_neither_trained_on_nor_held_out(spark):
    lines = _lines(spark, [("O1", "A", "P1", 0), ("O2", "A", "P2", 9)]).unionByName(
        _lines(spark, [("O3", "A", "P3", 20)], status="cancelled")
    )
    train, held_out = split_last_week(lines, days=7)
    # the cancelled order on day 20 does not move the held-out week: it is days 3..9
    assert [r.order_id for r in train.collect()] == ["O1"]
    assert [r.order_id for r in held_out.collect()] == ["O2"]


@pytest.mark.slow
def test_the_whole_evaluation_adds_up_on_planted_baskets(spark):
    """Three weeks of customers who buy a phone and then its case: every method is scored on
    the same customers; the tuning tried every grid point on the validation week."""
    rows = []
    for c in range(60):
        day = c % 21
        rows += [(f"A{c}", f"C{c}", "PHONE", day), (f"B{c}", f"C{c}", "CASE", day + 2)]
        rows += [(f"D{c}", f"C{c}", f"X{c % 5}", day + 4), (f"E{c}", f"C{c}", f"X{c % 3}", 0)]
    lines = _lines(spark, rows)
    params = {"top_n": 5, "min_baskets": 2, "als": {"iterations": 3}}
    result = evaluate(lines, params, days=7, tuned=True)
    assert [s.method for s in result.scores] == [
        "most popular (baseline)",
        "association rules",
        "ALS",
        "blend (the mart)",
    ]
    customers = {s.customers for s in result.scores}
    assert len(customers) == 1 and customers.pop() > 0
    for s in result.scores:
        assert 0 <= s.hits <= s.customers
        assert s.hits <= s.relevant <= 5 * s.customers
        assert 0 <= s.recall_sum <= s.customers and 0 <= s.ndcg_sum <= s.customers + 1e-9
        assert 0 < s.covered <= s.catalogue
    assert len(result.tried) == 8 + 18  # every ALS setting, then every set of weights
    assert result.chosen["als"] in [t[0]["als"] for t in result.tried if "als" in t[0]]
    table = format_scores(result.scores)
    assert table.count("\n") == 1 + len(result.scores)
