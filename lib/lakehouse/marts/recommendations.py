"""Product recommendations from what customers bought together (Spark ML FPGrowth)."""

from __future__ import annotations

from pyspark.ml.fpm import FPGrowth
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

SCHEMA = "customer_id string, rank int, product_id string, score double, lift double"


def recommend(
    lines: DataFrame,
    top_n: int = 5,
    min_support: float = 0.01,
    min_confidence: float = 0.05,
) -> DataFrame:
    """Top ``top_n`` products per customer that the customer has not bought yet.

    ``lines`` has one row per sold line (order_id, customer_id, product_id, status). Baskets
    are orders; FPGrowth mines the rules "who buys A (and B) also buys C". A rule counts for a
    customer once they have bought its whole antecedent; a product's score is the best
    confidence among those rules, ties broken by lift, then product id, so the ranking is
    stable from run to run.
    """
    sold = lines.where("status <> 'cancelled' AND product_id IS NOT NULL")
    baskets = sold.groupBy("order_id").agg(F.collect_set("product_id").alias("items"))
    if baskets.isEmpty():
        return lines.sparkSession.createDataFrame([], SCHEMA)
    model = FPGrowth(itemsCol="items", minSupport=min_support, minConfidence=min_confidence).fit(
        baskets
    )
    rules = model.associationRules.select(
        "antecedent",
        F.col("consequent")[0].alias("product_id"),
        "confidence",
        "lift",
    )
    owned = (
        sold.where("customer_id IS NOT NULL")
        .groupBy("customer_id")
        .agg(F.collect_set("product_id").alias("owned"))
    )
    # Each rule is met through one of its items (the first), then checked whole.
    applicable = (
        owned.select("customer_id", "owned", F.explode("owned").alias("_item"))
        .join(rules, F.col("_item") == F.col("antecedent")[0])
        .where(F.size(F.array_except("antecedent", "owned")) == 0)
        .where(~F.array_contains("owned", F.col("product_id")))
    )
    best = applicable.groupBy("customer_id", "product_id").agg(
        F.max(F.struct("confidence", "lift")).alias("best")
    )
    ranking = Window.partitionBy("customer_id").orderBy(
        F.col("best.confidence").desc(), F.col("best.lift").desc(), "product_id"
    )
    return (
        best.withColumn("rank", F.row_number().over(ranking))
        .where(F.col("rank") <= top_n)
        .select(
            "customer_id",
            "rank",
            "product_id",
            F.col("best.confidence").alias("score"),
            F.col("best.lift").alias("lift"),
        )
    )
