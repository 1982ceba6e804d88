"""What every job's command line shares: which configuration, which profile, which run."""

from __future__ import annotations

import argparse
import dataclasses
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.config import Project, load_project
from lakehouse.session import build_session


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--conf",
        default=os.environ.get("LAKEHOUSE_CONF", "conf/lakehouse.yaml"),
        help="the lakehouse configuration (default: $LAKEHOUSE_CONF or conf/lakehouse.yaml)",
    )
    p.add_argument(
        "--profile", help="profile from the configuration (default: its default_profile)"
    )
    p.add_argument("--run-id", default=new_run_id(), help="identifies this run in lineage columns")
    return p


def start(args: argparse.Namespace, app_name: str) -> tuple[Project, SparkSession]:
    project = load_project(Path(args.conf))
    if args.profile:
        project.profile(args.profile)  # an unknown profile is a configuration error
        project = dataclasses.replace(project, active_profile=args.profile)
    spark = build_session(project, project.profile_name, app_name=app_name)
    spark.sparkContext.setLogLevel("WARN")
    return project, spark
