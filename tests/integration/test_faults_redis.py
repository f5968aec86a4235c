"""Redis killed and restarted (AOF on), or frozen with SIGSTOP for 30 s, while
the web server (the Procfile's gunicorn) is being read: answers are 503 JSON within 2 s
during the outage (no 500, no hang), the dataset and queued jobs survive, and service
comes back by itself within 5 s of Redis.

For the first :data:`~dashboard.data.watch.TRUST_SECONDS` (80 ms) of an outage a data
route may still answer from what its process remembers (the current version, which a
Redis that does not answer cannot change): the outage is read after that."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest
import redis
import requests
from rq import Queue

from dashboard.data.load import load
from dashboard.data.store import DatasetStore
from dashboard.data.watch import TRUST_SECONDS
from dashboard.exports.queue import QUEUE_NAME
from dashboard.exports.request import validate
from dashboard.run import procfile_command
from dashboard.settings import Settings
from tests.helpers import FIXTURES, ROOT, free_port, queue_export, stop

pytestmark = pytest.mark.faults


class AofRedis:
    def __init__(self, tmp_path):
        self.port = free_port()
        self.dir = tmp_path / "redis-aof"
        self.dir.mkdir()
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        for _ in range(200):
            try:
                if client.ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def aof(tmp_path):
    server = AofRedis(tmp_path)
    server.start()
    yield server
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGCONT)
        server.proc.terminate()
        server.proc.wait(10)


def timed_get(url: str) -> tuple[int, float, dict | None]:
    started = time.monotonic()
    resp = requests.get(url, timeout=10)
    took = time.monotonic() - started
    body = resp.json() if resp.headers.get("Content-Type", "").startswith("application/json") else None
    return resp.status_code, took, body


def wait_ok(url: str, limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        try:
            if requests.get(url, timeout=3).status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.1)
    pytest.fail(f"{url} did not recover within {limit} s")


@pytest.fixture
def web(aof):
    prefix = "pfault:"
    settings = Settings(
        waypoints_source=str(FIXTURES / "waypoints_v2024.json"),
        traverse_source=str(FIXTURES / "traverse_v2026.json"),
        current_source=None,
        heli_source=None,
        samples_source=None,
        terrain_source=None,
        redis_url=aof.url,
        key_prefix=prefix,
    )
    client = redis.Redis.from_url(aof.url)
    store = DatasetStore(client, prefix)
    load(store, settings)
    jobs = [
        queue_export(store, store.current_version(), validate(c, 13, 18)) for c in ("map", "position", "orientation")
    ]
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": aof.url,
        "PTRACKER_KEY_PREFIX": prefix,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "2",
        "PTRACKER_REDIS_TIMEOUT": "1",
    }
    log = tempfile.TemporaryFile("w+")  # not a pipe: nobody reads one while the test runs
    proc = subprocess.Popen(procfile_command("web"), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    wait_ok(base + "/readyz", 60)
    before = {"meta": store.meta(), "jobs": [j.id for j in jobs]}
    yield base, before, client, prefix
    stop(proc)
    log.seek(0)
    out = log.read()
    log.close()
    assert "WORKER TIMEOUT" not in out and "Traceback" not in out, out[-3000:]


def outage_answers(base: str, rounds: int, pause: float = 0.0) -> list[tuple[str, int, float]]:
    seen = []
    for _ in range(rounds):
        for path in ("/perseverance/position", "/jobs/list"):
            status, took, body = timed_get(base + path)
            seen.append((path, status, took))
            assert status == 503, (path, status, body)
            assert body and "error" in body
            assert took < 2.0, (path, took)
        # readiness does not follow Redis: every pod would leave the Service at once, and
        # the page and the API say "Redis is away" better than a proxy's bare 503
        status, took, body = timed_get(base + "/readyz")
        seen.append(("/readyz", status, took))
        assert status == 200 and body["checks"]["redis"] == "unreachable", (status, body)
        assert took < 2.0, ("/readyz", took)
        page = requests.get(base + "/", headers={"Accept": "text/html"}, timeout=10)
        assert page.status_code == 200  # the page still renders and says the store is away
        time.sleep(pause)
    return seen


def assert_survived(client, prefix, before) -> None:
    store = DatasetStore(client, prefix)
    meta = store.meta()
    assert meta["version"] == before["meta"]["version"] and meta["sha256"] == before["meta"]["sha256"]
    assert Queue(QUEUE_NAME, connection=client).job_ids == before["jobs"]


def test_redis_killed_and_restarted(aof, web):
    base, before, client, prefix = web
    time.sleep(1.2)  # AOF fsyncs every second
    aof.kill()
    time.sleep(TRUST_SECONDS + 0.1)
    seen = outage_answers(base, rounds=3)
    aof.start()
    back_at = time.monotonic()
    recovered = wait_ok(base + "/perseverance/position", 5)
    assert time.monotonic() - back_at < 5
    assert requests.get(base + "/readyz", timeout=3).json()["checks"]["redis"] == "ok"
    assert_survived(client, prefix, before)
    worst = max(t for _, _, t in seen)
    print(
        f"\nkill/restart: {len(seen)} requests during the outage, all 503, slowest {worst:.3f} s; "
        f"recovered {recovered:.2f} s after Redis came back"
    )


def test_redis_frozen_for_30_seconds(aof, web):
    base, before, client, prefix = web
    aof.proc.send_signal(signal.SIGSTOP)
    frozen_at = time.monotonic()
    time.sleep(TRUST_SECONDS + 0.1)
    seen = []
    while time.monotonic() - frozen_at < 30:
        seen += outage_answers(base, rounds=1, pause=1.0)
    aof.proc.send_signal(signal.SIGCONT)
    recovered = wait_ok(base + "/perseverance/position", 5)
    assert_survived(client, prefix, before)
    worst = max(t for _, _, t in seen)
    print(f"\nSIGSTOP 30 s: {len(seen)} requests, all 503, slowest {worst:.3f} s; recovered in {recovered:.2f} s")
