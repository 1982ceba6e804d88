"""The read-only HTTP API over gold, and the dashboard page that charts it (FastAPI).

An endpoint takes its query parameters from ``params`` (each declared once, with its
checks), runs queries from ``queries`` in the request's snapshot, and answers with
``answer`` or ``paged``. A parameter an endpoint does not declare is a 422 (``params``).
"""

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from lakehouse.serving import queries as q
from lakehouse.serving import security
from lakehouse.serving.params import (
    AsOf,
    Channel,
    CustomerId,
    DateFrom,
    DateTo,
    Grain,
    Group,
    Limit,
    Offset,
    Period,
    PeriodOrAll,
    ProductId,
    Shop,
    Weeks,
    check_range,
    invalid,
    reject_unknown,
)
from lakehouse.serving.snapshot import GoldReader, Snapshot, TableMissing

STATIC = Path(__file__).parent / "static"
# The money the marts hold. Not in the configuration yet: a constant until it is.
CURRENCY = "EUR"
# The days of sales shown before a forecast: four weeks show its weekly pattern.
HISTORY_DAYS = 28


def snapshot(request: Request) -> Iterator[Snapshot]:
    """The request's view of gold: each table pinned at its first use in the request."""
    snap = request.app.state.reader.snapshot()
    try:
        yield snap
    finally:
        snap.close()


Snap = Annotated[Snapshot, Depends(snapshot)]


