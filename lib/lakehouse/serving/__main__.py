"""Start the API and dashboard: python -m lakehouse.serving [--host H] [--port P] [--conf C].

Bound to loopback by default. Bound elsewhere, it starts only with a bearer token in
$LAKEHOUSE_API_TOKEN (or a file named by $LAKEHOUSE_API_TOKEN_FILE), and every /api request
must then send it; a token given on loopback is required too.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
import time
from pathlib import Path

from lakehouse import errors
from lakehouse.config import ConfigError, load_project

TOKEN_ENV = "LAKEHOUSE_API_TOKEN"
TOKEN_FILE_ENV = "LAKEHOUSE_API_TOKEN_FILE"


def api_token() -> str | None:
    """The bearer token from the environment, or from the file it names; never logged."""
    token = os.environ.get(TOKEN_ENV)
    if not token and os.environ.get(TOKEN_FILE_ENV):
        token = Path(os.environ[TOKEN_FILE_ENV]).read_text().strip()
    return token or None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--conf",
        default=os.environ.get("LAKEHOUSE_CONF", "conf/lakehouse.yaml"),
        help="the lakehouse configuration (default: $LAKEHOUSE_CONF or conf/lakehouse.yaml)",
    )
    args = p.parse_args(argv)
    token = api_token()
    if not is_loopback(args.host) and not token:
        print(
            f"serve: refusing to bind {args.host} without a bearer token: set {TOKEN_ENV} "
            f"(or {TOKEN_FILE_ENV}), or bind 127.0.0.1",
            file=sys.stderr,
        )
        return errors.EXIT_USAGE
    try:
        project = load_project(Path(args.conf))
    except ConfigError as err:
        print(f"serve: {err}", file=sys.stderr)
        return errors.EXIT_USAGE

    import uvicorn

    from lakehouse.serving.app import create_app
    from lakehouse.serving.queries import DERIVED, SERVED_TABLES
    from lakehouse.serving.snapshot import GoldReader

    reader = GoldReader(project, SERVED_TABLES, derived=DERIVED)
    started = time.monotonic()
    loaded = reader.warm()  # the first requests should not pay for loading the tables
    print(f"serve: {len(loaded)} gold tables loaded in {time.monotonic() - started:.1f} s")
    app = create_app(reader, token=token)
    auth = "bearer token required" if token else "no token (loopback only)"
    print(
        f"serve: http://{args.host}:{args.port}/ (API docs /docs), warehouse {project.root}, {auth}"
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return errors.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
