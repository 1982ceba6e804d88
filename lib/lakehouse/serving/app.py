"""The read-only HTTP API over gold, and the dashboard page that charts it (FastAPI)."""

import hmac
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from lakehouse.serving import queries as q
from lakehouse.serving.snapshot import GoldReader, Snapshot, TableMissing

STATIC = Path(__file__).parent / "static"
# Swagger UI from npm (swagger-ui-dist, Apache-2.0), served from here: FastAPI's default page
# loads it from a CDN, which a machine without the internet cannot reach.
SWAGGER = "/static/vendor/swagger-ui-dist-5.35.0"
ID = r"^[A-Za-z0-9_./-]{1,64}$"  # customer, product and shop ids: letters, digits, _ . / -

DateFrom = Annotated[date | None, Query(alias="from", description="first day (YYYY-MM-DD)")]
DateTo = Annotated[date | None, Query(alias="to", description="last day (YYYY-MM-DD)")]
Shop = Annotated[str | None, Query(pattern=ID, description="a shop_id (see /api/shops)")]
Limit = Annotated[int, Query(ge=1, le=1000, description="rows per page")]
Offset = Annotated[int, Query(ge=0, description="rows to skip")]


def snapshot(request: Request) -> Iterator[Snapshot]:
    """The request's view of gold: each table pinned at its first use in the request."""
    snap = request.app.state.reader.snapshot()
    try:
        yield snap
    finally:
        snap.close()


Snap = Annotated[Snapshot, Depends(snapshot)]
WEEKS = (4, 12, 24, 52)


