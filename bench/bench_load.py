"""Benchmark: fetch + normalise + store NASA's real files, and read the current dataset.

    make bench            (or: .venv/bin/python bench/bench_load.py [--repeat N])

Uses REDIS_URL when set (keys under a throw-away prefix, removed afterwards); otherwise
starts a private redis-server on a free loopback port. Data: ../shared/data (or
PTRACKER_SHARED_DATA). Prints figures; asserts nothing. Targets (issue 2): full load
under 1 s, warm read under 1 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.data import parse_traverse, parse_waypoints  # noqa: E402
from dashboard.ingest import load  # noqa: E402
from dashboard.settings import Settings  # noqa: E402
from dashboard.sources import fetch  # noqa: E402
from dashboard.store import DatasetStore  # noqa: E402


@contextmanager
def private_redis():
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    exe = shutil.which("redis-server")
    if exe is None:
        sys.exit("redis-server not found: run 'make bench' (it installs it) or set REDIS_URL")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = tempfile.mkdtemp(prefix="ptracker-bench-")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


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
    data = Path(os.environ.get("PTRACKER_SHARED_DATA", ROOT.parent / "shared" / "data"))
    wp_src = os.environ.get("PTRACKER_WAYPOINTS_SOURCE") or str(data / "M20_waypoints.json")
    tr_src = os.environ.get("PTRACKER_TRAVERSE_SOURCE") or str(data / "M20_traverse.json")
    for src in (wp_src, tr_src):
        if "://" not in src and not Path(src).exists():
            sys.exit(f"data file not found: {src} (set PTRACKER_SHARED_DATA or the PTRACKER_*_SOURCE variables)")

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
        settings = Settings(waypoints_source=wp_src, traverse_source=tr_src, redis_url=url, key_prefix=prefix)
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
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)

    print(f"Perseverance Tracker load benchmark ({args.repeat} repeats; median / best)")
    print(f"  waypoints: {wp_src}\n  traverse:  {tr_src}")
    for label, med, best, note in rows:
        print(f"  {label:42s} {med * 1000:9.3f} ms  {best * 1000:9.3f} ms  {note}")


if __name__ == "__main__":
    main()
