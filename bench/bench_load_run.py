"""Load run and soak: simulated users (locust, headless) mixing page loads, slider
callbacks, data routes and exports, against gunicorn (2 workers) and two export workers,
on a private redis-server with NASA's real files loaded; optionally through nginx with the
project's proxy config (deploy/nginx/default.conf.template, as tests/nginx.py runs it).

    make bench      (60 s, 20 users, straight to gunicorn)
    .venv/bin/python bench/bench_load_run.py [--seconds N] [--users N] [--proxy]
    .venv/bin/python bench/bench_load_run.py --soak     (10 minutes, 50 users, through nginx)

Prints requests/s and p50/p95/p99 per route, the failures (a 429 from the export rate
limit counts as the intended answer), and each kind of process's memory (PSS summed over
its processes: gunicorn, export workers with their Chromium, Redis, nginx) sampled every
15 s: after the warm-up (the first minute, or the first sixth of a short run) and at the
end, with the growth between them.

Through nginx every simulated user connects from 127.0.0.1, so the proxy's per-address
limit for anonymous GETs (20 a second, burst 100) would cut the whole run to one user's
share; the run raises that one number in its rendered copy of the config (it says so), so
the soak measures the app behind the real proxy config rather than the limit itself
(tests/integration/test_proxy.py tests the limit).
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import redis

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from common import (  # noqa: E402
    ROOT,
    drop_keys,
    free_port,
    private_redis,
    procfile_processes,
    real_settings,
)

sys.path.insert(0, str(ROOT))

from dashboard.data.load import load  # noqa: E402
from dashboard.data.store import DatasetStore  # noqa: E402

#: seconds between memory samples
SAMPLE_SECONDS = 15
#: the soak: minutes, users, through nginx
SOAK_SECONDS, SOAK_USERS = 600, 50
#: the per-address GET rate the run's nginx copy allows (one load generator: every user on 127.0.0.1)
LOAD_GENERATOR_RATE = "2000r/s"


def kind_of(proc: psutil.Process) -> str | None:
    """Which part of the tracker a process is, by its command line."""
    try:
        cmd = " ".join(proc.cmdline())
    except psutil.Error:
        return None
    for kind, needle in (
        ("chromium (export)", "chrom"),
        ("export worker", "jobs.worker"),
        ("gunicorn", "gunicorn"),
        ("redis-server", "redis-server"),
        ("nginx", "nginx"),
    ):
        if needle in cmd:
            return kind
    return None


def sample(pids: set[int]) -> dict[str, float]:
    """MB of PSS (each shared page split between its sharers, so Chromium's many processes
    are not counted many times) by kind of process, over ``pids`` and their children."""
    out: dict[str, float] = {}
    seen: set[int] = set()
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for proc in procs:
            if proc.pid in seen:
                continue
            seen.add(proc.pid)
            kind = kind_of(proc)
            try:
                if kind:
                    out[kind] = out.get(kind, 0.0) + proc.memory_full_info().pss / 1e6
            except psutil.Error:
                pass
    return out


class Sampler(threading.Thread):
    def __init__(self, pids: set[int]):
        super().__init__(daemon=True)
        self.pids, self.samples, self.stop = pids, [], threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        while not self.stop.is_set():
            self.samples.append((time.monotonic() - start, sample(self.pids)))
            self.stop.wait(SAMPLE_SECONDS)


def proxied(base: str, directory: Path):
    """nginx with the project's config in front of ``base`` (tests/nginx.py), its per-address
    GET rate raised for one load generator; returns the started proxy."""
    from tests.nginx import Nginx

    proxy = Nginx(directory, base.removeprefix("http://"), free_port())
    conf = proxy.conf.parent / "conf.d" / "default.conf"
    text, raised = re.subn(r"\brate=\d+r/s", f"rate={LOAD_GENERATOR_RATE}", conf.read_text())
    conf.write_text(text)
    print(f"  nginx: the project's config, per-address GET rate raised to {LOAD_GENERATOR_RATE} ({raised} zone)")
    return proxy.start()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--proxy", action="store_true", help="through nginx with the project's config")
    parser.add_argument("--soak", action="store_true", help=f"{SOAK_SECONDS} s, {SOAK_USERS} users, through nginx")
    args = parser.parse_args()
    if args.soak:
        args.seconds, args.users, args.proxy = SOAK_SECONDS, SOAK_USERS, True
    with private_redis() as url:
        prefix = "ptbench-run:"
        client = redis.Redis.from_url(url)
        settings = real_settings(url, prefix)
        load(DatasetStore(client, prefix), settings, force=True)
        env = {"REDIS_URL": url, "PTRACKER_KEY_PREFIX": prefix, "WEB_CONCURRENCY": "2"}
        out = Path(tempfile.mkdtemp(prefix="ptracker-locust-"))
        print(
            f"Load run: {args.users} users, {args.seconds} s, gunicorn 2 workers + 2 export workers (locust)"
            + (", through nginx" if args.proxy else "")
        )
        with procfile_processes(env, workers=2) as base:
            proxy = proxied(base, out / "nginx") if args.proxy else None
            sampler = Sampler({psutil.Process().pid} | ({proxy.proc.pid} if proxy else set()))
            sampler.start()
            try:
                res = run_locust(proxy.base if proxy else base, args, out)
            finally:
                sampler.stop.set()
                sampler.join()
                if proxy:
                    proxy.stop()
        report(out, res, sampler.samples, args.seconds)
        drop_keys(client, prefix)


def run_locust(host: str, args, out: Path) -> subprocess.CompletedProcess:
    locust = [
        *(sys.executable, "-m", "locust", "-f", str(BENCH / "locustfile.py"), "--headless"),
        *("-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds}s", "--host", host),
        *("--csv", str(out / "run"), "--only-summary", "--loglevel", "WARNING"),
    ]
    return subprocess.run(locust, capture_output=True, text=True, timeout=args.seconds + 180)


def report(out: Path, res, samples, seconds: int) -> None:
    rows = list(csv.DictReader(open(out / "run_stats.csv")))
    print(f"  {'route':40s} {'requests':>9s} {'fails':>6s} {'req/s':>8s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s}")
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
    print(f"  locust exit code {res.returncode}")
    warm = min(60.0, seconds / 6)
    after = next((mb for t, mb in samples if t >= warm), samples[-1][1] if samples else {})
    end = samples[-1][1] if samples else {}
    half = samples[len(samples) // 2][1] if samples else {}
    print(f"  memory (PSS, MB, summed by kind; {len(samples)} samples {SAMPLE_SECONDS} s apart)")
    for kind in sorted(set(after) | set(end)):
        a, m, b = after.get(kind, 0.0), half.get(kind, 0.0), end.get(kind, 0.0)
        growth = f"{b - a:+7.1f} MB ({(b - a) / a * 100:+.1f} %)" if a else "   (new)"
        print(
            f"    {kind:20s} after warm-up {a:8.1f}   at half-time {m:8.1f}   at the end {b:8.1f}"
            f"   growth {growth}, of it in the second half {b - m:+.1f} MB"
        )


if __name__ == "__main__":
    main()
