"""Benchmark: what open pages polling for new data cost one web process, in CPU time.

    .venv/bin/python bench/bench_live.py [--requests N] [--rounds N]

The real app (Flask test client, private redis-server, NASA's real files) answers the
version route an open page polls (``/perseverance/version`` with If-None-Match: 304), a
revalidated data route (``/perseverance`` 304) and ``/healthz``, in interleaved rounds.
The figure is the web process's own CPU time per request (``time.process_time``): unlike
requests/s under wrk it hardly moves with what else the machine runs, and it is what
bounds one process's capacity (1 s of CPU / CPU per request). It includes the test
client's own work and no gunicorn, so the capacities are on the low side. Then the share
of that capacity that 1,000 open pages polling every 30 s (33 req/s) take.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import drop_keys, private_redis, real_settings  # noqa: E402

from dashboard.app import create_app  # noqa: E402
from dashboard.data.load import load  # noqa: E402
from dashboard.data.store import DatasetStore  # noqa: E402

POLLED = "/perseverance/version"
REVALIDATED = "/perseverance"
OPEN_PAGES, POLL_SECONDS = 1000, 30


def cpu_per_request(client, path: str, headers: dict, n: int) -> float:
    """The process's CPU time per request (microseconds) over ``n`` requests."""
    started = time.process_time()
    for _ in range(n):
        resp = client.get(path, headers=headers)
    assert resp.status_code in (200, 304), (path, resp.status_code)
    return (time.process_time() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500, help="requests per route and round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with private_redis() as url:
        prefix = "ptbench-live:"
        client = redis.Redis.from_url(url)
        settings = real_settings(url, prefix, access_log=False, log_format="text", log_level="WARNING")
        store = DatasetStore(client, prefix)
        load(store, settings, force=True)
        web = create_app(settings, store).server.test_client()
        routes = {
            "/healthz": ("/healthz", {}),
            f"{REVALIDATED} (304)": (REVALIDATED, {"If-None-Match": web.get(REVALIDATED).headers["ETag"]}),
            f"{POLLED} (304)": (POLLED, {"If-None-Match": web.get(POLLED).headers["ETag"]}),
            f"{POLLED} (200)": (POLLED, {}),
        }
        samples: dict[str, list[float]] = {name: [] for name in routes}
        for _ in range(args.rounds):
            for name, (path, headers) in routes.items():
                samples[name].append(cpu_per_request(web, path, headers, args.requests))
        print(f"Polling for new data: web-process CPU per request, median of {args.rounds} rounds of {args.requests}")
        for name, values in samples.items():
            cpu = statistics.median(values)
            print(f"  GET {name:32s} {cpu:7.0f} us CPU   = {1e6 / cpu:7,.0f} req/s per process (CPU-bound)")
        capacity = 1e6 / statistics.median(samples[f"{POLLED} (304)"])
        asked = OPEN_PAGES / POLL_SECONDS
        print(
            f"  {OPEN_PAGES:,} open pages polling every {POLL_SECONDS} s = {asked:.0f} req/s = "
            f"{100 * asked / capacity:.1f} % of one process's 304 capacity ({capacity:,.0f} req/s)"
        )
        drop_keys(client, prefix)


if __name__ == "__main__":
    main()
