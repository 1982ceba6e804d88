"""The Hive metastore: table names every process sees, in a PostgreSQL database.

Spark's built-in Hive client (the jars pyspark ships) talks to the database through
DataNucleus. Its schema is made once, before the first Spark start, by DataNucleus's
SchemaTool with the ``package.jdo`` inside ``hive-metastore-2.3.10.jar`` (a few seconds):
letting the client create it on first use (``datanucleus.schema.autoCreateAll``) against an
empty database deadlocked for minutes. Two jobs starting on a new database take turns on a
PostgreSQL advisory lock, so the schema is made once.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import zipfile
from pathlib import Path

from pyspark.find_spark_home import _find_spark_home

from lakehouse.config.secrets import secret
from lakehouse.config.settings import MetastoreSpec
from lakehouse.runtime.jars import jars_dir

_PG_URL = re.compile(r"^jdbc:postgresql://(?P<host>[^/:]+)(?::(?P<port>\d+))?/(?P<db>[^?]+)")
_SCHEMA_LOCK = 0x6C616B65  # advisory lock id for making the schema ("lake")


class MetastoreError(RuntimeError):
    pass


def credentials(spec: MetastoreSpec) -> tuple[str, str]:
    return (
        secret(spec.secrets.get("user", "LAKEHOUSE_METASTORE_USER"), "metastore: user"),
        secret(spec.secrets.get("password", "LAKEHOUSE_METASTORE_PASSWORD"), "metastore: password"),
    )


def driver_jar() -> str:
    """The PostgreSQL JDBC driver (resolved with the source connectors). DataNucleus loads it
    through the driver's system class path, so it goes there, not into spark.jars."""
    jars = sorted(jars_dir().glob("org.postgresql_postgresql-*.jar"))
    if not jars:
        raise MetastoreError(f"no PostgreSQL JDBC driver in {jars_dir()}: run scripts/setup.sh")
    return str(jars[-1])


def spark_settings(spec: MetastoreSpec) -> dict[str, str]:
    """Spark settings for a session whose catalog is the metastore (none without a url)."""
    if not spec.url:
        return {}
    user, password = credentials(spec)
    return {
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.javax.jdo.option.ConnectionURL": spec.url,
        "spark.hadoop.javax.jdo.option.ConnectionDriverName": "org.postgresql.Driver",
        "spark.hadoop.javax.jdo.option.ConnectionUserName": user,
        # Spark redacts settings named like this in its UI and logs.
        "spark.hadoop.javax.jdo.option.ConnectionPassword": password,
        "spark.hadoop.datanucleus.schema.autoCreateAll": "false",
        "spark.hadoop.hive.metastore.schema.verification": "false",
    }


def ensure_schema(spec: MetastoreSpec) -> bool:
    """Make the metastore's tables if the database has none; True when it made them."""
    match = _PG_URL.match(spec.url)
    if not match:
        raise MetastoreError(f"metastore url {spec.url!r}: only jdbc:postgresql://host:port/db")
    import psycopg

    user, password = credentials(spec)
    connect = {
        "host": match["host"],
        "port": int(match["port"] or 5432),
        "dbname": match["db"],
        "user": user,
        "password": password,
        "autocommit": True,
    }
    with psycopg.connect(**connect) as conn:
        if _has_schema(conn):
            return False
        conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
        try:
            if _has_schema(conn):  # made by the job we waited for
                return False
            _schema_tool(spec.url, user, password)
            return True
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))


def _has_schema(conn) -> bool:
    return conn.execute("SELECT to_regclass('public.\"DBS\"') IS NOT NULL").fetchone()[0]


def _schema_tool(url: str, user: str, password: str) -> None:
    # Spark's own jars: under spark-submit pyspark is imported from a zip, so ask its finder.
    spark_jars = Path(_find_spark_home()) / "jars"
    with tempfile.TemporaryDirectory(prefix="metastore-schema-") as tmp:
        with zipfile.ZipFile(next(spark_jars.glob("hive-metastore-*.jar"))) as jar:
            jdo = jar.extract("package.jdo", tmp)
        props = Path(tmp) / "datanucleus.properties"
        # The password goes through a file readable by this user only, never the command line.
        fd = os.open(props, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(
                f"javax.jdo.option.ConnectionURL={url}\n"
                "javax.jdo.option.ConnectionDriverName=org.postgresql.Driver\n"
                f"javax.jdo.option.ConnectionUserName={user}\n"
                f"javax.jdo.option.ConnectionPassword={password}\n"
                # Hive's own names for the tables and columns its client expects
                "datanucleus.identifierFactory=datanucleus1\n"
                "datanucleus.rdbms.useLegacyNativeValueStrategy=true\n"
            )
        done = subprocess.run(
            [
                *("java", "-cp", f"{spark_jars}/*:{driver_jar()}"),
                "org.datanucleus.store.schema.SchemaTool",
                *("-create", "-api", "JDO", "-props", str(props), jdo),
            ],
            capture_output=True,
            text=True,
        )
    if done.returncode != 0 or "completed successfully" not in done.stdout:
        raise MetastoreError(
            f"creating the metastore schema in {url} failed:\n{(done.stdout + done.stderr)[-2000:]}"
        )
