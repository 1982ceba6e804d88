"""Object stores as both engines reach them: Spark through Hadoop's S3A connector, delta-rs (the
run log's small commits, the serving layer) through its object store. One setting
(``storage.s3`` in lakehouse.yaml) and one set of credentials feed both.

Credentials come from the environment variables the setting names (or files named by
``<VAR>_FILE``); when those are unset, each engine falls back to AWS's own chain (instance or
pod role, ``~/.aws``). They end up in Hadoop's configuration, whose keys Spark redacts in its
UI and logs (``spark.redact.regex`` matches ``secret`` and ``access.key``).
"""

from __future__ import annotations

import os
from typing import Any

from lakehouse.config.secrets import MissingSecret, secret
from lakehouse.config.settings import S3Spec

# The schemes of the stores every code path here supports (Hadoop's name for S3 is s3a).
OBJECT_STORE_SCHEMES = ("s3a://", "s3://")


def is_local(path: str) -> bool:
    return path.startswith("/") or path.startswith("file:")


def is_s3(path: str) -> bool:
    return path.startswith(OBJECT_STORE_SCHEMES)


def credentials(s3: S3Spec) -> tuple[str, str] | None:
    """(access key, secret key) from the variables ``s3.secrets`` names; None when neither
    is set (AWS's default chain then applies). Only one of them set is an error."""
    names = {k: s3.secrets.get(k) for k in ("access_key", "secret_key")}
    present = {
        k: env
        for k, env in names.items()
        if env and (env in os.environ or f"{env}_FILE" in os.environ)
    }
    if not present:
        return None
    if len(present) < 2:
        missing = next(env for k, env in names.items() if k not in present)
        raise MissingSecret(f"storage.s3: {missing} (or {missing}_FILE) is not set")
    return (
        secret(names["access_key"], "storage.s3: access_key"),
        secret(names["secret_key"], "storage.s3: secret_key"),
    )


def hadoop_settings(s3: S3Spec) -> dict[str, str]:
    """S3A's settings (Hadoop keys, without Spark's ``spark.hadoop.`` prefix)."""
    conf = {
        "fs.s3a.endpoint.region": s3.region,
        "fs.s3a.path.style.access": str(s3.path_style).lower(),
        # The warehouse lock's create-if-absent (ops/warehouse_lock.py) relies on it.
        "fs.s3a.create.conditional.enabled": "true",
    }
    if s3.endpoint:
        conf["fs.s3a.endpoint"] = s3.endpoint
        conf["fs.s3a.connection.ssl.enabled"] = str(s3.endpoint.startswith("https:")).lower()
    keys = credentials(s3)
    if keys:
        conf["fs.s3a.aws.credentials.provider"] = (
            "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        )
        conf["fs.s3a.access.key"], conf["fs.s3a.secret.key"] = keys
    return conf


def spark_settings(s3: S3Spec) -> dict[str, str]:
    """The same, as Spark settings: they reach the driver's and every executor's Hadoop."""
    return {f"spark.hadoop.{k}": v for k, v in hadoop_settings(s3).items()}


def configure(spark: Any, s3: S3Spec) -> None:
    """Apply the settings to a running session (one made before the store was known, as the
    tests' shared session is). Jobs get them when their session is built."""
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in hadoop_settings(s3).items():
        conf.set(key, value)


def delta_rs_options(s3: S3Spec) -> dict[str, str]:
    """delta-rs storage options for ``s3a://`` / ``s3://`` tables. Commits go through S3's
    conditional put (If-None-Match), delta-rs's default since 0.23, so no lock table is needed."""
    options = {"AWS_REGION": s3.region}
    if s3.endpoint:
        options["AWS_ENDPOINT_URL"] = s3.endpoint
        if s3.endpoint.startswith("http:"):
            options["AWS_ALLOW_HTTP"] = "true"
    options["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] = str(not s3.path_style).lower()
    keys = credentials(s3)
    if keys:
        options["AWS_ACCESS_KEY_ID"], options["AWS_SECRET_ACCESS_KEY"] = keys
    return options


def delta_rs_location(path: str, s3: S3Spec) -> tuple[str, dict[str, str]]:
    """(table URI, storage options) for delta-rs: a local path as is, an object store's with
    its options."""
    if is_s3(path):
        return path, delta_rs_options(s3)
    return ("/" + path.removeprefix("file:").lstrip("/")) if path.startswith("file:") else path, {}
