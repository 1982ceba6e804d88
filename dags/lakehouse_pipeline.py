"""Airflow DAG for the lakehouse: one task per table, its dependencies read from the same YAML
graph the pipeline job uses (a table's task runs after the tasks of the tables it reads).

Each task runs ``./spark-submit.sh pipeline --table <layer.name>``: the project's one way to run a
job, which ships the Delta jars and the library to wherever ``--master`` points. Set
``LAKEHOUSE_AIRFLOW_OPERATOR=spark_submit`` to use the Spark provider's SparkSubmitOperator with
an Airflow connection instead (``LAKEHOUSE_SPARK_CONN``, default ``spark_default``).

Tasks of one run queue on the warehouse lock (``--wait``), so only one writes at a time; give a
table's task ``dag_run.conf = {"date": "2026-03-01"}`` to take only that day's landed files.
Settings (environment): LAKEHOUSE_PROJECT (the project folder; default: this file's parent),
LAKEHOUSE_CONF, LAKEHOUSE_SPARK_MASTER (passed as --master), LAKEHOUSE_PROFILE_NAME.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

from airflow import DAG

PROJECT = Path(os.environ.get("LAKEHOUSE_PROJECT", Path(__file__).resolve().parents[1]))
CONF = Path(os.environ.get("LAKEHOUSE_CONF", PROJECT / "conf" / "lakehouse.yaml"))
sys.path.insert(0, str(PROJECT / "lib"))  # the config loader needs PyYAML and pydantic, not Spark

from lakehouse.config import load_project  # noqa: E402

OPERATOR = os.environ.get("LAKEHOUSE_AIRFLOW_OPERATOR", "bash")
MASTER = os.environ.get("LAKEHOUSE_SPARK_MASTER", "")
PROFILE = os.environ.get("LAKEHOUSE_PROFILE_NAME", "")
LOCK_WAIT_SECONDS = 6 * 3600
DATE_ARG = (
    "{{ ('--date ' ~ dag_run.conf['date']) if dag_run and dag_run.conf.get('date') else '' }}"
)

project = load_project(CONF)
ops = project.settings.operations


def job_args(ref: str) -> list[str]:
    args = ["--conf", str(CONF), "--table", ref, "--wait", str(LOCK_WAIT_SECONDS)]
    args += ["--log-format", "json", "--run-id", "{{ run_id }}-" + ref]
    return args + (["--profile", PROFILE] if PROFILE else [])


def task(ref: str):
    if OPERATOR == "spark_submit":
        from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

        jars = ",".join(sorted(str(p) for p in (PROJECT / ".cache" / "jars").glob("*.jar")))
        return SparkSubmitOperator(
            task_id=ref,
            conn_id=os.environ.get("LAKEHOUSE_SPARK_CONN", "spark_default"),
            application=str(PROJECT / "jobs" / "pipeline.py"),
            application_args=job_args(ref),
            py_files=str(PROJECT / "build" / "lakehouse.zip"),
            jars=jars,
            conf={
                "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
                "spark.sql.catalog.spark_catalog": (
                    "org.apache.spark.sql.delta.catalog.DeltaCatalog"
                ),
            },
            env_vars={"LAKEHOUSE_MASTER_FROM_CLI": "1"},
            name=f"lakehouse-{ref}",
        )
    try:
        from airflow.providers.standard.operators.bash import BashOperator
    except ImportError:  # Airflow 2
        from airflow.operators.bash import BashOperator

    master = f"--master {MASTER} " if MASTER else ""
    command = f"{PROJECT / 'spark-submit.sh'} {master}pipeline {' '.join(job_args(ref))} {DATE_ARG}"
    return BashOperator(
        task_id=ref,
        bash_command=command,
        cwd=str(PROJECT),
        # Exit 3 is a data-quality failure: retrying does not fix data, so fail at once.
        retries=0,
        append_env=True,
        skip_on_exit_code=None,
    )


with DAG(
    dag_id=os.environ.get("LAKEHOUSE_DAG_ID", "lakehouse_pipeline"),
    description="bronze -> silver -> gold, one task per table, graph from conf/tables",
    schedule=os.environ.get("LAKEHOUSE_SCHEDULE", "@daily"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "lakehouse", "retry_delay": timedelta(minutes=5)},
    tags=["lakehouse"],
) as dag:
    tasks = {ref: task(ref) for ref in (t.ref for t in project.in_dependency_order())}
    for table in project.tables.values():
        for upstream in table.upstream:
            tasks[upstream] >> tasks[table.ref]
