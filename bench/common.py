"""Helpers shared by the benchmarks: NASA's files, a private redis-server, free ports,
and the Procfile's processes started and stopped."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.run import procfile_command  # noqa: E402
from dashboard.settings import Settings  # noqa: E402


def real_sources() -> tuple[str, str]:
    """(waypoints, traverse) sources: PTRACKER_*_SOURCE, else NASA's files in the shared data folder
    (PTRACKER_SHARED_DATA)."""
    data = Path(os.environ.get("PTRACKER_SHARED_DATA", ROOT.parent / "shared" / "data"))
    wp = os.environ.get("PTRACKER_WAYPOINTS_SOURCE") or str(data / "M20_waypoints.json")
    tr = os.environ.get("PTRACKER_TRAVERSE_SOURCE") or str(data / "M20_traverse.json")
    for src in (wp, tr):
        if "://" not in src and not Path(src).exists():
            sys.exit(f"data file not found: {src} (set PTRACKER_SHARED_DATA or the PTRACKER_*_SOURCE variables)")
    return wp, tr


def real_current() -> str | None:
    """The current-position source: PTRACKER_CURRENT_SOURCE, else NASA's file in the shared data folder
    (None when neither exists: the benchmarks never fetch it from NASA)."""
    data = Path(os.environ.get("PTRACKER_SHARED_DATA", ROOT.parent / "shared" / "data"))
    src = os.environ.get("PTRACKER_CURRENT_SOURCE") or str(data / "M20_waypoints_current.json")
    return src if "://" in src or Path(src).exists() else None


def shared_data() -> Path:
    return Path(os.environ.get("PTRACKER_SHARED_DATA", ROOT.parent / "shared" / "data"))


def real_context() -> dict[str, str | None]:
    """The context layers' sources: the shared data folder's files (None where absent: the
    benchmarks never fetch them from NASA or PDS)."""
    names = {
        "heli_source": "m20_heli_waypoints.json",
        "samples_source": "M20_SAMPLE_v3.json",
        "terrain_source": "M20_mola128_jezero.img",
    }
    return {key: str(shared_data() / n) if (shared_data() / n).exists() else None for key, n in names.items()}


def real_msl() -> dict[str, str | None]:
    """Curiosity's sources: its files in the shared data folder (its terrain off: the shared
    crop is cut from the wrong tile and refused, and the benchmarks never fetch PDS's tile)."""
    names = {
        "msl_waypoints_source": "MSL_waypoints.json",
        "msl_traverse_source": "MSL_traverse.json",
        "msl_current_source": "MSL_waypoints_current.json",
    }
    found = {key: str(shared_data() / n) for key, n in names.items() if (shared_data() / n).exists()}
    return {**found, "msl_terrain_source": None}


def real_settings(redis_url: str, prefix: str, *, context: bool = True, **extra) -> Settings:
    """Settings on NASA's real files (the rover's layers and the current position; with
    ``context`` the context layers too; Curiosity's when they are there) for a private
    Redis under the key ``prefix``."""
    wp, tr = real_sources()
    layers = real_context() if context else {"heli_source": None, "samples_source": None, "terrain_source": None}
    fields = {"current_source": real_current(), "max_bytes": 50 * 1024 * 1024, **layers, **real_msl(), **extra}
    return Settings(waypoints_source=wp, traverse_source=tr, redis_url=redis_url, key_prefix=prefix, **fields)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def private_redis():
    """REDIS_URL when set, else a redis-server of our own on a free loopback port."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    exe = shutil.which("redis-server")
    if exe is None:
        sys.exit("redis-server not found: run 'make bench' (it installs it) or set REDIS_URL")
    port = free_port()
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


@contextmanager
def procfile_processes(env: dict, workers: int = 0):
    """The Procfile's web command (and ``workers`` export workers); yields the base URL
    once /readyz answers; stops them all afterwards."""
    port = free_port()
    env = {**os.environ, **env, "PORT": str(port), "HOST": "127.0.0.1"}
    procs = [
        subprocess.Popen(
            procfile_command(name),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for name in ["web"] + ["worker"] * workers
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        yield base
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(30)


def drop_keys(client: redis.Redis, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
