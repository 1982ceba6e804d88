"""What every job's command line shares: which configuration, which profile, which run."""

from __future__ import annotations

import argparse
import os
import uuid
from datetime import UTC, datetime


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
