"""Offline evaluation of the recommendations: hold out each customer's last week of baskets,
train on the rest, and measure hit rate and precision@k against a most-popular baseline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.marts.recommendations import (
    most_popular_unowned,
    owned_products,
    recommend,
    sold_lines,
)


@dataclass(frozen=True)
class Score:
    method: str
    customers: int  # customers evaluated: a history to train on and a held-out basket
    hits: int  # customers with at least one recommended product in their held-out baskets
    relevant: int  # recommended products found in the held-out baskets, over all customers
    k: int

    @property
    def hit_rate(self) -> float:
        return self.hits / self.customers if self.customers else 0.0

    @property
    def precision(self) -> float:
        return self.relevant / (self.k * self.customers) if self.customers else 0.0


def split_last_week(lines: DataFrame, days: int = 7) -> tuple[DataFrame, DataFrame]:
    """(train, held_out) lines: a known customer's orders within ``days`` of their last order
    date are held out whole (baskets are not split); everything else, anonymous till sales
    included, is for training."""
    sold = sold_lines(lines)
    last = Window.partitionBy("customer_id")
    marked = sold.withColumn(
        "_held_out",
        F.col("customer_id").isNotNull()
        & (F.col("order_date") > F.date_sub(F.max("order_date").over(last), days)),
    )
    held_orders = marked.where("_held_out").select("order_id").distinct()
    held_out = marked.where("_held_out").drop("_held_out")
    train = sold.join(held_orders, "order_id", "left_anti")
    return train, held_out


def score(method: str, recommended: DataFrame, train: DataFrame, held_out: DataFrame, k: int):
    """Hit rate and precision@k of ``recommended`` (customer_id, rank, product_id) over the
    customers who bought in both train and held-out; missing places count as misses."""
    evaluated = (
        held_out.select("customer_id")
        .distinct()
        .join(
            train.where("customer_id IS NOT NULL").select("customer_id").distinct(), "customer_id"
        )
    )
    truth = held_out.select("customer_id", "product_id").distinct()
    found = (
        recommended.where(F.col("rank") <= k)
        .select("customer_id", "product_id")
        .distinct()
        .join(evaluated, "customer_id")
        .join(truth, ["customer_id", "product_id"])
        .groupBy("customer_id")
        .agg(F.count("*").alias("relevant"))
    )
    totals = found.agg(F.count("*").alias("hits"), F.sum("relevant").alias("relevant")).first()
    return Score(
        method=method,
        customers=evaluated.count(),
        hits=totals["hits"] or 0,
        relevant=totals["relevant"] or 0,
        k=k,
    )


def popular_baseline(train: DataFrame, k: int) -> DataFrame:
    """customer_id, rank, product_id: the k most bought products each customer has not."""
    sold = sold_lines(train)
    ranked = most_popular_unowned(sold, owned_products(sold), k)
    return ranked.select("customer_id", F.col("prio").alias("rank"), "product_id")


def evaluate(
    lines: DataFrame, params: dict[str, Any], days: int = 7, k: int = 5
) -> tuple[list[Score], int]:
    """Scores of the mart's recommender (rules alone, rules topped up with popular products)
    and of the baseline, trained on ``lines`` less each customer's last ``days``; and the
    number of training baskets."""
    train, held_out = split_last_week(lines, days)
    train, held_out = train.cache(), held_out.cache()
    settings = {**params, "top_n": k}
    methods: dict[str, Callable[[], DataFrame]] = {
        "FPGrowth rules": lambda: recommend(train, **{**settings, "fill_popular": False}),
        "rules + popular (the mart)": lambda: recommend(
            train, **{**settings, "fill_popular": True}
        ),
        "most popular (baseline)": lambda: popular_baseline(train, k),
    }
    try:
        scores = [score(name, make(), train, held_out, k) for name, make in methods.items()]
        return scores, train.select("order_id").distinct().count()
    finally:
        train.unpersist()
        held_out.unpersist()


def format_scores(scores: list[Score]) -> str:
    """A Markdown table of the scores."""
    k = scores[0].k if scores else 5
    rows = [
        f"| method | customers | hit rate@{k} | precision@{k} |",
        "|---|---:|---:|---:|",
    ]
    rows += [
        f"| {s.method} | {s.customers} | {s.hit_rate:.4f} | {s.precision:.4f} |" for s in scores
    ]
    return "\n".join(rows)
