"""Personal data policies applied to a source's columns before they reach silver.

``drop`` removes the value, ``hash`` replaces it by a keyed HMAC-SHA256 (stable, so the same
email gives the same key across days and tables and joins still work), ``mask`` keeps only
the last characters, ``generalise`` coarsens it (a birth date to its year, a postcode to its
area). The HMAC key comes from the environment or a secret file, never from YAML or code,
and is only ever held in memory: it is not in the query plan, so not in logs either.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf

from lakehouse.config.tables import PiiPolicy

KEY_ENV = "LAKEHOUSE_PII_KEY"
KEY_FILE_ENV = "LAKEHOUSE_PII_KEY_FILE"


class MissingSecretError(RuntimeError):
    pass


@dataclass(frozen=True, repr=False)
class HashKey:
    """The HMAC key. ``repr`` and ``str`` never show it."""

    value: bytes

    def __repr__(self) -> str:
        return "HashKey(***)"

    __str__ = __repr__


def require_key(profile: str, can_make: bool = True) -> None:
    """Stop before anything runs when ``profile`` would need a key it cannot have: outside
    the local profile the key must come from the environment, never be made up; nor where
    the warehouse is not on this disk (``can_make`` False), where it could not be kept."""
    key_file = os.environ.get(KEY_FILE_ENV)
    if os.environ.get(KEY_ENV) or (profile == "local" and can_make and not key_file):
        return
    if key_file:
        if not os.access(key_file, os.R_OK):
            raise MissingSecretError(f"{KEY_FILE_ENV} names {key_file}, which cannot be read")
        return
    where = "" if can_make else " for a warehouse on object storage"
    raise MissingSecretError(
        f"profile {profile!r} needs the personal-data hashing key{where}: set {KEY_ENV} or "
        f"{KEY_FILE_ENV} (the key itself never goes into configuration)"
    )


def load_key(profile: str, local_key_file: Path | None) -> HashKey:
    """$LAKEHOUSE_PII_KEY, else the file named by $LAKEHOUSE_PII_KEY_FILE. Outside the local
    profile a missing key is an error (``require_key``); locally a random key is made once and
    kept in ``local_key_file`` so hashes stay stable across runs of one warehouse (None: the
    warehouse is not on this disk, and a key must be given)."""
    if os.environ.get(KEY_ENV):
        return HashKey(os.environ[KEY_ENV].encode())
    key_file = os.environ.get(KEY_FILE_ENV)
    if key_file:
        try:
            return HashKey(Path(key_file).read_bytes().strip())
        except OSError as exc:
            raise MissingSecretError(f"{KEY_FILE_ENV} names {key_file}: {exc.strerror}") from None
    require_key(profile, can_make=local_key_file is not None)
    assert local_key_file is not None  # require_key raised otherwise
    if not local_key_file.exists():
        local_key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(local_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return HashKey(local_key_file.read_bytes().strip())


def hmac_column(key: HashKey) -> Callable[[Column], Column]:
    # A Python UDF rather than sha2() on literals: Spark's plan (and so its logs and UI)
    # would otherwise carry the key.
    secret = key.value

    @pandas_udf("string")
    def keyed_hash(values: pd.Series) -> pd.Series:
        return values.map(
            lambda v: (
                None
                if v is None or v is pd.NA
                else hmac.new(secret, str(v).encode("utf-8"), hashlib.sha256).hexdigest()
            )
        )

    return keyed_hash


def mask(value: Column, keep_last: int) -> Column:
    text = F.trim(value.cast("string"))
    hidden = F.greatest(F.length(text) - keep_last, F.lit(0))
    return F.when(text.isNull(), None).otherwise(
        F.concat(F.repeat(F.lit("*"), hidden), F.substring(text, -keep_last, keep_last))
        if keep_last > 0
        else F.repeat(F.lit("*"), F.length(text))
    )


def generaliser(name: str, timestamp: Callable[[Column], Column]) -> Callable[[Column], Column]:
    """Coarseners by name; unknown names are refused when the configuration loads."""
    return {
        "year": lambda c: F.year(timestamp(c)).cast("string"),
        "year_month": lambda c: F.date_format(timestamp(c), "yyyy-MM"),
        "postcode_area": lambda c: F.substring(F.regexp_replace(F.trim(c), r"\s+", ""), 1, 2),
    }[name]


GENERALISERS = ("year", "year_month", "postcode_area")


def protect(
    df: DataFrame,
    policies: dict[str, PiiPolicy],
    key: HashKey | None,
    timestamp: Callable[[Column], Column],
) -> DataFrame:
    """Apply each column's policy; columns without one pass unchanged."""
    if not policies:
        return df
    hashed = hmac_column(key) if any(p.action == "hash" for p in policies.values()) else None
    replaced: dict[str, Column] = {}
    for name, policy in policies.items():
        column = F.col(name)
        if policy.action == "drop":
            replaced[name] = F.lit(None).cast("string")
        elif policy.action == "hash":
            replaced[name] = hashed(column.cast("string"))
        elif policy.action == "mask":
            replaced[name] = mask(column, policy.keep_last)
        else:
            replaced[name] = generaliser(policy.to, timestamp)(column)
    return df.withColumns(replaced)
