"""A tracker that tracks: the Procfile's ``clock``, ``worker`` and ``web`` processes, with
NASA's layers served by a local HTTP server (tests/upstream.py) whose files the tests
replace or break, and a refresh every PERIOD seconds.

- a newer current-position file is on the page's routes within two periods, with one more
  change in /perseverance/changes and in the feed;
- periods with unchanged files make no version and fetch no body (only 304s);
- an upstream failing (500, a timeout, HTML, an empty FeatureCollection) keeps the data,
  the load record says since when, /metrics counts the failed refreshes;
- with PTRACKER_REFRESH_SECONDS=0 the clock idles, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from dashboard.run import procfile_command
from tests.helpers import FIXTURES, ROOT, TUNED_WORKER, free_port, procfile_env
from tests.upstream import Upstream

pytestmark = pytest.mark.faults
PERIOD = 2
ATOM = "{http://www.w3.org/2005/Atom}"
FILES = {"waypoints": "waypoints_v2024.json", "traverse": "traverse_v2026.json", "current": "current_v2026.json"}


@pytest.fixture
def nasa(tmp_path):
    folder = tmp_path / "nasa"
    folder.mkdir()
    for name in FILES.values():
        shutil.copyfile(FIXTURES / name, folder / name)
    with Upstream(folder, hang_seconds=3) as up:
        yield up


@pytest.fixture
def processes(request, redis_url, key_prefix, redis_client, nasa, tmp_path):
    """The Procfile's web, worker and clock on the test's Redis, NASA's layers at ``nasa``,
    one Prometheus folder (web's /metrics shows the worker's refresh counts); their base URL.
    Parametrized (indirect), the worker's PTRACKER_WORKER_QUEUES."""
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    port = free_port()
    env = procfile_env(
        redis_url,
        key_prefix,
        port,
        WEB_CONCURRENCY="1",
        PTRACKER_WAYPOINTS_SOURCE=nasa.url(FILES["waypoints"]),
        PTRACKER_TRAVERSE_SOURCE=nasa.url(FILES["traverse"]),
        PTRACKER_CURRENT_SOURCE=nasa.url(FILES["current"]),
        PTRACKER_REFRESH_SECONDS=str(PERIOD),
        PTRACKER_CONNECT_TIMEOUT="1",
        PTRACKER_READ_TIMEOUT="1",
        PTRACKER_FETCH_DEADLINE="2",
        PTRACKER_WARM_BROWSER="0",
        PTRACKER_ACCESS_LOG="0",
        PROMETHEUS_MULTIPROC_DIR=str(metrics),
        **TUNED_WORKER,
    )
    if getattr(request, "param", None):
        env["PTRACKER_WORKER_QUEUES"] = request.param
    procs = {}
    for name in ("web", "worker", "clock"):
        log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed by the process's end
        procs[name] = subprocess.Popen(
            procfile_command(name), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: get(base, "/perseverance/current").status_code == 200, 45, procs, "the first refresh")
        yield base, procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        codes = {name: proc.wait(30) for name, proc in procs.items()}
        logs = {name: (tmp_path / f"{name}.log").read_text() for name in procs}
    assert codes["clock"] == 0 and codes["worker"] == 0, logs
    assert not any("Traceback" in text for text in logs.values()), logs
    assert "refreshing the layers every 2 s" in logs["clock"]
    queues = getattr(request, "param", None) or "exports, refresh"
    assert f"Listening on {queues}..." in logs["worker"]


def get(base: str, path: str, **kwargs) -> requests.Response:
    try:
        return requests.get(base + path, timeout=5, **kwargs)
    except requests.RequestException as exc:  # not listening yet
        response = requests.Response()
        response.status_code, response.reason = 599, str(exc)
        return response


def wait_for(check, seconds: float, procs: dict, what: str) -> float:
    """Poll ``check()`` until true; the seconds it took. Fails if a process exits or time runs out."""
    started = time.monotonic()
    while not check():
        for name, proc in procs.items():
            assert proc.poll() is None, f"{name} exited with {proc.returncode} while waiting for {what}"
        assert time.monotonic() - started < seconds, f"no {what} within {seconds} s"
        time.sleep(0.1)
    return time.monotonic() - started


def refreshes(base: str, outcome: str) -> float:
    text = get(base, "/metrics").text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "ptracker_refresh_total" and s.labels.get("outcome") == outcome
    )


def newer_current(sol: int) -> bytes:
    body = json.loads((FIXTURES / FILES["current"]).read_text())
    props = body["features"][0]["properties"]
    props.update(sol=sol, RMC="4_700", drive=700, lon=77.4541, lat=18.4417, dist_total_m=170.5)
    body["features"][0]["geometry"]["coordinates"] = [77.4541, 18.4417, -2567.3]
    return json.dumps(body).encode()


def settled(base: str, path: str) -> requests.Response:
    """``path``'s answer, retried as its Retry-After says while a new version's change is
    being recorded (503 just after the version switched)."""
    for _ in range(50):
        resp = get(base, path)
        if resp.status_code != 503 or "Retry-After" not in resp.headers:
            break
        time.sleep(float(resp.headers["Retry-After"]) / 10)
    assert resp.status_code == 200, resp.text
    return resp


def feed_entries(base: str) -> list[ET.Element]:
    return ET.fromstring(settled(base, "/perseverance/feed.atom").content).findall(f"{ATOM}entry")


