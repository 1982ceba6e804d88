""" "Customers like you": collaborative filtering with Spark ML's ALS on implicit feedback.

Each (customer, product) weighs the number of days the customer bought it; ALS factors that
matrix (Hu, Koren and Volinsky's confidence model: ``alpha`` scales how much a repeated
purchase counts), so a customer gets the products bought by customers whose baskets look
like theirs, including tastes no single rule states.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.ml.feature import StringIndexer
from pyspark.ml.recommendation import ALS
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

# Products a customer owns that recommendForAllUsers must see past to find new ones; a
# customer who owns more gets fewer ALS candidates (the other sources fill in).
OWNED_HEADROOM = 40


@dataclass(frozen=True)
class AlsParams:
    rank: int = 16
    reg: float = 0.1
    alpha: float = 20.0
    iterations: int = 10
    seed: int = 42


def interactions(sold: DataFrame) -> DataFrame:
    """customer_id, product_id, days: how many days each known customer bought each product."""
    return (
        sold.where("customer_id IS NOT NULL")
        .groupBy("customer_id", "product_id")
        .agg(F.countDistinct("order_date").alias("days"))
    )


def als_candidates(sold: DataFrame, params: AlsParams, per_customer: int) -> DataFrame:
    """customer_id, product_id, score: each customer's ``per_customer`` best ALS products not
    bought yet, score = the prediction over the customer's best (1 for the first)."""
    seen = interactions(sold).persist()
    spark = sold.sparkSession
    try:
        if seen.isEmpty():
            return spark.createDataFrame([], "customer_id string, product_id string, score double")
        # Ids and ratings in one canonical order: the factors then do not depend on how the
        # input's files happen to be laid out (float sums in another order differ).
        users = StringIndexer(inputCol="customer_id", outputCol="u", stringOrderType="alphabetAsc")
        items = StringIndexer(inputCol="product_id", outputCol="i", stringOrderType="alphabetAsc")
        users, items = users.fit(seen), items.fit(seen)
        rated = (
            items.transform(users.transform(seen))
            .select(
                F.col("u").cast("int").alias("u"),
                F.col("i").cast("int").alias("i"),
                F.col("days").cast("float").alias("days"),
            )
            .orderBy("u", "i")
        )
        als = ALS(
            userCol="u",
            itemCol="i",
            ratingCol="days",
            implicitPrefs=True,
            rank=params.rank,
            regParam=params.reg,
            alpha=params.alpha,
            maxIter=params.iterations,
            seed=params.seed,
            coldStartStrategy="drop",
        )
        model = als.fit(rated)
        catalogue = len(items.labelsArray[0])
        top = model.recommendForAllUsers(min(catalogue, per_customer + OWNED_HEADROOM))
        user_ids = spark.createDataFrame(
            list(enumerate(users.labelsArray[0])), "u int, customer_id string"
        )
        item_ids = spark.createDataFrame(
            list(enumerate(items.labelsArray[0])), "i int, product_id string"
        )
        scored = (
            top.select("u", F.explode("recommendations").alias("r"))
            .select("u", F.col("r.i").alias("i"), F.col("r.rating").cast("double").alias("raw"))
            .join(user_ids, "u")
            .join(F.broadcast(item_ids), "i")
            .join(
                seen.select("customer_id", "product_id"), ["customer_id", "product_id"], "left_anti"
            )
        )
        ranked = Window.partitionBy("customer_id").orderBy(F.desc("raw"), "product_id")
        best = Window.partitionBy("customer_id")
        out = (
            scored.withColumn("_r", F.row_number().over(ranked))
            .where(F.col("_r") <= per_customer)
            .withColumn(
                "score",
                F.greatest(F.col("raw"), F.lit(0.0))
                / F.greatest(F.max("raw").over(best), F.lit(1e-9)),
            )
            .select("customer_id", "product_id", "score")
        )
        return out.localCheckpoint()  # the factors and the indexers are not kept
    finally:
        seen.unpersist()
