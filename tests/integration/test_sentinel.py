"""Redis high availability for real: a primary, a replica and three ``redis-sentinel``
processes (Debian's ``redis-sentinel``), each on a free port in a folder of its own; the
Procfile's ``web`` and ``worker`` pointed at the sentinels (``REDIS_SENTINELS``), never at a
Redis. Reads and export submissions keep flowing while the primary is SIGKILLed:

- the data routes answer 503 JSON (in words) during the switch, or 200, and 200 again
  within 15 s of the kill, with no process restarted;
- the dataset is on the promoted replica;
- every export answered 202 finishes (the worker follows the new primary), and an export
  asked for while no replica can confirm it is answered 503 in words, never 202.

Passwords on both sides (``REDIS_PASSWORD`` for the data, ``REDIS_SENTINEL_PASSWORD`` for
the sentinels); short sentinel timeouts (down after 1 s) keep it fast.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import requests

from dashboard.data.load import load
from dashboard.data.store import DatasetStore
from dashboard.run import procfile_command
from dashboard.settings import Settings
from tests.helpers import FIXTURES, NO_CONTEXT, ROOT, TUNED_WORKER, free_port

pytestmark = pytest.mark.faults

SENTINEL = shutil.which("redis-sentinel")
MASTER = "mymaster"
DATA_PASSWORD, SENTINEL_PASSWORD = "data-secret-for-tests", "sentinel-secret-for-tests"
#: The data routes answer 200 again within this many seconds of the kill.
SWITCH_SECONDS = 15
READS = ("/perseverance", "/perseverance/orientation")


def wait_until(check, seconds: float, what: str, procs: dict | None = None) -> float:
    """Poll ``check()`` until true (every 0.1 s); the seconds it took. Fails when time runs
    out or when one of ``procs`` exits."""
    started = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - started
        except (redis.RedisError, requests.RequestException):
            pass
        for name, proc in (procs or {}).items():
            assert proc.poll() is None, f"{name} exited with {proc.returncode} while waiting for {what}"
        assert time.monotonic() - started < seconds, f"no {what} within {seconds} s"
        time.sleep(0.1)


class Group:
    """Private Redis processes (servers and sentinels), stopped (SIGKILL) at the end."""

    def __init__(self, root: Path):
        self.root = root
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        folder = self.root / name
        folder.mkdir(exist_ok=True)
        log = open(folder / "log", "w")  # noqa: SIM115 - closed by the process's end
        proc = subprocess.Popen(argv, cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def server(self, name: str, port: int, replica_of: int | None = None) -> redis.Redis:
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.root / name)]
        argv += ["--save", "", "--appendonly", "no", "--requirepass", DATA_PASSWORD, "--masterauth", DATA_PASSWORD]
        if replica_of:
            argv += ["--replicaof", "127.0.0.1", str(replica_of)]
        self.start(name, argv)
        client = redis.Redis(port=port, password=DATA_PASSWORD, socket_timeout=2)
        wait_until(client.ping, 10, f"{name} answering")
        return client

    def sentinel(self, name: str, port: int, primary: int) -> redis.Redis:
        folder = self.root / name
        folder.mkdir(exist_ok=True)
        conf = folder / "sentinel.conf"  # the sentinel rewrites it: a file of its own, writable
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {folder}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {primary} 2\n"
            f"sentinel down-after-milliseconds {MASTER} 1000\n"
            f"sentinel failover-timeout {MASTER} 4000\n"
            f"sentinel parallel-syncs {MASTER} 1\n"
            f"sentinel auth-pass {MASTER} {DATA_PASSWORD}\n"
            f"requirepass {SENTINEL_PASSWORD}\nsentinel sentinel-pass {SENTINEL_PASSWORD}\n"
        )
        self.start(name, [str(SENTINEL), str(conf)])
        client = redis.Redis(port=port, password=SENTINEL_PASSWORD, socket_timeout=2)
        wait_until(client.ping, 10, f"{name} answering")
        return client

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@dataclass
class Traffic:
    """What the reader and the submitter saw: (seconds since start, path, status, JSON or text)."""

    started: float = field(default_factory=time.monotonic)
    reads: list[tuple[float, str, int, object]] = field(default_factory=list)
    exports: list[tuple[float, int, object]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def now(self) -> float:
        return time.monotonic() - self.started


def answer(resp: requests.Response) -> object:
    try:
        return resp.json()
    except ValueError:
        return resp.text[:300]


def read_loop(base: str, traffic: Traffic) -> None:
    with requests.Session() as http:
        while not traffic.stop.is_set():
            for path in READS:
                try:
                    resp = http.get(base + path, timeout=10)
                    traffic.reads.append((traffic.now(), path, resp.status_code, answer(resp)))
                except requests.RequestException as exc:  # a dropped connection is a failure too
                    traffic.reads.append((traffic.now(), path, 0, str(exc)))
            traffic.stop.wait(0.05)


def submit_loop(base: str, traffic: Traffic, widths: Iterator[int]) -> None:
    with requests.Session() as http:
        while not traffic.stop.is_set():
            width = next(widths)
            try:
                resp = http.post(
                    base + "/perseverance/orientation/yaw", json={"width": width, "height": 300}, timeout=10
                )
                traffic.exports.append((traffic.now(), resp.status_code, answer(resp)))
            except requests.RequestException as exc:
                traffic.exports.append((traffic.now(), 0, str(exc)))
            traffic.stop.wait(0.25)


@dataclass
class Ha:
    """The running set: clients of the primary, the replica and the three sentinels."""

    primary: redis.Redis
    replica: redis.Redis
    replica_port: int
    sentinel_ports: list[int]
    sentinels: list[redis.Redis]
    procs: dict[str, subprocess.Popen]
    version: bytes


PREFIX = "ptracker:"


@pytest.fixture
def ha(tmp_path):
    """A primary, its replica, three sentinels watching them; the fixture dataset loaded
    through the primary and confirmed by the replica."""
    if SENTINEL is None:
        pytest.skip("redis-sentinel is not installed (make system-deps-test installs it)")
    group = Group(tmp_path)
    try:
        primary_port, replica_port = free_port(), free_port()
        primary = group.server("primary", primary_port)
        replica = group.server("replica", replica_port, replica_of=primary_port)
        wait_until(lambda: replica.info("replication")["master_link_status"] == "up", 20, "the replica in sync")
        ports = [free_port() for _ in range(3)]
        sentinels = [group.sentinel(f"sentinel{i}", port, primary_port) for i, port in enumerate(ports)]
        # every sentinel knows the replica and the two others before the primary can fail
        wait_until(
            lambda: all(
                len(s.sentinel_slaves(MASTER)) == 1 and len(s.sentinel_sentinels(MASTER)) == 2 for s in sentinels
            ),
            30,
            "the sentinels to know each other and the replica",
        )
        settings = Settings(
            waypoints_source=str(FIXTURES / "waypoints_v2024.json"),
            traverse_source=str(FIXTURES / "traverse_v2026.json"),
            current_source=None,
            **NO_CONTEXT,
            key_prefix=PREFIX,
        )
        load(DatasetStore(primary, PREFIX, 3), settings)
        version = primary.get(PREFIX + "dataset:current")
        assert version is not None and primary.wait(1, 5000) == 1
        yield Ha(primary, replica, replica_port, ports, sentinels, group.procs, version)
    finally:
        group.stop()


@pytest.fixture
def apps(ha, tmp_path):
    """The Procfile's web and worker, pointed at the sentinels (no REDIS_URL); the web's base
    URL and the processes. Both must stop cleanly on SIGTERM, without a traceback."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        REDIS_SENTINELS=",".join(f"127.0.0.1:{p}" for p in ha.sentinel_ports),
        REDIS_SENTINEL_MASTER=MASTER,
        REDIS_PASSWORD=DATA_PASSWORD,
        REDIS_SENTINEL_PASSWORD=SENTINEL_PASSWORD,
        PTRACKER_KEY_PREFIX=PREFIX,
        PTRACKER_REPLICA_WAIT="5",
        PTRACKER_DATA_DIR=str(tmp_path / "var"),  # never an embedded Redis: this run has sentinels
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="1",
        PTRACKER_ACCESS_LOG="0",
        PTRACKER_EXPORT_RATE="1000",
        PTRACKER_QUEUE_CLIENT_MAX="200",
        PTRACKER_EXPORT_TIMEOUT="10",
        PTRACKER_EXPORT_RETRIES="3",
        PTRACKER_WORKER_QUEUES="exports",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        **TUNED_WORKER,
    )
    (tmp_path / "metrics").mkdir()
    procs: dict[str, subprocess.Popen] = {}
    for name in ("web", "worker"):
        log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed by the process's end
        procs[name] = subprocess.Popen(
            procfile_command(name), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(base + READS[1], timeout=5).status_code == 200, 60, "the web", procs)
        wait_until(lambda: "Listening on exports" in (tmp_path / "worker.log").read_text(), 60, "the worker", procs)
        yield base, procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    logs = {name: (tmp_path / f"{name}.log").read_text() for name in procs}
    assert {name: proc.returncode for name, proc in procs.items()} == {"web": 0, "worker": 0}, logs
    assert not any("Traceback" in text for text in logs.values()), logs


