"""Turn model values into what the source systems write: ISO timestamps with offsets,
legacy date formats, CSV lines with RFC 4180 quoting, JSON lines, and broken lines.

Timestamps travel through the model as epoch seconds (long) and dates as epoch days, so
the same instant can be written in any time zone or format. Formatting assumes the
session time zone is UTC; the simulator sets it while it runs.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from lakehouse.simulator.rng import element, index_of

# Value kinds of model columns.
TS_UTC = "ts_utc"  # epoch seconds, written '2026-03-01T14:03:22Z'
TS_LOCAL = "ts_local"  # epoch seconds, written in the row's _tz: '2026-03-01T15:03:22+01:00'
TS_LOG = "ts_log"  # epoch seconds, written like the click-stream log: '2026-03-01 14:03:22 UTC'
TIMESTAMP = "timestamp"  # epoch seconds, a real timestamp column (Parquet)
DATE = "date"  # epoch days, written '2026-03-01'
PLAIN = "plain"  # strings and numbers, written as they are

TIMESTAMP_KINDS = (TS_UTC, TS_LOCAL, TS_LOG)

# The other formats a legacy export uses; they carry no offset and mean UTC wall-clock time.
LEGACY_TIMESTAMP_FORMATS = ("dd.MM.yyyy HH:mm", "yyyy/MM/dd HH:mm:ss", "MM/dd/yyyy HH:mm:ss")
LEGACY_DATE_FORMATS = ("dd.MM.yyyy", "MM/dd/yyyy", "yyyy/MM/dd")

MALFORMED_CSV = ("missing_field", "extra_field", "broken_quote")
MALFORMED_JSON = ("truncated", "missing_comma")


def _ts(seconds: Column) -> Column:
    return F.timestamp_seconds(seconds)


def iso_utc(seconds: Column) -> Column:
    return F.date_format(_ts(seconds), "yyyy-MM-dd'T'HH:mm:ss'Z'")


def iso_local(seconds: Column, tz: Column) -> Column:
    local = F.from_utc_timestamp(_ts(seconds), tz)
    offset = F.unix_timestamp(local) - seconds
    sign = F.when(offset < 0, F.lit("-")).otherwise(F.lit("+"))
    hours = F.lpad(F.floor(F.abs(offset) / 3600).cast("string"), 2, "0")
    minutes = F.lpad(F.floor(F.pmod(F.abs(offset), F.lit(3600)) / 60).cast("string"), 2, "0")
    return F.concat(F.date_format(local, "yyyy-MM-dd'T'HH:mm:ss"), sign, hours, F.lit(":"), minutes)


def log_time(seconds: Column) -> Column:
    return F.date_format(_ts(seconds), "yyyy-MM-dd HH:mm:ss 'UTC'")


def iso_date(days: Column) -> Column:
    return F.date_format(F.date_from_unix_date(days), "yyyy-MM-dd")


def legacy(value: Column, kind: str, u: Column) -> Column:
    """The value in one of the legacy formats (which one: by ``u``)."""
    if kind == DATE:
        formats, as_time = LEGACY_DATE_FORMATS, F.date_from_unix_date(value)
    else:
        formats, as_time = LEGACY_TIMESTAMP_FORMATS, _ts(value)
    choice = index_of(u, len(formats))
    out = F.date_format(as_time, formats[-1])
    for i in reversed(range(len(formats) - 1)):
        out = F.when(choice == i, F.date_format(as_time, formats[i])).otherwise(out)
    return out


def as_text(value: Column, kind: str, tz: Column | None) -> Column:
    if kind == TS_UTC:
        return iso_utc(value)
    if kind == TS_LOCAL:
        return iso_local(value, tz) if tz is not None else iso_utc(value)
    if kind == TS_LOG:
        return log_time(value)
    if kind == DATE:
        return iso_date(value)
    return value.cast("string")


def csv_field(text: Column) -> Column:
    """RFC 4180: quote a field holding a comma, quote, line break or edge blank."""
    needs_quotes = text.rlike('[",\\r\\n]') | text.startswith(" ") | text.endswith(" ")
    quoted = F.concat(F.lit('"'), F.regexp_replace(text, '"', '""'), F.lit('"'))
    return F.when(text.isNull(), F.lit("")).when(needs_quotes, quoted).otherwise(text)


def csv_line(fields: list[Column], shape: Column) -> Column:
    """A CSV line, or, where ``shape`` names a malformed shape, that broken line instead."""
    cells = [csv_field(f) for f in fields]
    good = F.concat_ws(",", *cells)
    missing = F.concat_ws(",", *cells[:-1])
    extra = F.concat(good, F.lit(',"see note"'))
    # An opening quote that never closes swallows the rest of the line into one field.
    opened = F.concat(F.lit('"'), F.regexp_replace(cells[1], '"', ""))
    unclosed = F.concat_ws(
        ",", cells[0], opened, *[F.regexp_replace(c, '"', "") for c in cells[2:]]
    )
    return (
        F.when(shape.isNull(), good)
        .when(shape == "missing_field", missing)
        .when(shape == "extra_field", extra)
        .otherwise(unclosed)
    )


def malformed_shape(fmt: str, u: Column) -> Column:
    shapes = MALFORMED_CSV if fmt == "csv" else MALFORMED_JSON
    return element(shapes, index_of(u, len(shapes)))


def json_line(fields: dict[str, Column], shape: Column) -> Column:
    good = F.to_json(
        F.struct(*[c.alias(n) for n, c in fields.items()]), {"ignoreNullFields": "false"}
    )
    truncated = good.substr(F.lit(1), F.length(good) - 9)
    no_comma = F.regexp_replace(good, '","', '" "')
    return F.when(shape.isNull(), good).when(shape == "truncated", truncated).otherwise(no_comma)
