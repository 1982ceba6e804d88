"""The shop master: every shop on day 0, then openings and renames on their day."""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame

from lakehouse.simulator import render
from lakehouse.simulator.source_model import Context, SourceModel

SCHEMA = (
    "_day int, shop_id string, shop_name string, shop_type string, city string, region string, "
    "country string, opened_on int, updated_at long, _rid string, _tz string"
)


def shop_records(ctx: Context, first: int, last: int) -> list[tuple]:
    cal, w = ctx.calendar, ctx.world
    city = {c["name"]: c for c in w.cities}
    records = []
    for day in range(max(first, 0), last + 1):
        for s in w.shops:
            name = s.shop_name
            renamed = s.renamed and s.renamed["day"] == day
            if renamed or (s.renamed and day > s.renamed["day"]):
                name = s.renamed["shop_name"]
            opens_today = s.opens_on_day == day
            if not (day == 0 and s.open_on(0)) and not opens_today and not renamed:
                continue
            opened = (
                date.fromisoformat(s.opened_on) if s.opened_on else cal.date(s.opens_on_day or 0)
            )
            c = city[s.city]
            records.append(
                (
                    day,
                    s.shop_id,
                    name,
                    s.shop_type,
                    s.city,
                    c["region"],
                    c["country"],
                    (opened - date(1970, 1, 1)).days,
                    cal.epoch(day) + 2 * 3600,
                    f"{s.shop_id}|{day}",
                    None,
                )
            )
    return records


def shops_model(ctx: Context) -> SourceModel:
    def rows(first: int, last: int) -> DataFrame:
        return ctx.spark.createDataFrame(shop_records(ctx, first, last), SCHEMA).coalesce(1)

    kinds = {
        c: render.PLAIN for c in ("shop_id", "shop_name", "shop_type", "city", "region", "country")
    }
    kinds |= {"opened_on": render.DATE, "updated_at": render.TS_UTC}
    return SourceModel(
        name="shops",
        rows=rows,
        kinds=kinds,
        key=("shop_id",),
        dates=("opened_on",),
        places=("city",),
        clean_full_load=True,
    )