@contextmanager
def flowing(base: str) -> Iterator[Traffic]:
    """Reads and export submissions flowing from two threads until the block ends."""
    traffic = Traffic()
    widths = iter(range(300, 2000))  # a new export each time (the same request is the same job)
    threads = [
        threading.Thread(target=read_loop, args=(base, traffic), daemon=True),
        threading.Thread(target=submit_loop, args=(base, traffic, widths), daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        yield traffic
    finally:
        traffic.stop.set()
        for thread in threads:
            thread.join(15)


def acknowledged(traffic: Traffic, before: float = float("inf")) -> list[str]:
    """The ids of the exports answered 202 (before ``before``)."""
    return [body["id"] for t, status, body in traffic.exports if status == 202 and t < before]


def check_reads(traffic: Traffic, killed: float) -> tuple[float, int]:
    """200 before the kill; 200 or 503 JSON in words after it, and only 200 from some moment
    within SWITCH_SECONDS: that moment, and how many 503s were answered."""
    assert all(status == 200 for t, _, status, _ in traffic.reads if t < killed)
    during = [(t, path, status, body) for t, path, status, body in traffic.reads if t > killed]
    assert {status for _, _, status, _ in during} <= {200, 503}, during
    refused = [body for _, _, status, body in during if status == 503]
    assert all(isinstance(body, dict) and "Redis" in body["error"] for body in refused), refused
    recovered = max((t for t, _, status, _ in during if status != 200), default=killed)
    assert recovered - killed <= SWITCH_SECONDS
    return recovered - killed, len(refused)


def check_submissions(traffic: Traffic, killed: float, promoted: float) -> int:
    """202 before the kill (a replica confirms within PTRACKER_REPLICA_WAIT); then 202 or 503
    in words, and once the replica is promoted (no replica left to confirm a job) 503 saying
    so. How many were answered 503."""
    for t, status, body in traffic.exports:
        assert status == 202 if t < killed else status in (202, 503), (t, status, body)
        if status == 503:
            assert isinstance(body, dict) and "Redis" in body["error"], body
    # once the replica is promoted no replica is left: submissions are refused in those words
    # (a 503 of a web process still reconnecting says Redis is away: also in words)
    settled = [body for t, status, body in traffic.exports if t > killed + promoted + 2 and status == 503]
    assert not settled or any("no Redis replica confirmed" in body["error"] for body in settled), settled
    return sum(1 for _, status, _ in traffic.exports if status == 503)


def sentinel_master(sentinels: list[redis.Redis]) -> int | None:
    """The primary's port as the sentinels agree on it (None while they do not)."""
    ports = {int(s.sentinel_get_master_addr_by_name(MASTER)[1]) for s in sentinels}
    return ports.pop() if len(ports) == 1 else None


@pytest.mark.timeout(300)
def test_a_failover_is_followed_without_a_restart_and_no_acknowledged_export_is_lost(ha, apps):
    base, procs = apps
    pids = {name: proc.pid for name, proc in procs.items()}

    def finished_before_kill() -> int:
        return sum(1 for job_id in acknowledged(traffic) if ha.primary.zscore("rq:finished:exports", job_id))

    with flowing(base) as traffic:
        # exports acknowledged and drawn before the kill, and more still waiting at the kill
        wait_until(lambda: finished_before_kill() >= 2 and len(traffic.exports) >= 6, 60, "exports drawn", procs)
        ha.procs["primary"].send_signal(signal.SIGKILL)
        killed = traffic.now()
        ha.procs["primary"].wait(10)
        # the sentinels promote the replica; the web answers 200 again without a restart
        wait_until(lambda: sentinel_master(ha.sentinels) == ha.replica_port, SWITCH_SECONDS, "the promotion")
        promoted = traffic.now() - killed

        def back() -> bool:
            last = [status for t, _, status, _ in traffic.reads if t > max(killed, traffic.now() - 1.0)]
            return len(last) >= 2 and set(last) == {200}

        wait_until(back, SWITCH_SECONDS - (traffic.now() - killed), "only 200s after the switch", procs)
        wait_until(lambda: traffic.exports[-1][0] > killed + promoted + 2, 10, "a submission after the switch")

    took, reads_refused = check_reads(traffic, killed)
    exports_refused = check_submissions(traffic, killed, promoted)
    # no restart; the dataset is on the new primary
    assert all(proc.poll() is None for proc in procs.values()) and {n: p.pid for n, p in procs.items()} == pids
    assert ha.replica.info("replication")["role"] == "master"
    assert ha.replica.get(PREFIX + "dataset:current") == ha.version
    assert ha.replica.exists(PREFIX + f"dataset:v:{ha.version.decode()}")

    # every export answered 202 finishes: the worker follows the new primary
    ids = acknowledged(traffic)
    assert len(ids) >= 6

    def all_finished() -> bool:
        statuses = [requests.get(f"{base}/jobs/{job_id}", timeout=5).json()["status"] for job_id in ids]
        assert "failed" not in statuses, statuses
        return set(statuses) == {"finished"}

    drained = wait_until(all_finished, 120, "every acknowledged export finished", procs)
    got = requests.get(f"{base}/download/{ids[-1]}", timeout=10)
    assert got.status_code == 200 and got.content[:8] == b"\x89PNG\r\n\x1a\n"
    print(
        f"\nkilled at {killed:.1f} s; promoted after {promoted:.1f} s; reads all 200 again {took:.1f} s after "
        f"the kill ({reads_refused} answered 503 meanwhile); {len(ids)} exports answered 202 "
        f"({len(acknowledged(traffic, killed))} before the kill), all finished {drained:.1f} s later; "
        f"{exports_refused} answered 503 after the kill"
    )
