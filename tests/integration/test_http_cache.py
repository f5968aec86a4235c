"""Compression, validators and cache lifetimes on the app's answers (Flask test client, real Redis)."""

from __future__ import annotations

import gzip
import re

import brotli
import pytest

from dashboard.app import create_app
from dashboard.data.load import load

DATA_ROUTES = [
    "/perseverance",
    "/perseverance?sol_min=14&sol_max=17",
    "/perseverance/orientation",
    "/perseverance/position",
    "/perseverance/waypoints.csv",
    "/perseverance/waypoints.geojson",
    "/perseverance/sol",
]


@pytest.mark.parametrize("path", DATA_ROUTES)
def test_data_answers_carry_validators_and_revalidate_with_304(client, loaded, path):
    first = client.get(path)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert re.fullmatch(r'"v1-[0-9a-f]{24}"', etag)
    assert first.headers["Last-Modified"]
    cc = first.headers["Cache-Control"]
    assert "public" in cc and "max-age=60" in cc and "stale-while-revalidate" in cc
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    since = client.get(path, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304 and since.data == b""
    assert client.get(path, headers={"If-None-Match": '"v0-nope"'}).status_code == 200


def test_etag_names_the_query_and_changes_with_a_new_dataset(client, loaded, store, settings, fixture_path):
    a = client.get("/perseverance").headers["ETag"]
    assert client.get("/perseverance?sol_min=14").headers["ETag"] != a
    assert client.get("/perseverance/position").headers["ETag"] != a
    assert (
        client.get("/perseverance/sol", headers={"Accept": "application/json"}).headers["ETag"]
        != client.get("/perseverance/sol", headers={"Accept": "text/plain"}).headers["ETag"]
    )
    load(store, settings.replace(waypoints_source=str(fixture_path("waypoints_sentinels.json"))))
    fresh = client.get("/perseverance", headers={"If-None-Match": a})
    assert fresh.status_code == 200  # the old tag no longer matches: a new body
    assert fresh.headers["ETag"].startswith('"v2-') and fresh.headers["ETag"] != a


def test_compressed_answers_and_their_etags(client, loaded):
    for enc, decode in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        resp = client.get("/perseverance", headers={"Accept-Encoding": enc})
        assert resp.headers["Content-Encoding"] == enc
        assert "Accept-Encoding" in resp.headers["Vary"]
        plain = client.get("/perseverance").data
        assert decode(resp.data) == plain
        tag = resp.headers["ETag"]
        assert tag.endswith(f':{enc}"')
        again = client.get("/perseverance", headers={"Accept-Encoding": enc, "If-None-Match": tag})
        assert again.status_code == 304 and again.data == b""
    csv = client.get("/perseverance/waypoints.csv", headers={"Accept-Encoding": "gzip"})
    assert csv.headers.get("Content-Encoding") == "gzip"


def test_errors_carry_no_validators(client):
    resp = client.get("/perseverance")  # nothing loaded: 503
    assert resp.status_code == 503 and "ETag" not in resp.headers


def test_page_scripts_are_compressed_and_fingerprinted_ones_immutable(client, loaded):
    html = client.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    scripts = re.findall(r'src="(/_dash-component-suites/[^"]+)"', html)
    assert scripts
    for url in scripts:
        resp = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
        assert resp.status_code == 200
        assert resp.headers["Content-Encoding"] == "br", url
        if re.search(r"\.v\d+_\d+_\d+m\d+", url):
            assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable", url
    page = client.get("/", headers={"Accept": "text/html", "Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip"
    assert b"<title>Perseverance Tracker</title>" in gzip.decompress(page.data)


def test_metrics_are_not_published_through_the_proxy(settings, store):
    client = create_app(settings.replace(proxy_count=1), store).server.test_client()
    assert client.get("/metrics").status_code == 200  # a scrape straight at the pod
    hidden = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert hidden.status_code == 404 and b"ptracker_" not in hidden.data


def test_one_off_answers_do_not_fill_the_compressed_cache_or_push_out_the_bundle(client, loaded):
    """The compressed bodies are kept in a segmented LRU: a crawler's one-off sol ranges
    churn only its probation quarter, and a body asked for twice (plotly's bundle, the full
    range) stays. Before, one-off answers filled all of its 64 MB (bench/bench_memory.py)
    and pushed the bundle out, to be compressed again (246 ms of brotli)."""
    from dashboard.api.http_cache import _CompressedCache

    cache = _CompressedCache(max_bytes=40_000, max_entries=16)
    bundle = "/_dash-component-suites/plotly.min.js;br"
    assert cache.get(bundle) is None
    cache.set(bundle, b"b" * 4_000)  # the first visitor: compressed, kept on probation
    assert cache.get(bundle) is not None  # the second: kept for good
    for n in range(500):  # one-off ranges, each asked once
        key = f"v1-{n:05d}:gzip;gzip"
        assert cache.get(key) is None
        cache.set(key, b"x" * 3_000)
    assert cache.get(bundle) == b"b" * 4_000
    assert cache.size <= 4_000 + 4 * 3_000  # the bundle and the probation quarter (4 of 16)
    # and the app's own cache is this one
    installed = next(h.__self__.cache for h in client.application.after_request_funcs[None] if hasattr(h, "__self__"))
    assert isinstance(installed, _CompressedCache)
