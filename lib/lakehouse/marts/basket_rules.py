""" "Bought with X": association rules with one product on each side, mined from baskets.

A basket is an order, widened for a known customer by what the same customer bought in the
``window_days`` after it: a phone bought on Monday and its case on Thursday are one basket,
so the rule phone -> case holds whether the case came in the same order or days later.
"""

from __future__ import annotations

import math

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def baskets(sold: DataFrame, window_days: int = 0) -> DataFrame:
    """basket_id, items: each order's products with those of the same customer's orders of
    the ``window_days`` after it (anonymous till receipts stay as they are)."""
    orders = sold.groupBy("order_id", "customer_id", "order_date").agg(
        F.collect_set("product_id").alias("items")
    )
    if window_days <= 0:
        return orders.select(F.col("order_id").alias("basket_id"), "items")
    known = orders.where("customer_id IS NOT NULL")
    later = known.select(
        F.col("customer_id").alias("_c"),
        F.col("order_date").alias("_d"),
        F.col("items").alias("_i"),
    )
    widened = (
        known.join(
            later,
            (F.col("_c") == F.col("customer_id"))
            & (F.col("_d") > F.col("order_date"))
            & (F.col("_d") <= F.date_add("order_date", window_days)),
            "left",
        )
        .groupBy("order_id")
        .agg(F.first("items").alias("items"), F.flatten(F.collect_list("_i")).alias("_more"))
        .select(
            F.col("order_id").alias("basket_id"),
            F.array_distinct(F.concat("items", "_more")).alias("items"),
        )
    )
    anonymous = orders.where("customer_id IS NULL").select(
        F.col("order_id").alias("basket_id"), "items"
    )
    return widened.unionByName(anonymous)


def mine_rules(
    sold: DataFrame,
    min_support: float = 0.0,
    min_baskets: int = 1,
    min_confidence: float = 0.05,
    window_days: int = 0,
) -> DataFrame:
    """antecedent, product_id, confidence, lift: rules "who buys A also buys C" with one
    product on each side, whose pair is in at least ``min_baskets`` baskets and a
    ``min_support`` share of them (a share alone finds nothing in a young shop with a wide
    catalogue; a count alone makes nearly every pair of a long history frequent).

    The rules are FPGrowth's with one product on each side, counted directly: FPGrowth mines
    every frequent itemset of any length, and widened baskets at a low count made that blow
    up (20 days of the tiny world ran for over 20 minutes). Counting pairs costs at most
    k x (k - 1) rows for a basket of k frequent products."""
    found = baskets(sold, window_days).persist()
    try:
        total = found.count()
        need = max(min_baskets, math.ceil(min_support * total - 1e-9), 1)
        items = found.select("basket_id", F.explode("items").alias("item"))
        counts = items.groupBy("item").agg(F.count("*").alias("n")).where(F.col("n") >= need)
        frequent = items.join(counts.select("item"), "item")  # a pair's items are frequent
        pairs = (
            frequent.alias("a")
            .join(frequent.alias("c"), "basket_id")
            .where(F.col("a.item") != F.col("c.item"))
            .groupBy(F.col("a.item").alias("antecedent"), F.col("c.item").alias("product_id"))
            .agg(F.count("*").alias("n_pair"))
            .where(F.col("n_pair") >= need)
        )
        of = counts.select(F.col("item").alias("antecedent"), F.col("n").alias("n_a"))
        to = counts.select(F.col("item").alias("product_id"), F.col("n").alias("n_c"))
        confidence = F.col("n_pair") / F.col("n_a")
        rules = (
            pairs.join(of, "antecedent")
            .join(to, "product_id")
            .withColumn("confidence", confidence)
            .where(F.col("confidence") >= min_confidence)
            .select(
                "antecedent",
                "product_id",
                "confidence",
                (F.col("confidence") / (F.col("n_c") / F.lit(float(max(total, 1))))).alias("lift"),
            )
        )
        return rules.localCheckpoint()  # small; the baskets are not kept
    finally:
        found.unpersist()


def rule_candidates(
    sold: DataFrame, rules: DataFrame, as_of, recency_days: float, per_customer: int
) -> DataFrame:
    """customer_id, product_id, score, because, lift: the products that rules bring from what
    each customer bought, not bought yet. Score = the rule's confidence, fading with the days
    since the customer last bought its antecedent (a phone bought last week calls for a case
    more than one bought a year ago); ``because`` is that antecedent."""
    bought = (
        sold.where("customer_id IS NOT NULL")
        .groupBy("customer_id", "product_id")
        .agg(F.max("order_date").alias("_last"))
    )
    fade = F.exp(-F.datediff(F.lit(as_of), F.col("_last")) / F.lit(float(recency_days)))
    applied = (
        bought.withColumnRenamed("product_id", "antecedent")
        .join(F.broadcast(rules), "antecedent")
        .join(
            bought.select("customer_id", "product_id"), ["customer_id", "product_id"], "left_anti"
        )
        .withColumn("score", F.col("confidence") * fade)
    )
    best = Window.partitionBy("customer_id", "product_id").orderBy(
        F.desc("score"), F.desc("lift"), "antecedent"
    )
    ranked = Window.partitionBy("customer_id").orderBy(F.desc("score"), "product_id")
    return (
        applied.withColumn("_n", F.row_number().over(best))
        .where("_n = 1")
        .withColumn("_r", F.row_number().over(ranked))
        .where(F.col("_r") <= per_customer)
        .select("customer_id", "product_id", "score", F.col("antecedent").alias("because"), "lift")
    )