def test_new_data_is_picked_up_and_unchanged_data_costs_nothing(processes, nasa, store):
    base, procs = processes
    assert get(base, "/perseverance/current").json()["sol"] == 19  # the current position, after sol 18
    assert len(settled(base, "/perseverance/changes").json()) == len(feed_entries(base)) == 1
    # three periods with the same files: no version, no body, only conditional requests
    nasa.reset()
    unchanged = refreshes(base, "unchanged")
    wait_for(lambda: refreshes(base, "unchanged") >= unchanged + 3, 3 * PERIOD + 10, procs, "three refreshes")
    assert store.versions() == ["1"]
    assert nasa.stats["bodies"] == nasa.stats["body_bytes"] == 0
    assert nasa.stats["requests"] == nasa.stats["not_modified"] >= 9
    # NASA publishes a newer current position: on the routes within two periods
    nasa.put(FILES["current"], newer_current(20))
    took = wait_for(lambda: get(base, "/perseverance/current").json()["sol"] == 20, 2 * PERIOD + 5, procs, "sol 20")
    assert took <= 2 * PERIOD + 1, f"sol 20 showed after {took:.1f} s"
    assert get(base, "/perseverance/sol").text == "Most recent data waypoint is at Sol-20"
    listed = settled(base, "/perseverance/changes").json()
    assert [c["newest"]["sol"] for c in listed] == [20, 19] and listed[0]["version"] == "2"
    entries = feed_entries(base)
    assert len(entries) == 2
    assert entries[0].findtext(f"{ATOM}title") == "Sol 20: drove 30 m, now at 77.4541° E, 18.4417° N"
    assert store.versions() == ["1", "2"]


@pytest.mark.parametrize("processes", ["refresh"], indirect=True)  # as the clock's pod in Kubernetes
def test_upstream_failures_keep_the_data_and_say_since_when(processes, nasa, store):
    base, procs = processes
    version = store.current_version()
    first_failure = None
    for fault in ("500", "hang", "html", "empty"):
        nasa.fault[FILES["waypoints"]] = fault
        wait_for(lambda f=fault: nasa.stats[f"fault_{f}"] >= 1, 2 * PERIOD + 5, procs, f"a {fault} fetch")
        failed = refreshes(base, "failed")
        wait_for(lambda n=failed: refreshes(base, "failed") > n, 2 * PERIOD + 5, procs, f"a refresh failed by {fault}")
        record = store.last_load()
        assert record["ok"] is False and record["failing_since"]
        first_failure = first_failure or record["failing_since"]
        assert record["failing_since"] == first_failure  # the first failed attempt since the last success
        assert store.current_version() == version
        assert get(base, "/perseverance/sol").text == "Most recent data waypoint is at Sol-19"
    assert refreshes(base, "failed") >= 4
    del nasa.fault[FILES["waypoints"]]
    wait_for(lambda: (store.last_load() or {}).get("ok") is True, 2 * PERIOD + 5, procs, "a good refresh")
    assert "failing_since" not in store.last_load() and store.current_version() == version
    families = {f.name: f for f in text_string_to_metric_families(get(base, "/metrics").text)}
    age = families["ptracker_newest_sol_age_seconds"].samples[0].value
    assert age > 4 * 365 * 86400  # sol 19 began in March 2021


def test_the_clock_idles_when_the_refresh_is_off(redis_url, key_prefix, redis_client, tmp_path):
    env = procfile_env(redis_url, key_prefix, PTRACKER_REFRESH_SECONDS="0", PTRACKER_LOG_FORMAT="text")
    clock = subprocess.Popen(
        procfile_command("clock"), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    said = clock.stdout.readline()  # the clock's first line, once it is idling
    assert "scheduled refresh is off (PTRACKER_REFRESH_SECONDS=0): the clock idles until stopped" in said
    time.sleep(1)
    assert clock.poll() is None  # still there: a platform would restart a clock that exits
    clock.send_signal(signal.SIGTERM)
    out, _ = clock.communicate(timeout=10)
    assert clock.returncode == 0, said + out
    assert redis_client.keys("rq:queue:refresh") == []


@pytest.mark.parametrize("seconds", ["0", "900"])
def test_the_clock_stops_on_ctrl_c_followed_by_sigterm(redis_url, key_prefix, seconds):
    """`make run`'s Ctrl-C: the terminal's SIGINT, then the supervisor's SIGTERM right after
    it. Handlers that set an Event, raised, or slept while the signal went to another thread
    left the clock running in up to 9 of 40 such pairs; every one of ten must end it, exit 0,
    idle or scheduling."""
    env = procfile_env(redis_url, key_prefix, PTRACKER_REFRESH_SECONDS=seconds, PTRACKER_LOG_FORMAT="text")
    ready = "the clock idles until stopped" if seconds == "0" else "refreshing the layers every 900 s"
    for _ in range(10):
        clock = subprocess.Popen(
            procfile_command("clock"), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert ready in clock.stdout.readline()
        clock.send_signal(signal.SIGINT)
        clock.send_signal(signal.SIGTERM)
        try:
            assert clock.wait(timeout=5) == 0
            assert "Traceback" not in clock.stdout.read()
        finally:
            if clock.poll() is None:
                clock.kill()
                clock.wait()
            clock.stdout.close()


def test_a_worker_on_an_unknown_queue_says_so(redis_url, key_prefix):
    env = procfile_env(redis_url, key_prefix, PTRACKER_WORKER_QUEUES="exports,refrsh")
    res = subprocess.run(procfile_command("worker"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert res.stderr.strip() == "error: PTRACKER_WORKER_QUEUES: no queue refrsh; known: exports, refresh"
