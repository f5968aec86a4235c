"""Benchmark: one web process's memory under many distinct requests, against its bounded caches.

    .venv/bin/python bench/bench_memory.py [--requests N]

The soak (bench_load_run.py --soak) sees gunicorn's memory grow over ten minutes; this
tells whether that is the per-process caches filling up to their bounds or something
else. One app on NASA's real files, in this process (Flask's test client: no gunicorn),
is sent the soak's mix with a new random sol range each time (slider callbacks, data
routes asked for gzip, pages and layouts); every 10 % of the way it prints the process's
RSS next to what the caches hold: the pre-serialised answers (bytes), the derived values
(entries: figures are not sized), the compressed answers (bytes). Memory that keeps
growing once the caches are at their bounds would be a leak.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import private_redis, real_settings  # noqa: E402
from dash_bodies import initial_values, slider_body  # noqa: E402

from dashboard.app import create_app  # noqa: E402
from dashboard.data.load import load  # noqa: E402
from dashboard.data.store import DatasetStore  # noqa: E402
from dashboard.redis_conn import connect  # noqa: E402


def compressed_cache(server):
    """flask-compress's cache backend on this server (dashboard.api.http_cache._CompressedCache)."""
    for hook in server.after_request_funcs.get(None, []):
        owner = getattr(hook, "__self__", None)
        if owner is not None and hasattr(owner, "cache"):
            return owner.cache
    raise RuntimeError("flask-compress is not installed on this server")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    rng = random.Random(7)
    process = psutil.Process()
    with private_redis() as url:
        settings = real_settings(url, "bench-memory:", rovers=("perseverance",))
        store = DatasetStore.of(connect(settings), settings)
        load(store, settings)
        app = create_app(settings, store)
        client = app.server.test_client()
        cache = compressed_cache(app.server)
        dataset = store.current()
        lo, hi = int(dataset.waypoints["sol"].min()), int(dataset.waypoints["sol"].max())
        deps = client.get("/_dash-dependencies").get_json()
        charts = next(d for d in deps if "orientation-chart.figure" in d["output"])
        initial = initial_values(client.get("/_dash-layout").get_json())
        print(f"Memory of one web process: {args.requests:,} requests, sols {lo}..{hi}, NASA's files")
        print(f"  {'requests':>9} {'RSS MB':>8} {'answers MB':>11} {'derived':>8} {'compressed MB':>14}")
        step = max(1, args.requests // 10)
        for n in range(1, args.requests + 1):
            a = rng.randint(lo, hi - 20)
            b = rng.randint(a + 10, hi)
            kind = rng.random()
            if kind < 0.4:
                body = slider_body(charts, initial, [a, b])
                resp = client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
            elif kind < 0.9:
                route = rng.choice(["/perseverance/position", "/perseverance/orientation", "/perseverance"])
                resp = client.get(f"{route}?sol_min={a}&sol_max={b}", headers={"Accept-Encoding": "gzip"})
            else:
                resp = client.get("/_dash-layout")
            if resp.status_code != 200:
                sys.exit(f"request {n} answered {resp.status_code}: {resp.get_data(as_text=True)[:200]}")
            if n % step == 0:
                current = store.current()
                print(
                    f"  {n:>9,} {process.memory_info().rss / 1e6:>8.1f} {current._answers._bytes / 1e6:>11.1f}"
                    f" {len(current._memo):>8} {cache.size / 1e6:>14.1f}"
                )


if __name__ == "__main__":
    main()
