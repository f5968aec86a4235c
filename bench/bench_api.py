"""Benchmark: REST throughput and latency under gunicorn (2 workers), 16 clients, loopback.

    make bench      (or: .venv/bin/python bench/bench_api.py [--seconds N])

Starts a private redis-server, loads NASA's real files, starts the Procfile's web command
with WEB_CONCURRENCY=2, then drives each route with wrk (Debian package; 2 threads, 16
connections) and prints requests/s and p50/p90/p99 latency. The original tracker (one
Redis key per waypoint, read one by one per request) answered /perseverance/position at
about 18 requests/s with p50 near 1 s; targets here: >= 50x that (900 req/s) and
p99 < 25 ms for /perseverance/position.

Also the route open pages poll for new data (/perseverance/version, answered 304 to the
ETag they hold) beside /healthz, and what 1,000 open pages polling every 30 s ask of one
web process.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import drop_keys, private_redis, procfile_processes, real_settings  # noqa: E402

from dashboard.data.load import load  # noqa: E402
from dashboard.data.store import DatasetStore  # noqa: E402

ROUTES = ["/perseverance/position", "/perseverance", "/perseverance/orientation", "/healthz"]
#: The same data route revalidated by a browser or a CDN (If-None-Match: the ETag it holds),
#: and the version route an open page polls (If-None-Match: the ETag of its last answer).
REVALIDATED = "/perseverance"
POLLED = "/perseverance/version"
REVALIDATED_ROUTES = (REVALIDATED, POLLED)
#: Open pages polling the version route, and how often (PTRACKER_LIVE_POLL_SECONDS' default).
OPEN_PAGES, POLL_SECONDS = 1000, 30
WEB_WORKERS = 2
#: Target: a cached data route serves at least this share of /healthz's rate.
RATIO_TARGET = 0.8


def to_ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def per_route(wrk: str, base: str, args: argparse.Namespace, etags: dict[str, str]) -> None:
    """Throughput and latency per route (and of revalidations answered 304)."""
    for route in ROUTES + [f"{path} (304)" for path in REVALIDATED_ROUTES]:
        path, headers = route, {}
        if route.endswith(" (304)"):
            path = route[:-6]
            headers = {"If-None-Match": etags[path]}
        size = len(requests.get(base + path, headers=headers, timeout=5).content)
        res = subprocess.run(
            [
                wrk,
                "-t2",
                f"-c{args.connections}",
                f"-d{args.seconds}s",
                "--latency",
                *[a for k, v in headers.items() for a in ("-H", f"{k}: {v}")],
                base + path,
            ],
            capture_output=True,
            text=True,
            timeout=args.seconds + 30,
        )
        out = res.stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        lat = {p: to_ms(re.search(rf"\s{p}%\s+([\d.]+\w+)", out).group(1)) for p in ("50", "90", "99")}
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        socket_errors = re.search(r"Socket errors: (.*)", out)
        print(
            f"  GET {route:28s} {rps:9.1f} req/s   p50 {lat['50']:7.2f} ms   p90 {lat['90']:7.2f} ms"
            f"   p99 {lat['99']:7.2f} ms   {size:>8,} B"
            + (f"   non-2xx {errors.group(1)}" if errors else "")
            + (f"   socket errors: {socket_errors.group(1)}" if socket_errors else "")
        )


def ratio_rounds(wrk: str, base: str, args: argparse.Namespace, etags: dict[str, str]) -> dict[str, float]:
    """The machine is shared and its load drifts: measure the ratio in interleaved rounds
    (floor, data, 304s, floor, ...) and compare medians (returned, by route)."""
    rounds: dict[str, list[float]] = {"/healthz": [], "/perseverance/position": []}
    rounds.update({f"{path} (304)": [] for path in REVALIDATED_ROUTES})
    for _ in range(args.rounds):
        for route in rounds:
            path, headers = route, []
            if route.endswith(" (304)"):
                path = route[:-6]
                headers = ["-H", f"If-None-Match: {etags[path]}"]
            res = subprocess.run(
                [wrk, "-t2", f"-c{args.connections}", f"-d{args.round_seconds}s", *headers, base + path],
                capture_output=True,
                text=True,
                timeout=60,
            )
            rounds[route].append(float(re.search(r"Requests/sec:\s+([\d.]+)", res.stdout).group(1)))
    med = {route: statistics.median(v) for route, v in rounds.items()}
    print(f"  throughput ratio, {args.rounds} interleaved rounds of {args.round_seconds} s (medians):")
    for route in ("/perseverance/position", *(f"{path} (304)" for path in REVALIDATED_ROUTES)):
        ratio = med[route] / med["/healthz"]
        print(
            f"    {route:28s} {med[route]:8.1f} req/s / /healthz {med['/healthz']:8.1f} req/s = {ratio:5.2f}"
            f"   (target >= {RATIO_TARGET:.2f}: {'met' if ratio >= RATIO_TARGET else 'NOT met'})"
        )
    return med


def polling_share(med: dict[str, float]) -> None:
    """What open pages polling for new data ask of one web process (its share of the
    measured 304 rate: the processes split the connections)."""
    asked = OPEN_PAGES / POLL_SECONDS
    per_process = med[f"{POLLED} (304)"] / WEB_WORKERS
    print(
        f"  {OPEN_PAGES:,} open pages polling every {POLL_SECONDS} s = {asked:.0f} req/s = "
        f"{100 * asked / per_process:.1f} % of one process's 304 capacity ({per_process:,.0f} req/s: "
        f"{WEB_WORKERS} workers' median / {WEB_WORKERS})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--round-seconds", type=int, default=3)
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("wrk not found: run 'make bench' (it installs it)")
    with private_redis() as url:
        prefix = "ptbench-api:"
        client = redis.Redis.from_url(url)
        settings = real_settings(url, prefix)
        summary = load(DatasetStore(client, prefix), settings, force=True)
        env = {"REDIS_URL": url, "PTRACKER_KEY_PREFIX": prefix, "WEB_CONCURRENCY": str(WEB_WORKERS)}
        with procfile_processes(env) as base:
            # warm-up (discarded): both workers' first requests, caches, connection pools
            subprocess.run(
                [wrk, "-t2", f"-c{args.connections}", "-d3s", base + ROUTES[0]], capture_output=True, timeout=60
            )
            print(f"REST benchmark: gunicorn 2 workers, wrk {args.connections} connections, {args.seconds} s per route")
            print(f"  dataset: {summary['waypoints']['rows']} waypoints, version {summary['version']}")
            etags = {path: requests.get(base + path, timeout=5).headers["ETag"] for path in REVALIDATED_ROUTES}
            per_route(wrk, base, args, etags)
            print("  targets for /perseverance/position: >= 900 req/s (50x the original's ~18), p99 < 25 ms")
            polling_share(ratio_rounds(wrk, base, args, etags))
        drop_keys(client, prefix)


if __name__ == "__main__":
    main()
