"""Start the API and dashboard: python -m lakehouse.serving [--host H] [--port P] [--conf C].

Bound to loopback by default. Bound elsewhere, it starts only with a bearer token in
$LAKEHOUSE_API_TOKEN (or a file named by $LAKEHOUSE_API_TOKEN_FILE), and every /api request
must then send it; a token given on loopback is required too.

Exit codes: 0 stopped (Ctrl-C, SIGTERM); 1 an unexpected error; 2 a bad command line or
configuration (a port outside 1-65535, an unreadable --conf, a blank or unreadable token, no
token off loopback, a host that is no address of this machine); 5 the port is in use or not
allowed (retry when it is free).
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import socket
import sys
import time
from pathlib import Path

from lakehouse import errors
from lakehouse.config import ConfigError, load_project
from lakehouse.serving import security

EXIT_CANNOT_LISTEN = 5  # the pipeline's 3 (data quality) and 4 (warehouse busy) mean other things


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def port_number(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port, 1-65535 (got {text!r})")
    return int(text)


def fail(message: str, code: int) -> int:
    print(f"serve: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=port_number, default=8000, help="port (default 8000)")
    p.add_argument(
        "--conf",
        default=os.environ.get("LAKEHOUSE_CONF", "conf/lakehouse.yaml"),
        help="the lakehouse configuration (default: $LAKEHOUSE_CONF or conf/lakehouse.yaml)",
    )
    args = p.parse_args(argv)  # a bad command line exits 2 with argparse's usage message
    try:
        token = security.api_token()
    except security.TokenError as err:
        return fail(str(err), errors.EXIT_USAGE)
    if not is_loopback(args.host) and not token:
        return fail(
            f"refusing to bind {args.host} without a bearer token: set {security.TOKEN_ENV} "
            f"(or {security.TOKEN_FILE_ENV}), or bind 127.0.0.1",
            errors.EXIT_USAGE,
        )
    try:
        project = load_project(Path(args.conf))
    except ConfigError as err:
        return fail(str(err), errors.EXIT_USAGE)

    from lakehouse.serving import server

    try:
        listening = server.listen(args.host, args.port)
    except socket.gaierror as err:
        return fail(f"cannot resolve --host {args.host}: {err.strerror}", errors.EXIT_USAGE)
    except OSError as err:
        if err.errno == errno.EADDRNOTAVAIL:
            return fail(f"{args.host} is no address of this machine", errors.EXIT_USAGE)
        return fail(f"cannot listen on {args.host}:{args.port}: {err.strerror}", EXIT_CANNOT_LISTEN)
    with listening:
        return serve(listening, project, args, token)


def serve(listening: socket.socket, project, args, token: str | None) -> int:
    import uvicorn

    from lakehouse.serving import server
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
        f"serve: http://{args.host}:{args.port}/ (API docs /docs), warehouse {project.root}, {auth}",
        flush=True,
    )
    try:
        uvicorn.Server(server.config(app, args.host, args.port)).run(sockets=[listening])
    except SystemExit as stop:  # uvicorn's own start-up failure (its code 3)
        return fail(f"the server stopped at start-up (uvicorn exit {stop.code})", errors.EXIT_ERROR)
    return errors.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