def _invalid(param: str, message: str) -> RequestValidationError:
    """A 422 in FastAPI's own shape, naming the query parameter."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ["query", param], "msg": message}]
    )


def create_app(reader: GoldReader, token: str | None = None) -> FastAPI:
    """The app over ``reader``'s tables. With ``token``, every /api request must carry
    ``Authorization: Bearer <token>``; the page, its scripts and the OpenAPI page carry no
    data and stay open (the dashboard asks for the token)."""
    app = FastAPI(
        title="Lakehouse gold API",
        description="Read-only views of the gold marts; each request reads one committed "
        "Delta version of every table it uses (see `versions` in the answers).",
        version="1",
        docs_url=None,
        redoc_url=None,
    )

    @app.get("/docs", include_in_schema=False)
    def openapi_page():
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title}: OpenAPI",
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
        )

    @app.middleware("http")
    async def bearer_token(request: Request, call_next):
        if token and request.url.path.startswith("/api"):
            sent = request.headers.get("authorization", "")
            if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
                return JSONResponse(
                    {"detail": "missing or wrong bearer token"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return await call_next(request)

    @app.exception_handler(TableMissing)
    async def table_missing(_request: Request, err: TableMissing):
        return JSONResponse({"detail": str(err)}, status_code=503)

    app.state.reader = reader

    def answer(snap: Snapshot, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {**extra, "items": items, "versions": dict(snap.versions)}

    def page(snap: Snapshot, rows: list[dict[str, Any]], limit: int, offset: int):
        total = rows[0].pop("_total") if rows else 0
        for row in rows[1:]:
            row.pop("_total")
        return answer(snap, rows, total=total, limit=limit, offset=offset)

    def check_range(date_from: date | None, date_to: date | None) -> None:
        if date_from and date_to and date_from > date_to:
            raise _invalid("to", f"'to' ({date_to}) is before 'from' ({date_from})")

    def check_shop(snap: Snapshot, shop: str | None) -> None:
        if shop and not snap.rows(q.SHOP_EXISTS.sql, {"shop": shop}, q.SHOP_EXISTS.tables):
            raise HTTPException(404, f"unknown shop '{shop}'")

    def days(date_from, date_to, **more) -> dict[str, Any]:
        return {"date_from": date_from, "date_to": date_to, **more}

    @app.get("/", include_in_schema=False)
    def dashboard():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/snapshot", summary="The version of every served table, now")
    def versions(snap: Snap):
        for name in q.SERVED_TABLES:
            snap._use(name)
        return {"versions": snap.versions}

    @app.get("/api/shops", summary="The shops, for the shop filter")
    def shops(snap: Snap):
        return answer(snap, snap.rows(q.SHOPS.sql, {}, q.SHOPS.tables))

    @app.get("/api/customers/{customer_id}", summary="A customer's profile and RFM scores")
    def customer(snap: Snap, customer_id: Annotated[str, PathParam(pattern=ID)]):
        rows = snap.rows(q.PROFILE.sql, {"customer_id": customer_id}, q.PROFILE.tables)
        if not rows:
            raise HTTPException(404, f"unknown customer '{customer_id}'")
        return {**rows[0], "versions": snap.versions}

    @app.get(
        "/api/customers/{customer_id}/recommendations",
        summary="Products recommended to a customer (not bought yet), best first",
    )
    def recommendations(snap: Snap, customer_id: Annotated[str, PathParam(pattern=ID)]):
        known = snap.rows(q.PROFILE.sql, {"customer_id": customer_id}, q.PROFILE.tables)
        rows = snap.rows(
            q.RECOMMENDATIONS.sql, {"customer_id": customer_id}, q.RECOMMENDATIONS.tables
        )
        if not known and not rows:
            raise HTTPException(404, f"unknown customer '{customer_id}'")
        return answer(snap, rows, customer_id=customer_id)

    @app.get(
        "/api/products/{product_id}/bought-with",
        summary="Products bought in the same baskets as a product, most often first",
    )
    def bought_with(
        snap: Snap,
        product_id: Annotated[str, PathParam(pattern=ID)],
        limit: Limit = 10,
        offset: Offset = 0,
    ):
        product = snap.rows(q.PRODUCT.sql, {"product_id": product_id}, q.PRODUCT.tables)
        if not product:
            raise HTTPException(404, f"unknown product '{product_id}'")
        params = {"product_id": product_id, "limit": limit, "offset": offset}
        rows = snap.rows(q.BOUGHT_WITH.sql, params, q.BOUGHT_WITH.tables)
        return {**page(snap, rows, limit, offset), "product": product[0]}

    @app.get("/api/sales/trend", summary="Orders, intake, revenue and AOV per day or month")
    def trend(
        snap: Snap,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        shop: Shop = None,
        grain: Literal["day", "month"] = "day",
    ):
        check_range(date_from, date_to)
        check_shop(snap, shop)
        params = days(date_from, date_to, shop=shop, grain=grain)
        return answer(snap, snap.rows(q.TREND.sql, params, q.TREND.tables), grain=grain)

    @app.get("/api/sales/peak-hours", summary="Orders, intake and revenue per hour of day")
    def peak_hours(
        snap: Snap, date_from: DateFrom = None, date_to: DateTo = None, shop: Shop = None
    ):
        check_range(date_from, date_to)
        check_shop(snap, shop)
        query = q.PEAK_HOURS_OF_SHOP if shop else q.PEAK_HOURS
        params = days(date_from, date_to, **({"shop": shop} if shop else {}))
        return answer(snap, snap.rows(query.sql, params, query.tables))

    @app.get(
        "/api/sales/year-to-date",
        summary="Orders, intake, revenue and average order value from 1 January to a day",
    )
    def year_to_date(
        snap: Snap,
        as_of: Annotated[date | None, Query(description="last day (default: latest sale)")] = None,
        shop: Shop = None,
    ):
        check_shop(snap, shop)
        rows = snap.rows(q.YEAR_TO_DATE.sql, {"as_of": as_of, "shop": shop}, q.YEAR_TO_DATE.tables)
        return {**rows[0], "versions": snap.versions}

    @app.get("/api/brands/ranking", summary="Brands ranked by sales over the last N weeks")
    def brand_ranking(
        snap: Snap,
        weeks: Annotated[int, Query(description="4, 12, 24 or 52")] = 4,
        limit: Limit = 20,
        offset: Offset = 0,
    ):
        if weeks not in WEEKS:
            raise _invalid("weeks", f"must be one of {', '.join(map(str, WEEKS))} (got {weeks})")
        params = {"weeks": weeks, "limit": limit, "offset": offset}
        rows = snap.rows(q.BRAND_RANKING.sql, params, q.BRAND_RANKING.tables)
        return page(snap, rows, limit, offset)

    @app.get(
        "/api/sales/intake-vs-revenue",
        summary="Order intake, revenue and drop-off by shop, city, region or country and period",
    )
    def intake_vs_revenue(
        snap: Snap,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        shop: Shop = None,
        group: Literal["shop", "city", "region", "country"] = "shop",
        period: Literal["day", "week", "month", "all"] = "month",
        limit: Limit = 100,
        offset: Offset = 0,
    ):
        check_range(date_from, date_to)
        check_shop(snap, shop)
        params = days(date_from, date_to, shop=shop, group=group, period=period)
        rows = snap.rows(
            q.INTAKE_VS_REVENUE.sql,
            {**params, "limit": limit, "offset": offset},
            q.INTAKE_VS_REVENUE.tables,
        )
        return page(snap, rows, limit, offset)

    @app.get("/api/sales/drop-off", summary="Drop-off from order intake to revenue per period")
    def drop_off(
        snap: Snap,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        shop: Shop = None,
        period: Literal["day", "week", "month"] = "day",
    ):
        check_range(date_from, date_to)
        check_shop(snap, shop)
        params = days(date_from, date_to, shop=shop, period=period)
        return answer(snap, snap.rows(q.DROP_OFF.sql, params, q.DROP_OFF.tables), period=period)

    @app.get("/api/shipping/lag", summary="Days from purchase to shipping and delivery per month")
    def shipping_lag(
        snap: Snap, date_from: DateFrom = None, date_to: DateTo = None, shop: Shop = None
    ):
        check_range(date_from, date_to)
        check_shop(snap, shop)
        params = days(date_from, date_to, shop=shop)
        return answer(snap, snap.rows(q.SHIPPING_LAG.sql, params, q.SHIPPING_LAG.tables))

    @app.get(
        "/api/customers-by-period",
        summary="New and returning customers per day or month (all shops: the mart has no shop)",
    )
    def new_vs_returning(
        snap: Snap,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        period: Literal["day", "month"] = "day",
    ):
        check_range(date_from, date_to)
        params = days(date_from, date_to, period=period)
        rows = snap.rows(q.NEW_VS_RETURNING.sql, params, q.NEW_VS_RETURNING.tables)
        return answer(snap, rows, period=period)

    return app