def answer(snap: Snapshot, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {**extra, "items": items, "versions": dict(snap.versions)}


def paged(snap: Snapshot, query: q.Query, params: dict[str, Any], limit: int, offset: int):
    """A page of a query's rows, with the number of rows of all pages."""
    total, rows = snap.page(query.sql, params, query.tables, limit, offset)
    return answer(snap, rows, total=total, limit=limit, offset=offset)


def rows(snap: Snapshot, query: q.Query, **params: Any) -> list[dict[str, Any]]:
    return snap.rows(query.sql, params, query.tables)


def check_shop(snap: Snapshot, shop: str | None) -> None:
    if shop and not rows(snap, q.SHOP_EXISTS, shop=shop):
        raise HTTPException(404, f"unknown shop '{shop}'")


def create_app(reader: GoldReader, token: str | None = None) -> FastAPI:
    """The app over ``reader``'s tables. With ``token``, every /api request must carry
    ``Authorization: Bearer <token>``; the page, its scripts and the OpenAPI page carry no
    data and stay open (the dashboard asks for the token)."""
    app = FastAPI(
        title="Lakehouse gold API",
        description="Read-only views of the gold marts; each request reads one committed "
        "Delta version of every table it uses (see `versions` in the answers). A bad or "
        "unknown parameter is a 422 whose `loc` names it.",
        version="1",
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(reject_unknown)],
    )
    app.state.reader = reader

    @app.middleware("http")
    async def guard(request: Request, call_next):
        api = request.url.path.startswith("/api")
        if (
            token
            and api
            and not security.bearer_matches(request.headers.get("authorization", ""), token)
        ):
            response = JSONResponse(
                {"detail": "missing or wrong bearer token"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            response = await call_next(request)
        response.headers.update(security.HEADERS)
        docs = request.url.path == "/docs"
        response.headers["Content-Security-Policy"] = security.CSP_DOCS if docs else security.CSP
        response.headers["Cache-Control"] = security.CACHE_API if api else security.CACHE_PAGE
        return response

    @app.exception_handler(TableMissing)
    async def table_missing(_request: Request, err: TableMissing):
        return JSONResponse({"detail": str(err)}, status_code=503)

    @app.get("/", include_in_schema=False)
    def dashboard():
        return FileResponse(STATIC / "index.html")

    # Swagger UI from npm (swagger-ui-dist, Apache-2.0), served from here: FastAPI's default
    # page loads it from a CDN, which a machine without the internet cannot reach, and starts
    # it with an inline script, which the Content-Security-Policy refuses.
    @app.get("/docs", include_in_schema=False)
    def openapi_page():
        return FileResponse(STATIC / "docs.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/about", summary="What the dashboard needs to know: the currency of amounts")
    def about():
        return {"currency": CURRENCY}

    @app.get("/api/snapshot", summary="The version of every served table, now")
    def versions(snap: Snap):
        for name in q.SERVED_TABLES:
            snap._use(name)
        return {"versions": snap.versions}

    @app.get("/api/shops", summary="The shops, for the shop filter")
    def shops(snap: Snap):
        return answer(snap, rows(snap, q.SHOPS))

    @app.get("/api/customers/{customer_id}", summary="A customer's profile and RFM scores")
    def customer(snap: Snap, customer_id: CustomerId):
        found = rows(snap, q.PROFILE, customer_id=customer_id)
        if not found:
            raise HTTPException(404, f"unknown customer '{customer_id}'")
        return {**found[0], "versions": snap.versions}

    @app.get(
        "/api/customers/{customer_id}/recommendations",
        summary="Products recommended to a customer (not bought yet), best first; when there "
        "are none, `empty_because` says why",
    )
    def recommendations(snap: Snap, customer_id: CustomerId):
        known = rows(snap, q.PROFILE, customer_id=customer_id)
        found = rows(snap, q.RECOMMENDATIONS, customer_id=customer_id)
        if not known and not found:
            raise HTTPException(404, f"unknown customer '{customer_id}'")
        if found:
            return answer(snap, found, customer_id=customer_id)
        kept = rows(snap, q.KEPT_PURCHASES, customer_id=customer_id)[0]["lines"]
        why = (
            "their first kept purchase came after the recommendations were last computed "
            "(once a week); the next computation includes them"
            if kept
            else "no purchase of theirs was kept yet (none, or all cancelled or still without "
            "their lines); recommendations start from the first kept purchase"
        )
        return answer(snap, found, customer_id=customer_id, empty_because=why)

    @app.get(
        "/api/products/{product_id}/bought-with",
        summary="Products bought in the same baskets as a product, most often first",
    )
    def bought_with(snap: Snap, product_id: ProductId, limit: Limit = 10, offset: Offset = 0):
        product = rows(snap, q.PRODUCT, product_id=product_id)
        if not product:
            raise HTTPException(404, f"unknown product '{product_id}'")
        page = paged(snap, q.BOUGHT_WITH, {"product_id": product_id}, limit, offset)
        return {**page, "product": product[0]}

    @app.get(
        "/api/products/{product_id}/forecast",
        summary=f"A product's units for each of the next 14 days with an 80 % interval, per "
        f"shop and channel (`shop`, `channel` narrow it), beside the units it sold on the "
        f"{HISTORY_DAYS} days before (zeros included)",
    )
    def forecast(snap: Snap, product_id: ProductId, shop: Shop = None, channel: Channel = None):
        check_shop(snap, shop)
        product = rows(snap, q.PRODUCT, product_id=product_id)
        if not product:
            raise HTTPException(404, f"unknown product '{product_id}'")
        series = {"product_id": product_id, "shop": shop, "channel": channel}
        ahead = rows(snap, q.FORECAST, **series)
        if not ahead:
            why = "the product sold nothing in the forecast's last 8 weeks" + (
                " at this shop and channel" if shop or channel else ""
            )
            return answer(snap, [], product=product[0], empty_because=why)
        origin = date.fromisoformat(str(ahead[0]["origin"]))  # answers carry ISO text
        first = origin - timedelta(days=HISTORY_DAYS - 1)
        sold = rows(snap, q.FORECAST_ACTUALS, **series, first_day=first, origin=origin)
        units = {(r["shop_id"], r["channel"], str(r["order_date"])): r["units"] for r in sold}
        days = [(first + timedelta(days=i)).isoformat() for i in range(HISTORY_DAYS)]
        items: dict[tuple[str, str], dict[str, Any]] = {}
        for r in ahead:
            key = (r["shop_id"], r["channel"])
            if key not in items:
                history = [{"day": d, "units": units.get((*key, d), 0)} for d in days]
                items[key] = dict(zip(("shop_id", "channel"), key, strict=True))
                items[key].update(model=r["model"], origin=str(origin), actuals=history)
                items[key]["forecast"] = []
            bounds = ("forecast_date", "horizon", "units", "units_low", "units_high")
            items[key]["forecast"].append({k: r[k] for k in bounds})
        return answer(snap, list(items.values()), product=product[0])

    @app.get("/api/sales/trend", summary="Orders, intake, revenue and AOV per day or month")
    def trend(
        snap: Snap,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        shop: Shop = None,
        grain: Grain = "day",
    ):
        check_range(date_from, date_to)
        check_shop(snap, shop)
        found = rows(snap, q.TREND, date_from=date_from, date_to=date_to, shop=shop, grain=grain)
        return answer(snap, found, grain=grain)

    @app.get(
        "/api/sales/peak-hours",
        summary="Orders, intake and revenue per hour of day, every hour 0-23 (zeros included)",
    )
    def peak_hours(
        snap: Snap, date_from: DateFrom = None, date_to: DateTo = None, shop: Shop = None
    ):
        check_range(date_from, date_to)
        check_shop(snap, shop)
        query = q.PEAK_HOURS_OF_SHOP if shop else q.PEAK_HOURS
        return answer(snap, rows(snap, query, date_from=date_from, date_to=date_to, shop=shop))

    @app.get(
        "/api/sales/year-to-date",
        summary="Orders, intake, revenue and average order value from 1 January to a day",
    )
    def year_to_date(snap: Snap, as_of: AsOf = None, shop: Shop = None):
        check_shop(snap, shop)
        return {**rows(snap, q.YEAR_TO_DATE, as_of=as_of, shop=shop)[0], "versions": snap.versions}

    @app.get(
        "/api/brands/ranking",
        summary="Brands ranked by sales over the last 4, 12, 24 or 52 weeks to the latest sale "
        "(`weeks`, default 4), or over the days `from`-`to`; for all shops or one",
    )
    def brand_ranking(
        snap: Snap,
        weeks: Weeks | None = None,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        shop: Shop = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ):
        if weeks is not None and (date_from or date_to):
            raise invalid("weeks", "give weeks or from/to, not both")
        check_range(date_from, date_to)
        check_shop(snap, shop)
        weeks = None if date_from or date_to else weeks or 4
        params = {"weeks": weeks, "date_from": date_from, "date_to": date_to, "shop": shop}
        (window,) = rows(snap, q.BRAND_WINDOW, **params)
        # The mart ranks all shops over its windows; anything else is ranked from the lines.
        query = q.BRAND_RANKING_OF if shop or date_from or date_to else q.BRAND_RANKING
        page = paged(snap, query, params, limit, offset)
        return {**page, "weeks": weeks, "from": window["date_from"], "to": window["date_to"]}

    @app.get(
        "/api/sales/intake-vs-revenue",
        summary="Order intake, revenue and drop-off by shop, city, region or country and period",
    )
    def intake_vs_revenue(
        snap: Snap,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        shop: Shop = None,
        group: Group = "shop",
        period: PeriodOrAll = "month",
        limit: Limit = 100,
        offset: Offset = 0,
    ):
        check_range(date_from, date_to)
        check_shop(snap, shop)
        params = days(date_from, date_to, shop=shop, group=group, period=period)
        return paged(snap, q.INTAKE_VS_REVENUE, params, limit, offset)

    @app.get("/api/sales/drop-off", summary="Drop-off from order intake to revenue per period")
    def drop_off(
        snap: Snap,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        shop: Shop = None,
        period: Period = "day",
    ):
        check_range(date_from, date_to)
        check_shop(snap, shop)
        params = days(date_from, date_to, shop=shop, period=period)
        return answer(snap, rows(snap, q.DROP_OFF, **params), period=period)

    @app.get(
        "/api/shipping/lag",
        summary="Days from purchase to shipping and delivery per month (the months the dates "
        "touch)",
    )
    def shipping_lag(
        snap: Snap, date_from: DateFrom = None, date_to: DateTo = None, shop: Shop = None
    ):
        check_range(date_from, date_to)
        check_shop(snap, shop)
        return answer(snap, rows(snap, q.SHIPPING_LAG, **days(date_from, date_to, shop=shop)))

    @app.get(
        "/api/customers-by-period",
        summary="New and returning customers per day or month, for all shops or one (new: the "
        "customer's first order anywhere falls in the period)",
    )
    def new_vs_returning(
        snap: Snap,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        shop: Shop = None,
        period: Grain = "day",
    ):
        check_range(date_from, date_to)
        check_shop(snap, shop)
        query = q.NEW_VS_RETURNING_OF_SHOP if shop else q.NEW_VS_RETURNING
        found = rows(snap, query, **days(date_from, date_to, shop=shop, period=period))
        return answer(snap, found, period=period)

    return app


def days(date_from: date | None, date_to: date | None, **more: Any) -> dict[str, Any]:
    return {"date_from": date_from, "date_to": date_to, **more}
