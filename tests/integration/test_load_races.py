"""Loads racing each other, for real: loader processes (tests/integration/loader_proc.py)
against one real redis-server, a slow local HTTP source that holds a loader's fetch for as
long as the test wants, SIGSTOP and SIGKILL. Throughout, a reader in this process checks
that the current dataset is always readable (never missing, never half a version).

The lock's lifetime here is 3 s (30 s in the app): a heartbeat renews it every third of
that while its holder runs."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from dashboard.data.load import load
from dashboard.data.store import DatasetStore
from tests.helpers import FIXTURES, ROOT

pytestmark = pytest.mark.faults

TTL = 3.0
WAYPOINTS = str(FIXTURES / "waypoints_v2024.json")
TRAVERSE = str(FIXTURES / "traverse_v2026.json")


class SlowSource:
    """A local HTTP server that answers the waypoint file only once ``release`` is set."""

    def __init__(self, body: bytes):
        self.requested = threading.Event()
        self.release = threading.Event()
        source = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                source.requested.set()
                source.release.wait(60)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the loader was killed while it waited
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/M20_waypoints.json"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Runner:
    """One loader_proc process; its JSON lines collected as they come."""

    def __init__(self, redis_url: str, prefix: str, mode: str, *args: str):
        cmd = [sys.executable, "-m", "tests.integration.loader_proc", mode, redis_url, prefix, *args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[dict] = []
        self.text: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                if line.startswith("{"):
                    self.lines.append(orjson.loads(line))
                else:
                    self.text.append(line)
                self._changed.notify_all()

    def wait_for(self, test: Callable[[dict], bool], timeout: float = 30) -> dict:
        end = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [line for line in self.lines if test(line)]
                if found:
                    return found[0]
                left = end - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    pytest.fail(f"no such line within {timeout} s: {self.lines} {''.join(self.text)[-2000:]}")
                self._changed.wait(min(left, 0.2))

    def result(self, timeout: float = 30) -> dict:
        """The last line, once the process has exited."""
        self.proc.wait(timeout)
        self._reader.join(5)
        assert self.lines and "result" in self.lines[-1], (self.lines, "".join(self.text)[-2000:])
        return self.lines[-1]


class Watcher:
    """Reads the current dataset in a loop (a cold store first, then its cache) and keeps
    every failure: none loaded, an error, a dataset whose meta is missing."""

    def __init__(self, store: DatasetStore):
        self.store = store
        self.failures: list[str] = []
        self.seen: list[str] = []
        self.reads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                dataset = self.store.current()
                meta = self.store.meta()
            except Exception as exc:  # every kind of failure is what this test looks for
                self.failures.append(f"{type(exc).__name__}: {exc}")
                continue
            self.reads += 1
            if dataset is None or meta is None:
                self.failures.append("no current dataset")
            elif not self.seen or self.seen[-1] != dataset.version:
                self.seen.append(dataset.version)
            time.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture
def slow_source():
    source = SlowSource((FIXTURES / "waypoints_v2024.json").read_bytes())
    yield source
    source.close()


@pytest.fixture
def start(redis_url, key_prefix):
    runners: list[Runner] = []

    def start(mode: str, *args: str) -> Runner:
        runner = Runner(redis_url, key_prefix, mode, *args)
        runners.append(runner)
        runner.wait_for(lambda line: "ready" in line)
        return runner

    yield start
    for runner in runners:
        if runner.proc.poll() is None:
            runner.proc.send_signal(signal.SIGCONT)
            runner.proc.kill()
            runner.proc.wait()


@pytest.fixture
def loaded_v1(store, settings, redis_client, key_prefix):
    """Version 1 loaded, and a reader watching the current dataset until the test ends."""
    load(store, settings)
    watcher = Watcher(DatasetStore(redis_client, key_prefix))
    yield watcher
    watcher.stop()


def loader(*extra: str, waypoints: str = WAYPOINTS, keep: int = 3) -> list[str]:
    return ["--ttl", str(TTL), "--keep", str(keep), "--waypoints", waypoints, "--traverse", TRAVERSE, *extra]


def version_keys(redis_client, key_prefix) -> set[str]:
    found = redis_client.scan_iter(match=f"{key_prefix}dataset:v:*")
    return {k.decode().rsplit(":", 1)[1] for k in found}


def in_order(seen: list[str], first: str, last: str) -> bool:
    """The versions a reader saw went up only, from ``first`` to ``last``."""
    return seen[0] == first and seen[-1] == last and seen == sorted(seen, key=int)


def test_a_load_longer_than_its_lock_ttl_keeps_the_lock(start, slow_source, loaded_v1, redis_client, key_prefix, store):
    """Loader A's fetch takes more than 2 lock lifetimes: its heartbeat keeps the lock the
    whole time (short-lived, renewed), loader B is refused until A has finished, and the
    versions become current in the order the loads finished."""
    lock_key = f"{key_prefix}load:lock"
    a = start("load", *loader("--force", waypoints=slow_source.url))
    assert slow_source.requested.wait(30), "loader A never fetched"
    b = start("load", *loader("--force", "--attempts", "300", "--every", "0.1"))
    b.wait_for(lambda line: line.get("result") == "LoadBusy")
    ttls = []
    held_until = time.monotonic() + 2 * TTL
    while time.monotonic() < held_until:
        ttls.append(redis_client.pttl(lock_key))
        time.sleep(0.1)
    slow_source.release.set()
    first, second = a.result(), b.result()
    loaded_v1.stop()

    assert first["result"] == "loaded" and first["version"] == "2"
    assert second["result"] == "loaded" and second["version"] == "3" and second["at"] > first["at"]
    attempts = [line for line in b.lines if "result" in line]
    before_a_ended = [line["result"] for line in attempts if line["at"] < first["at"]]
    assert len(before_a_ended) >= 10 and set(before_a_ended) == {"LoadBusy"}
    assert all(0 < ttl <= TTL * 1000 for ttl in ttls), ttls  # always held, never for long
    assert loaded_v1.failures == [] and in_order(loaded_v1.seen, "1", "3")
    assert store.current_version() == "3" and not redis_client.exists(lock_key)


def test_a_loader_that_lost_its_lock_never_becomes_current(
    start, slow_source, loaded_v1, redis_client, key_prefix, store
):
    """Loader A is frozen (SIGSTOP) mid-fetch until its lock expires; loader B loads; A
    resumes and gets its data: it reports LoadLost, B's version stays current, and A left
    nothing behind."""
    lock_key = f"{key_prefix}load:lock"
    a = start("load", *loader("--force", waypoints=slow_source.url))
    assert slow_source.requested.wait(30), "loader A never fetched"
    a.proc.send_signal(signal.SIGSTOP)  # its heartbeat cannot renew the lock any more
    end = time.monotonic() + 2 * TTL
    while redis_client.exists(lock_key):
        assert time.monotonic() < end, "the lock outlived its holder's heartbeat"
        time.sleep(0.05)
    b = start("load", *loader("--force", keep=1))
    done = b.result()
    assert done["result"] == "loaded" and done["version"] == "2", done
    slow_source.release.set()
    a.proc.send_signal(signal.SIGCONT)
    lost = a.result()
    loaded_v1.stop()

    assert lost["result"] == "LoadLost", lost
    assert "nothing was saved, the current dataset is kept" in lost["message"]
    assert store.current_version() == "2" and store.versions() == ["2"]
    assert version_keys(redis_client, key_prefix) == {"2"}
    assert loaded_v1.failures == [] and in_order(loaded_v1.seen, "1", "2")
    assert store.last_load()["version"] == "2"  # A did not record its failure over B's outcome


def test_a_killed_loader_frees_the_lock_within_its_ttl(start, slow_source, loaded_v1, redis_client, key_prefix, store):
    """Loader A is SIGKILLed mid-load while B keeps trying: B loads within 2 lock lifetimes
    of the kill (not minutes later), and A left no half-written version."""
    lock_key = f"{key_prefix}load:lock"
    a = start("load", *loader("--force", waypoints=slow_source.url))
    assert slow_source.requested.wait(30), "loader A never fetched"
    b = start("load", *loader("--force", "--attempts", "300", "--every", "0.1"))
    b.wait_for(lambda line: line.get("result") == "LoadBusy")
    assert 0 < redis_client.pttl(lock_key) <= TTL * 1000
    killed_at = time.time()
    a.proc.kill()
    a.proc.wait()
    done = b.result()
    loaded_v1.stop()

    assert done["result"] == "loaded" and done["version"] == "2"
    waited = done["at"] - killed_at
    print(f"next load succeeded {waited:.2f} s after the SIGKILL (lock ttl {TTL} s)")
    assert waited <= 2 * TTL
    assert store.current_version() == "2" and version_keys(redis_client, key_prefix) == set(store.versions())
    assert loaded_v1.failures == [] and in_order(loaded_v1.seen, "1", "2")


def test_overlapping_saves_never_delete_the_current_version(start, loaded_v1, redis_client, key_prefix, store):
    """Three processes save version after version at once, keeping 1 version each: the
    current version is readable at every moment, and at the end it is kept, with no
    version left outside the list of kept ones."""
    savers = [start("save", *loader("--count", "25", keep=1)) for _ in range(3)]
    results = [saver.result(timeout=60) for saver in savers]
    loaded_v1.stop()

    saved = sorted(int(v) for r in results for v in r["versions"])
    assert saved == list(range(2, 77))
    current = store.current_version()
    kept = store.versions()
    assert current in kept and len(kept) <= 2 and str(max(saved)) in kept
    assert version_keys(redis_client, key_prefix) == set(kept)
    assert loaded_v1.failures == [] and loaded_v1.reads > 10
