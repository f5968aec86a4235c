"""Load run: 60 s, 20 simulated users (locust, headless) mixing page
loads, slider callbacks, data routes and exports, against gunicorn (2 workers) and two
export workers, on a private redis-server with NASA's real files loaded.

    make bench      (or: .venv/bin/python bench/bench_load_run.py [--seconds N] [--users N])

Prints requests/s and p50/p95/p99 per route and the failures (a 429 from the export
rate limit counts as the intended answer)."""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

import redis

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from common import drop_keys, private_redis, procfile_processes, real_context, real_current, real_sources  # noqa: E402

from dashboard.data.load import load  # noqa: E402
from dashboard.data.store import DatasetStore  # noqa: E402
from dashboard.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--users", type=int, default=20)
    args = parser.parse_args()
    wp_src, tr_src = real_sources()
    with private_redis() as url:
        prefix = "ptbench-run:"
        client = redis.Redis.from_url(url)
        settings = Settings(
            waypoints_source=wp_src,
            traverse_source=tr_src,
            current_source=real_current(),
            **real_context(),
            redis_url=url,
            key_prefix=prefix,
            max_bytes=50 * 1024 * 1024,
        )
        load(DatasetStore(client, prefix), settings, force=True)
        env = {"REDIS_URL": url, "PTRACKER_KEY_PREFIX": prefix, "WEB_CONCURRENCY": "2"}
        with procfile_processes(env, workers=2) as base:
            out = Path(tempfile.mkdtemp(prefix="ptracker-locust-"))
            locust = [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(BENCH / "locustfile.py"),
                "--headless",
                "-u",
                str(args.users),
                "-r",
                str(args.users),
                "-t",
                f"{args.seconds}s",
                "--host",
                base,
                "--csv",
                str(out / "run"),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ]
            res = subprocess.run(locust, capture_output=True, text=True, timeout=args.seconds + 120)
        rows = list(csv.DictReader(open(out / "run_stats.csv")))
        print(f"Load run: {args.users} users, {args.seconds} s, gunicorn 2 workers + 2 export workers (locust)")
        print(
            f"  {'route':40s} {'requests':>9s} {'fails':>6s} {'req/s':>8s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s}"
        )
        for row in rows:
            print(
                f"  {row['Name'][:40]:40s} {row['Request Count']:>9s} {row['Failure Count']:>6s} "
                f"{float(row['Requests/s']):8.1f} {row['50%']:>8s} {row['95%']:>8s} {row['99%']:>8s}"
            )
        failures = list(csv.DictReader(open(out / "run_failures.csv")))
        print(
            f"  failures: {sum(int(f['Occurrences']) for f in failures)}"
            + "".join(f"\n    {f['Method']} {f['Name']}: {f['Error'][:100]} x{f['Occurrences']}" for f in failures)
        )
        print(
            f"  distinct exports accepted (202): {client.zcard(f'{prefix}export:recent')}; "
            f"locust exit code {res.returncode}"
        )
        drop_keys(client, prefix)


if __name__ == "__main__":
    main()
