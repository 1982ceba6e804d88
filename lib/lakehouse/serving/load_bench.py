"""Latency of the API under a bounded local load: p50 and p95 per endpoint.

    .venv/bin/python -m lakehouse.serving.bench [--clients 10] [--seconds 30] [--during CMD]

Starts the server on a free loopback port (its own process, as `scripts/serve.sh` would), then
``--clients`` threads, each on one keep-alive connection, request the endpoints in turn for
``--seconds``, with ids drawn from the warehouse (customers, products, shops). ``--during``
runs a command alongside (e.g. a pipeline run) to measure while a table commits. Prints a
Markdown table; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shlex
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import defaultdict
from pathlib import Path

from deltalake import DeltaTable

from lakehouse.config import load_project

MAX_CLIENTS, MAX_SECONDS = 32, 600
TARGET_MS = {"lookup": 100, "aggregate": 500}


def endpoints(ids: dict[str, list[str]]) -> list[tuple[str, str, callable]]:
    """(name, kind, a function of a Random that gives the path and query to request)."""

    def q(path, **params):
        return f"{path}?{urllib.parse.urlencode(params)}" if params else path

    customer = lambda r: r.choice(ids["customers"])  # noqa: E731
    shop = lambda r: r.choice(ids["shops"])  # noqa: E731
    return [
        ("customer profile", "lookup", lambda r: f"/api/customers/{customer(r)}"),
        ("recommendations", "lookup", lambda r: f"/api/customers/{customer(r)}/recommendations"),
        (
            "bought with",
            "lookup",
            lambda r: q(f"/api/products/{r.choice(ids['products'])}/bought-with", limit=10),
        ),
        ("trend by day", "aggregate", lambda r: q("/api/sales/trend", grain="day")),
        ("trend by month, shop", "aggregate", lambda r: q("/api/sales/trend", grain="month", shop=shop(r))),
        ("peak hours", "aggregate", lambda r: "/api/sales/peak-hours"),
        ("peak hours, shop", "aggregate", lambda r: q("/api/sales/peak-hours", shop=shop(r))),
        ("year to date", "aggregate", lambda r: "/api/sales/year-to-date"),
        ("brand ranking", "aggregate", lambda r: q("/api/brands/ranking", weeks=r.choice([4, 12, 24, 52]))),
        ("brand ranking, shop", "aggregate", lambda r: q("/api/brands/ranking", weeks=r.choice([4, 52]), shop=shop(r))),
        ("intake vs revenue", "aggregate", lambda r: q("/api/sales/intake-vs-revenue", group="region", period="month")),
        ("drop-off", "aggregate", lambda r: q("/api/sales/drop-off", period="week")),
        ("shipping lag", "aggregate", lambda r: "/api/shipping/lag"),
        ("new vs returning", "aggregate", lambda r: q("/api/customers-by-period", period="day")),
        ("new vs returning, shop", "aggregate", lambda r: q("/api/customers-by-period", period="day", shop=shop(r))),
    ]  # fmt: skip


def sample_ids(project, per_kind: int = 500, seed: int = 1) -> dict[str, list[str]]:
    """Ids that exist, read straight from the gold tables (delta-rs, no JVM)."""
    rng = random.Random(seed)

    def column(table: str, name: str) -> list[str]:
        path = project.table_path(project.table(f"gold.{table}"))
        values = DeltaTable(path).to_pyarrow_table(columns=[name]).column(name).to_pylist()
        values = sorted({v for v in values if v and v != "unknown"})
        return rng.sample(values, min(per_kind, len(values)))

    return {
        "customers": column("mart_customer_profile", "customer_id"),
        "products": column("mart_recommendations", "product_id"),
        "shops": column("dim_shop", "shop_id"),
    }


def start_server(conf: str) -> tuple[subprocess.Popen, int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "LAKEHOUSE_API_TOKEN"}
    server = subprocess.Popen(
        [sys.executable, "-m", "lakehouse.serving", "--port", str(port), "--conf", conf], env=env
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/api/shops")
            if connection.getresponse().status == 200:
                return server, port
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the API server did not answer within 60 s")


def load(port: int, views, clients: int, seconds: float):
    """Latencies in ms and error counts per endpoint name."""
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(number: int) -> None:
        rng = random.Random(number)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = number
        while time.monotonic() < stop_at:
            name, _, path_of = views[i % len(views)]
            i += 1
            started = time.perf_counter()
            try:
                connection.request("GET", path_of(rng))
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                ok = False
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                if ok:
                    latencies[name].append(elapsed)
                else:
                    errors[name] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


def report(views, latencies, errors, seconds: float) -> str:
    rows = [
        "| endpoint | kind | requests | errors | p50 ms | p95 ms | p95 target ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, kind, _ in views:
        values = latencies.get(name, [])
        rows.append(
            f"| {name} | {kind} | {len(values)} | {errors.get(name, 0)} | "
            f"{percentile(values, 0.5):.1f} | {percentile(values, 0.95):.1f} | {TARGET_MS[kind]} |"
        )
    total = sum(len(v) for v in latencies.values())
    rows.append(f"\n{total} requests in {seconds:.0f} s ({total / seconds:.0f}/s)")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--conf", default=os.environ.get("LAKEHOUSE_CONF", "conf/lakehouse.yaml"))
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--during", help="a command run alongside, e.g. a pipeline run")
    p.add_argument("--json", type=Path, help="also write the latencies' summary here")
    args = p.parse_args(argv)
    if not (1 <= args.clients <= MAX_CLIENTS and 1 <= args.seconds <= MAX_SECONDS):
        p.error(f"--clients 1..{MAX_CLIENTS} and --seconds 1..{MAX_SECONDS}")
    project = load_project(Path(args.conf))
    views = endpoints(sample_ids(project))
    server, port = start_server(args.conf)
    during = subprocess.Popen(shlex.split(args.during)) if args.during else None
    try:
        latencies, errors = load(port, views, args.clients, args.seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)
    if during is not None:
        state = (
            "still running (left to finish)"
            if during.poll() is None
            else f"exit {during.returncode}"
        )
        print(f"during: {args.during}: {state}")
    print(f"{args.clients} clients, {args.seconds:.0f} s, warehouse {project.root}")
    print(report(views, latencies, errors, args.seconds))
    if args.json:
        summary = {
            name: {
                "requests": len(latencies.get(name, [])),
                "errors": errors.get(name, 0),
                "p50_ms": percentile(latencies.get(name, []), 0.5),
                "p95_ms": percentile(latencies.get(name, []), 0.95),
            }
            for name, _, _ in views
        }
        args.json.write_text(json.dumps(summary, indent=2))
    return 1 if sum(errors.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
