"""The API's query parameters, declared once each: a type, its checks and its description.

An endpoint takes them as ``Annotated`` types (``date_from: DateFrom = None``); FastAPI then
answers a bad value with a 422 whose ``loc`` names the parameter. The checks are strict where
pydantic's defaults are lax: a date is ``YYYY-MM-DD`` (not a timestamp, not Unix seconds), an
integer is digits (not ``4.0``, not ``1e3``, not ``+4``). ``reject_unknown`` answers a
parameter the endpoint does not declare, or one sent twice, with a 422 that names it.

A new parameter is one more ``Annotated`` line here, built from ``iso_date``, ``integer`` or
``Query(pattern=...)``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Path as PathParam
from fastapi import Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

ID = r"^[A-Za-z0-9_./-]{1,64}$"  # customer, product and shop ids: letters, digits, _ . / -
MAX_INT = 2**63 - 1  # DuckDB's BIGINT: a larger offset is refused here, not by the engine
WEEKS = (4, 12, 24, 52)  # the windows of gold.mart_brand_ranking

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DIGITS = re.compile(r"[0-9]{1,19}")


def _iso_date(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise PydanticCustomError("date_format", "must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise PydanticCustomError(
            "date_value", "not a day of the calendar: {why}", {"why": str(err)}
        ) from None


def iso_date(description: str, alias: str | None = None) -> Any:
    """A calendar day, written ``YYYY-MM-DD`` and nothing else."""
    return Annotated[
        date | None, BeforeValidator(_iso_date), Query(alias=alias, description=description)
    ]


def _digits(value: Any) -> Any:
    if isinstance(value, int):
        return value
    if not isinstance(value, str) or not _DIGITS.fullmatch(value):
        raise PydanticCustomError("integer_format", "must be a whole number written in digits")
    return int(value)


def _one_of(allowed: tuple[int, ...]) -> Callable[[int], int]:
    def check(value: int) -> int:
        if value not in allowed:
            raise PydanticCustomError(
                "not_allowed", "must be one of {allowed}", {"allowed": ", ".join(map(str, allowed))}
            )
        return value

    return check


def integer(description: str, ge: int = 0, le: int = MAX_INT, one_of: tuple[int, ...] = ()) -> Any:
    """A whole number written in digits, within [ge, le] (and in ``one_of`` if given)."""
    checks = [AfterValidator(_one_of(one_of))] if one_of else []
    return Annotated[
        int, BeforeValidator(_digits), *checks, Query(ge=ge, le=le, description=description)
    ]


# The parameters, as endpoints take them.
DateFrom = iso_date("first day, YYYY-MM-DD (inclusive)", alias="from")
DateTo = iso_date("last day, YYYY-MM-DD (inclusive)", alias="to")
AsOf = iso_date("last day, YYYY-MM-DD (default: the latest sale)")
Shop = Annotated[str | None, Query(pattern=ID, description="a shop_id (see /api/shops)")]
Channel = Annotated[str | None, Query(pattern=ID, description="a sales channel: web or store")]
Limit = integer("rows per page (1-1000)", ge=1, le=1000)
Offset = integer("rows to skip")
Weeks = integer("the window: 4, 12, 24 or 52 weeks to the latest sale", one_of=WEEKS)
Grain = Literal["day", "month"]
Period = Literal["day", "week", "month"]
PeriodOrAll = Literal["day", "week", "month", "all"]
Group = Literal["shop", "city", "region", "country"]
CustomerId = Annotated[str, PathParam(pattern=ID)]
ProductId = Annotated[str, PathParam(pattern=ID)]


def invalid(param: str, message: str, kind: str = "value_error") -> RequestValidationError:
    """A 422 in FastAPI's own shape, naming the query parameter."""
    return RequestValidationError([{"type": kind, "loc": ["query", param], "msg": message}])


def check_range(date_from: date | None, date_to: date | None) -> None:
    if date_from and date_to and date_from > date_to:
        raise invalid("to", f"'to' ({date_to}) is before 'from' ({date_from})")


def _declared(route: Any) -> tuple[str, ...]:
    """The query parameters a route declares, its dependencies' included."""
    names, todo = [], [route.dependant]
    while todo:
        dependant = todo.pop()
        names += [field.alias for field in dependant.query_params]
        todo += dependant.dependencies
    return tuple(sorted(set(names)))


def reject_unknown(request: Request) -> None:
    """A dependency of every route: a query parameter the route does not declare, or one
    sent more than once, is a 422 naming it (``Grain=month`` would otherwise be ignored)."""
    route = request.scope.get("route")
    if route is None or not hasattr(route, "dependant"):
        return
    declared = _declared(route)
    sent = Counter(key for key, _ in request.query_params.multi_items())
    errors = [
        {
            "type": "unknown_parameter",
            "loc": ["query", key],
            "msg": f"not a parameter of this endpoint (it takes: {', '.join(declared) or 'none'})",
        }
        for key in sent
        if key not in declared
    ] + [
        {
            "type": "repeated_parameter",
            "loc": ["query", key],
            "msg": f"given {n} times: give it once",
        }
        for key, n in sent.items()
        if n > 1 and key in declared
    ]
    if errors:
        raise RequestValidationError(errors)
