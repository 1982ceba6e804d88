"""The e-commerce customer master: sign-ups, the initial base, and address changes.

A customer who signs up on day d places one of that day's first orders minutes later
(see ``orders.placed_orders``); customers from before day 0 come in the day-0 export.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.simulator import render
from lakehouse.simulator.calendar import per_day
from lakehouse.simulator.orders import DAY, epoch, order_time
from lakehouse.simulator.rng import between
from lakehouse.simulator.source_model import Context, SourceModel, day_rows, last_at_most

BIRTH_DAYS = (-7305, 13878)  # 1950-01-01 .. 2007-12-31 as days since 1970


def created_day(ctx: Context, cidx: Column, last: int) -> Column:
    """The day a customer signed up (-1: before the simulation) from the running counts."""
    return last_at_most([ctx.calendar.customers_before(d) for d in range(last + 1)], cidx)


def signup_time(ctx: Context, cidx: Column, last: int) -> Column:
    """Initial customers joined up to ~5 years ago; new ones shortly before their first order."""
    rng = ctx.rng
    created = created_day(ctx, cidx, last)
    before_start = (
        F.lit(ctx.calendar.epoch(0))
        - between(rng.u("tenure", cidx), 1, 1800) * DAY
        + between(rng.u("signup_sec", cidx), 25_000, 80_000)
    )
    first_order_idx = cidx - per_day(
        0, last, ctx.calendar.customers_before, F.greatest(created, F.lit(0))
    )
    just_before = F.greatest(
        order_time(ctx, created, first_order_idx) - between(rng.u("signup_lead", cidx), 120, 2400),
        epoch(ctx, created),
    )
    return F.when(created < 0, before_start).otherwise(just_before)


def _record(ctx: Context, frame: DataFrame, last: int) -> DataFrame:
    """Customer rows from (_day, _cidx, _version, _updated); draws first, then attributes,
    so that every draw is computed once per row (smaller plans, faster jobs)."""
    w = ctx.world
    cidx, version = F.col("_cidx"), F.col("_version")
    staged = frame.select(
        "_day",
        "_cidx",
        "_version",
        "_updated",
        w.customer_city(cidx).alias("_home"),
        w.customer_city(cidx, version).alias("_ci"),
        signup_time(ctx, cidx, last).alias("_signup"),
    )
    person = w.person(cidx)
    staged = staged.select(
        "*", person["first_name"].alias("_first"), person["last_name"].alias("_last")
    )
    address = w.address(cidx, version, F.col("_ci"))
    first, last_name = F.col("_first"), F.col("_last")
    return staged.select(
        "_day",
        w.customer_id(cidx).alias("customer_id"),
        first.alias("first_name"),
        last_name.alias("last_name"),
        w.email(first, last_name, cidx).alias("email"),
        w.phone(w.city(F.col("_home"), "country"), cidx).alias("phone"),
        *[address[k].alias(k) for k in ("street", "postcode", "city", "country", "_tz")],
        between(ctx.rng.u("birth", cidx), *BIRTH_DAYS).cast("int").alias("birth_date"),
        F.col("_signup").alias("signup_at"),
        F.coalesce(F.col("_updated"), F.col("_signup")).alias("updated_at"),
        F.concat_ws("|", w.customer_id(cidx), F.col("_day").cast("string")).alias("_rid"),
    )


def customer_rows(ctx: Context, first: int, last: int) -> DataFrame:
    cal, rng = ctx.calendar, ctx.rng
    first = max(first, 0)
    never = F.lit(None).cast("long")
    parts = []
    if first == 0:
        n = ctx.settings.initial_customers
        initial = ctx.spark.range(0, n, 1, cal.partitions(n))
        parts.append(
            initial.select(
                F.lit(0).alias("_day"),
                F.col("id").alias("_cidx"),
                F.lit(0).alias("_version"),
                never.alias("_updated"),
            )
        )
    signups = day_rows(ctx, first, last, cal.new_customers)
    existing = per_day(first, last, cal.customers_before, F.col("_day"))
    parts.append(
        signups.select(
            "_day",
            (existing + F.col("idx")).alias("_cidx"),
            F.lit(0).alias("_version"),
            never.alias("_updated"),
        )
    )
    move_first = max(first, 1)
    if move_first <= last:
        everyone = day_rows(ctx, move_first, last, cal.customers_before)
        day = F.col("_day")
        moved = everyone.where(rng.u("move", F.col("idx"), day) < ctx.settings.customer_move_share)
        at = epoch(ctx, day) + between(rng.u("move_at", F.col("idx"), day), 28_800, 72_000)
        parts.append(
            moved.select(
                "_day", F.col("idx").alias("_cidx"), day.alias("_version"), at.alias("_updated")
            )
        )
    frame = parts[0]
    for p in parts[1:]:
        frame = frame.unionByName(p)
    return _record(ctx, frame, last)


def customers_model(ctx: Context) -> SourceModel:
    def resend() -> dict[str, Column]:
        # The customer corrects their e-mail address shortly after the export.
        return {"email": F.regexp_replace(F.col("email"), "@.*$", "@posteo.de")}

    kinds = {c: render.PLAIN for c in ("customer_id", "first_name", "last_name", "email", "phone")}
    kinds |= {c: render.PLAIN for c in ("street", "postcode", "city", "country")}
    kinds |= {"birth_date": render.DATE, "signup_at": render.TS_LOCAL, "updated_at": render.TS_UTC}
    return SourceModel(
        name="customers",
        rows=lambda first, last: customer_rows(ctx, first, last),
        kinds=kinds,
        key=("customer_id",),
        required=("last_name", "email", "country"),
        dates=("birth_date", "signup_at"),
        places=("city",),
        resend=resend,
    )
