"""An upstream that misbehaves never costs us the current dataset.

A real local HTTP server (pytest-httpserver) answers POST /load's fetch in each bad way;
each time the current dataset keeps its version and sha256, the error is said in words,
the load ends within the fetch deadline + 1 s, memory stays bounded, and a good fetch
afterwards succeeds."""

from __future__ import annotations

import gzip
import io
import re
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


def test_redirects_to_the_metadata_service_or_loopback_are_refused_in_words(httpserver):
    """Finding 8: the loader checks every redirect hop before it is asked."""
    import requests
    from requests.adapters import BaseAdapter
    from requests.models import Response as RequestsResponse

    from dashboard.data.fetch import FetchError, fetch

    # a local source (the tests' fake NASA) may redirect on loopback, never to 169.254.169.254
    httpserver.expect_request("/moved.json").respond_with_data("", status=302, headers={"Location": "/w.json"})
    httpserver.expect_request("/w.json").respond_with_data('{"ok": 1}', content_type="application/json")
    assert fetch(httpserver.url_for("/moved.json")).body == b'{"ok": 1}'
    metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    httpserver.expect_request("/evil.json").respond_with_data("", status=301, headers={"Location": metadata})
    with pytest.raises(FetchError, match=r"refused: 169\.254\.169\.254 is a link-local address, not a public one"):
        fetch(httpserver.url_for("/evil.json"))
    httpserver.expect_request("/private.json").respond_with_data(
        "", status=307, headers={"Location": "http://10.0.0.7/"}
    )
    with pytest.raises(FetchError, match=r"10\.0\.0\.7 is a private address"):
        fetch(httpserver.url_for("/private.json"))
    loops = [0]

    def loop_handler(request):
        loops[0] += 1
        return Response("", status=302, headers={"Location": "/loop.json"})

    httpserver.expect_request("/loop.json").respond_with_handler(loop_handler)
    with pytest.raises(FetchError, match="more than 5 redirects"):
        fetch(httpserver.url_for("/loop.json"))
    assert loops[0] == 6

    # a public https source (NASA's, faked by an adapter: no network) redirecting to loopback
    asked: list[str] = []

    class Redirecting(BaseAdapter):
        def __init__(self, location: str):
            super().__init__()
            self.location = location

        def send(self, request, **kwargs):
            asked.append(request.url)
            resp = RequestsResponse()
            resp.status_code, resp.url, resp.request = 302, request.url, request
            resp.headers["Location"] = self.location
            resp.raw = io.BytesIO(b"")
            return resp

        def close(self):
            pass

    for target, words in [
        ("http://127.0.0.1/admin", "127.0.0.1 is a loopback address"),
        ("http://[::1]:6379/", "::1 is a loopback address"),
        ("http://169.254.169.254/", "169.254.169.254 is a link-local address"),
        ("http://8.8.8.8/M20_waypoints.json", "only https may be followed"),
        ("ftp://8.8.8.8/x", "only https may be followed"),
    ]:
        session = requests.Session()
        session.mount("https://mars.nasa.gov/", Redirecting(target))
        with pytest.raises(FetchError, match=re.escape(words)):
            fetch("https://mars.nasa.gov/mmgis-maps/M20/Layers/json/M20_waypoints.json", session=session)
    assert all(url.startswith("https://mars.nasa.gov/") for url in asked)  # no hop was ever asked
