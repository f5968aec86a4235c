"""Shared fixtures.

Redis: by default each test session starts its own private ``redis-server`` on a free
port with its own temporary directory (pytest-redis), and each test gets a clean
database. Setting ``REDIS_URL`` points the tests at another server instead; then every
test works under a unique key prefix and deletes only its own keys, so data already in
that server is never touched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
import weakref
from pathlib import Path

import pytest
import redis
from pytest_redis import factories

from dashboard.app import create_app
from dashboard.data.load import load
from dashboard.data.store import Dataset, DatasetStore
from dashboard.data.watch import KeyWatch
from dashboard.run import procfile_command
from dashboard.settings import Settings
from tests.helpers import FIXTURES, NO_CONTEXT, ROOT, SHARED_DATA, TUNED_WORKER

# Selenium must use the Debian chromedriver on PATH, never try to download one.
os.environ.setdefault("SE_OFFLINE", "true")
# The optional current-position layer defaults to NASA's URL: tests (and the processes
# they start) never reach the internet unless a test names a source itself.
os.environ.setdefault("PTRACKER_CURRENT_SOURCE", "off")
# So do the optional context layers (Ingenuity's flights, the sample tubes, the terrain).
for _name in ("PTRACKER_HELI_SOURCE", "PTRACKER_SAMPLES_SOURCE", "PTRACKER_TERRAIN_SOURCE"):
    os.environ.setdefault(_name, "off")
# Curiosity's layers default to NASA's URLs too: the processes tests start serve
# Perseverance alone unless a test names Curiosity's sources itself.
os.environ.setdefault("PTRACKER_ROVERS", "perseverance")
# And the clock that `python -m dashboard run` starts refreshes only where a test asks for it.
os.environ.setdefault("PTRACKER_REFRESH_SECONDS", "0")


redis_server = factories.redis_proc(port=None)


@pytest.fixture(autouse=True)
def _key_watches_end_with_their_test(monkeypatch):
    """Each app a test builds starts a key watch (a thread PINGing Redis 50 times a second:
    dashboard/data/watch.py); it would end only once the app is garbage-collected, so
    hundreds of them would pile up over the suite. Each ends with its test."""
    made: list[weakref.ref] = []
    real_init = KeyWatch.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        made.append(weakref.ref(self))

    monkeypatch.setattr(KeyWatch, "__init__", init)
    yield
    for ref in made:
        watch = ref()
        if watch is not None:
            watch.close()


@pytest.fixture
def fixture_path():
    def path(name: str) -> Path:
        return FIXTURES / name

    return path


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "M20_waypoints.json").exists():
        pytest.skip(f"NASA data files not found in {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def redis_url(request) -> str:
    """URL of the Redis this test may use (a private server unless REDIS_URL is set)."""
    url = os.environ.get("REDIS_URL")
    if url:
        return url
    proc = request.getfixturevalue("redis_server")
    return f"redis://{proc.host}:{proc.port}/0"


@pytest.fixture
def key_prefix() -> str:
    return f"ptest:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def redis_client(redis_url, key_prefix):
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    shared = bool(os.environ.get("REDIS_URL"))
    if not shared:
        client.flushdb()
    yield client
    if shared:
        keys = list(client.scan_iter(match=f"{key_prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    client.close()


@pytest.fixture
def settings(redis_url, key_prefix, tmp_path) -> Settings:
    return Settings(
        waypoints_source=str(FIXTURES / "waypoints_v2024.json"),
        traverse_source=str(FIXTURES / "traverse_v2026.json"),
        current_source=None,
        **NO_CONTEXT,
        redis_url=redis_url,
        data_dir=tmp_path / "var",
        key_prefix=key_prefix,
        connect_timeout=2.0,
        read_timeout=2.0,
        fetch_deadline=5.0,
        max_bytes=1024 * 1024,
    )


@pytest.fixture
def store(redis_client, key_prefix) -> DatasetStore:
    return DatasetStore(redis_client, key_prefix, keep_versions=3)


@pytest.fixture
def app(settings, store):
    """The whole app (Dash page + REST API) on the test's store; nothing loaded."""
    return create_app(settings, store)


@pytest.fixture
def client(app):
    """A Flask test client of :func:`app`."""
    return app.server.test_client()


@pytest.fixture
def loaded(store, settings) -> Dataset:
    """The fixture files loaded into the store (8 waypoints, sols 13..18); the dataset."""
    load(store, settings)
    dataset = store.current()
    assert dataset is not None
    return dataset


@pytest.fixture
def start_worker(redis_url, key_prefix, tmp_path):
    """Start the Procfile's export worker on the test's Redis and key prefix (``env`` adds
    or overrides its environment, e.g. ``PTRACKER_EXPORT_MAX_BYTES="2000"``)."""
    procs = []

    def start(**env):
        log = open(tmp_path / f"worker{len(procs)}.log", "w")
        proc = subprocess.Popen(
            procfile_command("worker"),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "REDIS_URL": redis_url, "PTRACKER_KEY_PREFIX": key_prefix, **TUNED_WORKER, **env},
            start_new_session=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = str(item.path).replace("\\", "/")
        if "/tests/integration/" in path:
            item.add_marker(pytest.mark.integration)
        elif "/tests/browser/" in path:
            item.add_marker(pytest.mark.browser)
