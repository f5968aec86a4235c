"""nginx in front of gunicorn, for real: Debian's nginx with deploy/nginx/default.conf.template
(rendered as the official image renders it) before the Procfile's web process.

The fault: gunicorn's threads block on a client that sends its body slowly, so a dozen
such clients take every thread and /healthz times out. Behind nginx (request buffering),
the same clients cost nginx a connection each and gunicorn nothing."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from dashboard.run import procfile_command
from tests.helpers import ROOT, free_port, procfile_env
from tests.nginx import Nginx

SLOW_CLIENTS = 50
HOLD_SECONDS = 30
SAMPLE_EVERY = 0.5
BODY_LENGTH = 1000


def wait_ok(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"web process exited with {proc.returncode} (its log: web.log in the test's tmp dir)")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {timeout} s")


@pytest.fixture
def web(redis_url, key_prefix, redis_client, store, settings, tmp_path):
    """The Procfile's gunicorn (2 workers x 4 threads, as deployed) with data loaded,
    trusting one proxy; yields its port."""
    from dashboard.data.load import load

    load(store, settings)
    port = free_port()
    env = procfile_env(redis_url, key_prefix, port, WEB_THREADS="4", PTRACKER_PROXY_COUNT="1", PTRACKER_EXPORT_RATE="2")
    # a file, not a pipe nobody reads: one JSON access line per request would fill a pipe
    # within a few hundred requests and then block gunicorn's workers on their log writes
    log = open(tmp_path / "web.log", "w")
    proc = subprocess.Popen(
        procfile_command("web"),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    wait_ok(f"http://127.0.0.1:{port}/healthz", proc)
    yield port, proc
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    log.close()


@pytest.fixture
def nginx(web, tmp_path):
    port, _ = web
    server = Nginx(tmp_path / "nginx", f"127.0.0.1:{port}", free_port()).start()
    yield server
    server.stop()
    assert "[emerg]" not in server.error_log() and "[alert]" not in server.error_log(), server.error_log()


class SlowClients:
    """Raw sockets that each POST a body of BODY_LENGTH bytes, one byte a second."""

    def __init__(self, port: int, count: int):
        self.socks, self.broken, self.sent = [], 0, 0
        head = (
            f"POST /perseverance/orientation/yaw HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {BODY_LENGTH}\r\n\r\n"
        ).encode()
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(head)
            self.socks.append(sock)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._drip, daemon=True)
        self.thread.start()

    def _drip(self) -> None:
        while not self.stop.wait(1.0):
            for sock in list(self.socks):
                try:
                    sock.send(b" ")
                    self.sent += 1
                except OSError:
                    self.broken += 1
                    self.socks.remove(sock)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for sock in self.socks:
            sock.close()


def sample(url: str, **kwargs) -> tuple[int, float]:
    started = time.monotonic()
    try:
        status = requests.get(url, timeout=5, **kwargs).status_code
    except requests.RequestException:
        status = 0  # timed out or refused
    return status, time.monotonic() - started


def hold_and_sample(target_port: int, base: str, seconds: float):
    """Hold SLOW_CLIENTS slow bodies against target_port for `seconds`, sampling /healthz
    and a data route on `base` every SAMPLE_EVERY s. Returns (health, data, clients)."""
    clients = SlowClients(target_port, SLOW_CLIENTS)
    health, data = [], []
    try:
        time.sleep(1.5)  # let every slow request reach whoever reads it
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            tick = time.monotonic()
            health.append(sample(base + "/healthz"))
            data.append(sample(base + "/perseverance/sol", headers={"Accept": "application/json"}))
            time.sleep(max(0.0, SAMPLE_EVERY - (time.monotonic() - tick)))
    finally:
        clients.close()
    return health, data, clients


@pytest.mark.faults
@pytest.mark.slow
def test_slow_bodies_through_nginx_do_not_starve_gunicorn(web, nginx):
    proxy_port = int(nginx.base.rsplit(":", 1)[1])
    health, data, clients = hold_and_sample(proxy_port, nginx.base, HOLD_SECONDS)
    worst_health, worst_data = max(t for _, t in health), max(t for _, t in data)
    print(
        f"\n{SLOW_CLIENTS} slow-body clients held {HOLD_SECONDS} s through nginx: {len(health)} /healthz samples, "
        f"worst {worst_health:.3f} s; {len(data)} /perseverance/sol samples, worst {worst_data:.3f} s; "
        f"{clients.sent} body bytes dripped, {clients.broken} slow connections dropped"
    )
    assert len(health) >= HOLD_SECONDS / SAMPLE_EVERY * 0.8
    assert [s for s, _ in health] == [200] * len(health)
    assert [s for s, _ in data] == [200] * len(data)
    assert worst_health < 1.0, health
    assert worst_data < 1.0, data
    # the attack was really held: nginx kept the slow connections open all along
    assert clients.broken == 0
    assert clients.sent >= SLOW_CLIENTS * (HOLD_SECONDS - 2)


def test_nginx_config_buffers_compresses_caches_and_forwards_the_client(web, nginx, redis_client, key_prefix):
    base = nginx.base
    # gzip for JSON, and Dash's fingerprinted bundles cached for a year
    resp = requests.get(base + "/perseverance", headers={"Accept-Encoding": "gzip"}, timeout=5)
    assert resp.status_code == 200 and resp.headers["Content-Encoding"] == "gzip"
    assert resp.json()[0]["type"] == "Feature"
    html = requests.get(base + "/", headers={"Accept": "text/html"}, timeout=5).text
    suites = re.findall(r'src="(/_dash-component-suites/[^"]+)"', html)
    assert suites and any(re.search(r"\.v[\w-]+m[0-9a-f]+\.", u) for u in suites), suites
    for url in suites:
        asset = requests.get(base + url, headers={"Accept-Encoding": "gzip"}, timeout=5)
        assert asset.status_code == 200, url
        assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable", url
        if len(asset.content) > 1024:
            assert asset.headers.get("Content-Encoding") == "gzip", url
    # an error for a fingerprinted URL is never cached for a year
    for missing in (suites[0].replace(".min.js", ".gone.min.js"), "/assets/nothing.css?m=123"):
        gone = requests.get(base + missing, timeout=5)
        assert gone.status_code >= 400 and gone.headers["Cache-Control"] == "no-store", (missing, gone.headers)
    # bodies: over the app's 64 KiB cap the app answers; far over it nginx does, in the same shape
    app_413 = requests.post(base + "/perseverance/orientation/yaw", data=b" " * (70 * 1024), timeout=5)
    assert app_413.status_code == 413 and "65,536" in app_413.json()["error"]
    nginx_413 = requests.post(base + "/perseverance/orientation/yaw", data=b" " * (200 * 1024), timeout=5)
    assert nginx_413.status_code == 413 and nginx_413.json() == {"error": "request body is too large"}
    callback = requests.post(
        base + "/_dash-update-component",
        data=b" " * (1024 * 1024),
        timeout=10,
        headers={"Content-Type": "application/json"},
    )
    assert callback.status_code == 400  # past nginx (1200 KiB there), refused by the app's guard
    # X-Forwarded-For: nginx sets the client's address (a forged one is replaced) and the app
    # trusts exactly that one proxy. The client connects from 127.0.0.2, nginx from 127.0.0.1.
    host, port = base.removeprefix("http://").split(":")
    for _ in range(3):
        conn = http.client.HTTPConnection(host, int(port), timeout=5, source_address=("127.0.0.2", 0))
        conn.request(
            "POST",
            "/perseverance/orientation/yaw",
            body=json.dumps({"start": 13, "end": 14}),
            headers={"Content-Type": "application/json", "X-Forwarded-For": "203.0.113.9"},
        )
        last = conn.getresponse()
        last.read()
        conn.close()
    assert last.status == 429  # PTRACKER_EXPORT_RATE=2: the forged address did not give a fresh allowance
    keys = [k.decode() for k in redis_client.scan_iter(match=f"{key_prefix}limits*")]  # the `limits` windows
    assert keys and all("127.0.0.2" in k for k in keys), keys
    # nginx's own upstream errors are JSON too
    web[1].send_signal(signal.SIGTERM)
    web[1].wait(timeout=30)
    down = requests.get(base + "/perseverance/sol", timeout=10)
    assert down.status_code == 503 and "not answering" in down.json()["error"] and down.headers["Retry-After"]


def test_nginx_passes_or_makes_a_request_id(web, nginx):
    given = requests.get(nginx.base + "/healthz", headers={"X-Request-ID": "edge-test-1"}, timeout=5)
    assert given.headers["X-Request-ID"] == "edge-test-1"
    made = requests.get(nginx.base + "/healthz", timeout=5).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)  # nginx's $request_id


def test_nginx_limits_a_burst_of_anonymous_gets_per_client_and_not_ordinary_browsing(web, nginx):
    """Finding 1: one address firing GETs as fast as it can is answered 429 (JSON, with
    Retry-After) past its burst; someone browsing from another address at the same time,
    page and bundles included, never is."""
    host, port = nginx.base.removeprefix("http://").split(":")

    def get(path: str, source: str, conn=None) -> tuple[int, bytes, dict]:
        own = conn is None
        conn = conn or http.client.HTTPConnection(host, int(port), timeout=10, source_address=(source, 0))
        conn.request("GET", path, headers={"Accept": "text/html" if path == "/" else "application/json"})
        resp = conn.getresponse()
        body = resp.read()
        if own:
            conn.close()
        return resp.status, body, dict(resp.getheaders())

    def flood(n: int) -> list[tuple[int, bytes, dict]]:
        conn = http.client.HTTPConnection(host, int(port), timeout=30, source_address=("127.0.0.3", 0))
        try:
            return [get("/perseverance/sol", "127.0.0.3", conn) for _ in range(n)]
        finally:
            conn.close()

    # eight connections at once: far faster than 20 a second however slow the machine is
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        answers = [a for batch in pool.map(flood, [60] * 8) for a in batch]
    elapsed = time.monotonic() - started
    statuses = [s for s, _, _ in answers]
    assert set(statuses) == {200, 429}, set(statuses)
    # the burst passes at once, then 20 a second: never more (nginx's leaky bucket)
    assert 100 <= statuses.count(200) <= 101 + 20 * elapsed + 5, (statuses.count(200), elapsed)
    refused = next(a for a in answers if a[0] == 429)
    assert json.loads(refused[1]) == {
        "error": "too many requests from your address; slow down and try again in a second"
    }
    assert refused[2]["Retry-After"] == "1"
    # ordinary browsing from another address, right now: the page, its bundles, a few API reads
    status, html, _ = get("/", "127.0.0.4")
    assert status == 200
    urls = re.findall(r'src="(/_dash-component-suites/[^"]+)"', html.decode())
    urls += ["/_dash-layout", "/_dash-dependencies", "/perseverance/current", "/perseverance/position"]
    assert len(urls) > 10
    for _ in range(2):  # a reload
        assert [get(u, "127.0.0.4")[0] for u in urls] == [200] * len(urls)
    for _ in range(10):  # then a person reading: a request every 0.2 s
        assert get("/perseverance/sol", "127.0.0.4")[0] == 200
        time.sleep(0.2)
    time.sleep(1.5)  # the flooder, once it slows down, is served again
    assert get("/perseverance/sol", "127.0.0.3")[0] == 200
