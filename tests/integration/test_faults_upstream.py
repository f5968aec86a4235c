"""An upstream that misbehaves never costs us the current dataset.

A real local HTTP server (pytest-httpserver) answers POST /load's fetch in each bad way;
each time the current dataset keeps its version and sha256, the error is said in words,
the load ends within the fetch deadline + 1 s, memory stays bounded, and a good fetch
afterwards succeeds."""

from __future__ import annotations

import gzip
import time
import tracemalloc

import pytest
from werkzeug import Response

from dashboard.app import create_app
from dashboard.data.load import load

pytestmark = pytest.mark.faults
DEADLINE = 2.0
CAP = 1024 * 1024


_BOMB = []


def bomb() -> bytes:
    """200 MB of zeros gzipped to ~200 KB, made once."""
    if not _BOMB:
        _BOMB.append(gzip.compress(b"\0" * (200 << 20), 6))
    return _BOMB[0]


def drip():
    for _ in range(1000):
        yield b" "
        time.sleep(0.05)


SCENARIOS = {
    "500": (lambda: Response("boom", status=500), "HTTP 500"),
    "404": (lambda: Response("gone", status=404), "HTTP 404"),
    "html": (
        lambda: Response("<!doctype html><html><body>Maintenance</body></html>", content_type="text/html"),
        "got an HTML page",
    ),
    "truncated": (lambda: Response('{"type": "FeatureCollection", "features": [{"type": "Feat'), "not valid JSON"),
    "not-mmgis": (lambda: Response('{"rover": "Perseverance", "sols": [1, 2, 3]}'), "not a GeoJSON FeatureCollection"),
    "empty": (lambda: Response('{"type": "FeatureCollection", "features": []}'), "FeatureCollection is empty"),
    "too-big": (lambda: Response(b" " * (CAP + 10)), "over the 1,048,576-byte cap"),
    "drip": (lambda: Response(drip()), "did not finish within the 2 s deadline"),
    "gzip-bomb": (lambda: Response(bomb(), headers={"Content-Encoding": "gzip"}), "over the 1,048,576-byte cap"),
    "304": (lambda: Response("", status=304), "304 Not Modified"),
}


@pytest.fixture
def client_and_store(store, settings, httpserver):
    load(store, settings)  # a good dataset first (files)
    bad = settings.replace(
        waypoints_source=httpserver.url_for("/M20_waypoints.json"),
        fetch_deadline=DEADLINE,
        max_bytes=CAP,
        read_timeout=1.0,
    )
    return create_app(bad, store).server.test_client(), store, bad


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_bad_upstream_keeps_the_current_dataset(client_and_store, httpserver, name):
    client, store, _ = client_and_store
    make, words = SCENARIOS[name]
    if name == "gzip-bomb":
        bomb()  # build it before the clock starts
    client.get("/healthz")  # the app's first-request set-up is not the fetch's memory
    httpserver.expect_request("/M20_waypoints.json").respond_with_handler(lambda request: make())
    before = store.meta()
    tracemalloc.start()
    started = time.monotonic()
    resp = client.post("/load")
    took = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert resp.status_code == 502, resp.data
    body = resp.get_json()
    assert words in body["error"] and body["current_version"] == "1"
    assert store.meta()["version"] == before["version"] and store.meta()["sha256"] == before["sha256"]
    assert took < DEADLINE + 1, f"{name}: {took:.2f} s"
    # bounded: a 200 MB gzip bomb or an endless body costs what a 500 answer costs
    # (~10 MB of request handling, measured), plus at most a few times the 1 MiB cap
    assert peak < 16 * CAP, f"{name}: peak {peak / 1e6:.1f} MB"
    print(f"\n{name}: 502 in {took:.2f} s, peak {peak / 1e6:.2f} MB, error: {body['error'][:90]}")


def test_a_good_fetch_after_bad_ones_succeeds(client_and_store, httpserver, fixture_path):
    client, store, _ = client_and_store
    httpserver.expect_request("/M20_waypoints.json").respond_with_handler(lambda r: Response("boom", status=500))
    assert client.post("/load").status_code == 502
    httpserver.clear()
    body = fixture_path("waypoints_v2022_sclk.json").read_bytes()
    httpserver.expect_request("/M20_waypoints.json").respond_with_data(body, headers={"ETag": '"v2"'})
    resp = client.post("/load")
    assert resp.status_code == 200 and resp.get_json()["version"] == "2"
    assert resp.get_json()["waypoints"]["rows"] == 6
