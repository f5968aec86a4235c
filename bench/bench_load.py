"""Benchmark: fetch + normalise + store NASA's real files, and read the current dataset.

    make bench            (or: .venv/bin/python bench/bench_load.py [--repeat N])

Uses REDIS_URL when set (keys under a throw-away prefix, removed afterwards); otherwise
starts a private redis-server on a free loopback port. Data: NASA's real files
(PTRACKER_SHARED_DATA). Prints figures; asserts nothing. Targets: full load
under 1 s, warm read under 1 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import drop_keys, private_redis, real_context, real_current, real_sources  # noqa: E402

from dashboard.data.fetch import fetch  # noqa: E402
from dashboard.data.load import load  # noqa: E402
from dashboard.data.parse import parse_traverse, parse_waypoints  # noqa: E402
from dashboard.data.store import DatasetStore  # noqa: E402
from dashboard.settings import Settings  # noqa: E402


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """(median, min) in seconds and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    wp_src, tr_src = real_sources()

    rows = []

    def row(label, med, best, note=""):
        rows.append((label, med, best, note))

    med, best, wp_fetched = timed(lambda: fetch(wp_src), args.repeat)
    row("fetch waypoints (file)", med, best, f"{len(wp_fetched.body):,} bytes")
    med, best, tr_fetched = timed(lambda: fetch(tr_src), args.repeat)
    row("fetch traverse (file)", med, best, f"{len(tr_fetched.body):,} bytes")
    med, best, wp = timed(lambda: parse_waypoints(wp_fetched.body, wp_src), args.repeat)
    row("normalise waypoints", med, best, f"{len(wp.frame)} rows")
    med, best, tr = timed(lambda: parse_traverse(tr_fetched.body, tr_src), args.repeat)
    row("normalise traverse", med, best, f"{len(tr.frame)} legs, {len(tr.points):,} vertices")

    with private_redis() as url:
        prefix = f"ptbench:{uuid.uuid4().hex[:8]}:"
        client = redis.Redis.from_url(url)
        settings = Settings(
            waypoints_source=wp_src,
            traverse_source=tr_src,
            current_source=real_current(),
            **real_context(),
            redis_url=url,
            key_prefix=prefix,
        )
        store = DatasetStore(client, prefix)
        med, best, _ = timed(lambda: store.save(wp.frame, tr.frame, tr.points, {"bench": True}), args.repeat)
        row("store (encode + atomic swap)", med, best)
        med, best, summary = timed(lambda: load(store, settings, force=True), args.repeat)
        row("FULL LOAD: fetch + normalise + store", med, best, "target < 1 s")
        med, best, _ = timed(lambda: load(store, settings), args.repeat)
        row("reload, files unchanged (sha256 match)", med, best)

        version = store.current_version()
        med, best, ds = timed(lambda: DatasetStore(client, prefix).current(), args.repeat)
        row("read current, cold (new process cache)", med, best, f"version {ds.version}")
        reader = DatasetStore(client, prefix)
        reader.current()
        n = 2000
        t0 = time.perf_counter()
        for _ in range(n):
            reader.current()
        warm = (time.perf_counter() - t0) / n
        row("read current, warm (cached; 1 GET)", warm, warm, f"mean of {n}; target < 1 ms")
        assert reader.current().version == version
        drop_keys(client, prefix)

    print(f"Perseverance Tracker load benchmark ({args.repeat} repeats; median / best)")
    print(f"  waypoints: {wp_src}\n  traverse:  {tr_src}")
    for label, med, best, note in rows:
        print(f"  {label:42s} {med * 1000:9.3f} ms  {best * 1000:9.3f} ms  {note}")


if __name__ == "__main__":
    main()
