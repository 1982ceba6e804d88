"""Build the SparkSession for a job or a test from the project's profile."""

from __future__ import annotations

import os
import sys

from pyspark import SparkConf, SparkContext
from pyspark.sql import SparkSession

from lakehouse.config import Project
from lakehouse.runtime import metastore
from lakehouse.runtime.jars import delta_jar_paths
from lakehouse.storage import object_store

# spark-submit.sh passes these too; they are repeated here for sessions built without it
# (pytest, a notebook), which must still be Delta sessions.
DELTA_SQL_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


def build_session(
    project: Project,
    profile: str | None = None,
    app_name: str = "lakehouse",
    overrides: dict[str, str] | None = None,
) -> SparkSession:
    settings = project.profile(profile)
    # Python workers must run the interpreter that has this project's packages (pandas for
    # the hashing UDF), not whatever `python3` is first on the PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    launched = _launcher_conf()
    builder = SparkSession.builder.appName(app_name)

    master_from_cli = os.environ.get("LAKEHOUSE_MASTER_FROM_CLI") == "1"
    if not master_from_cli:
        master = settings.master or launched.get("spark.master")
        if master is None:
            raise RuntimeError(
                f"profile {profile or project.settings.default_profile!r} sets no master: "
                "pass one with ./spark-submit.sh --master URL"
            )
        builder = builder.master(master)
    if "delta-spark" not in (launched.get("spark.jars") or ""):
        builder = builder.config("spark.jars", ",".join(delta_jar_paths()))
    names = metastore.spark_settings(settings.metastore)
    if names:
        metastore.ensure_schema(settings.metastore)
        if not launched:  # spark-submit.sh passes it as --driver-class-path
            builder = builder.config("spark.driver.extraClassPath", metastore.driver_jar())

    # Database folders (gold's catalog names) go under the warehouse root, never into the
    # driver's working directory.
    catalog = {"spark.sql.warehouse.dir": f"{project.root}/_catalog"}
    conf = {
        **DELTA_SQL_CONF,
        **catalog,
        # s3a:// roots and landings (harmless elsewhere); credentials from the environment
        **object_store.spark_settings(project.settings.storage.s3),
        **names,
        **project.settings.spark,
        **settings.spark,
        **(overrides or {}),
    }
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _launcher_conf() -> dict[str, str]:
    """What spark-submit decided (master, jars), when this process was started by it.

    Under spark-submit the JVM is already up (PYSPARK_GATEWAY_PORT is set); otherwise the
    session's own settings, jars included, must reach the JVM that getOrCreate launches, so
    nothing may start it early.
    """
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        return {}
    SparkContext._ensure_initialized()
    return dict(SparkConf().getAll())
