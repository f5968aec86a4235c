"""Benchmark: the cost of a scheduled refresh when NASA's layers have not changed.

    .venv/bin/python bench/bench_refresh.py [--repeat N]

NASA's real files (PTRACKER_SHARED_DATA: waypoints, traverse, current position) served by
a local HTTP server with ETag / Last-Modified (tests/upstream.py), loaded once; then the
refresh job's own code (dashboard.data.refresh.run_refresh) is timed:

- no change, the server honours the validators: what each refresh costs normally (304s);
- no change, the server ignores them (every answer 200 with the body): the sha256 fallback;
- one layer changed (a newer current position): a new version and its change recorded.

Uses REDIS_URL when set (keys under a throw-away prefix, removed afterwards); otherwise a
private redis-server. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, drop_keys, private_redis  # noqa: E402

from dashboard.data.changes import recent_changes  # noqa: E402
from dashboard.data.refresh import run_refresh  # noqa: E402
from dashboard.data.store import DatasetStore  # noqa: E402
from dashboard.settings import Settings  # noqa: E402
from tests.upstream import Upstream  # noqa: E402

FILES = {"waypoints": "M20_waypoints.json", "traverse": "M20_traverse.json", "current": "M20_waypoints_current.json"}


def shared_data() -> Path:
    data = Path(os.environ.get("PTRACKER_SHARED_DATA", ROOT.parent / "shared" / "data"))
    missing = [name for name in FILES.values() if not (data / name).exists()]
    if missing:
        sys.exit(f"NASA's files not found in {data}: {', '.join(missing)} (set PTRACKER_SHARED_DATA)")
    return data


def refreshes(store, settings, up: Upstream, repeat: int) -> tuple[list[float], dict, set]:
    """``repeat`` refreshes: their wall times, what the server saw, their outcomes."""
    up.reset()
    times, outcomes = [], set()
    for _ in range(repeat):
        t0 = time.perf_counter()
        outcomes.add(run_refresh(store, settings)["outcome"])
        times.append(time.perf_counter() - t0)
    return times, dict(up.stats), outcomes


def newer_current(path: Path) -> bytes:
    body = json.loads(path.read_text())
    props = body["features"][-1]["properties"]
    props["sol"] = int(props["sol"]) + 1
    props["RMC"] = f"{props.get('RMC', '0_0')}9"
    return json.dumps(body).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    data = shared_data()
    folder = Path(tempfile.mkdtemp(prefix="ptracker-bench-nasa-"))
    for name in FILES.values():
        shutil.copyfile(data / name, folder / name)
    rows = []
    with private_redis() as url, Upstream(folder) as up:
        client = redis.Redis.from_url(url)
        prefix = f"bench:{uuid.uuid4().hex[:8]}:"
        store = DatasetStore(client, prefix)
        settings = Settings(
            waypoints_source=up.url(FILES["waypoints"]),
            traverse_source=up.url(FILES["traverse"]),
            current_source=up.url(FILES["current"]),
            heli_source=None,
            samples_source=None,
            terrain_source=None,
            redis_url=url,
            key_prefix=prefix,
        )
        try:
            times, stats, outcomes = refreshes(store, settings, up, 1)
            rows.append(("first load (3 bodies)", times, stats, outcomes))
            times, stats, outcomes = refreshes(store, settings, up, args.repeat)
            rows.append(("no change, 304s", times, stats, outcomes))
            up.conditional = False
            times, stats, outcomes = refreshes(store, settings, up, args.repeat)
            rows.append(("no change, no 304 (sha256)", times, stats, outcomes))
            up.conditional = True
            up.put(FILES["current"], newer_current(folder / FILES["current"]))
            times, stats, outcomes = refreshes(store, settings, up, 1)
            rows.append(("current position changed", times, stats, outcomes))
            versions, changes = store.versions(), len(recent_changes(store))
        finally:
            drop_keys(client, prefix)
            shutil.rmtree(folder, ignore_errors=True)
    print(f"scheduled refresh against a local server with NASA's files ({data})")
    print(f"{'case':<30} {'median ms':>10} {'max ms':>9} {'requests':>9} {'304s':>6} {'bytes/refresh':>14}  outcome")
    for label, times, stats, outcomes in rows:
        n = len(times)
        print(
            f"{label:<30} {statistics.median(times) * 1000:>10.1f} {max(times) * 1000:>9.1f} "
            f"{stats.get('requests', 0) / n:>9.1f} {stats.get('not_modified', 0) / n:>6.1f} "
            f"{stats.get('body_bytes', 0) / n:>14,.0f}  {', '.join(sorted(outcomes))}"
        )
    print(f"versions kept at the end: {versions}; changes recorded: {changes}")


if __name__ == "__main__":
    main()
