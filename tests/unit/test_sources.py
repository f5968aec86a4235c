"""Fetching from files and from a real local HTTP server (pytest-httpserver)."""

from __future__ import annotations

import gzip
import hashlib
import time

import pytest
from werkzeug import Response

from dashboard.data.fetch import USER_AGENT, FetchError, check_redirect, fetch
from dashboard.data.schema import source_label
from tests.helpers import free_port

BODY = b'{"type": "FeatureCollection", "features": []}'


# --- files ----------------------------------------------------------------------------


def test_local_path(fixture_path):
    path = fixture_path("waypoints_v2024.json")
    got = fetch(str(path))
    assert got.body == path.read_bytes()
    assert got.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert not got.not_modified


def test_file_url(fixture_path):
    path = fixture_path("traverse_v2026.json")
    assert fetch(path.as_uri()).body == path.read_bytes()


@pytest.mark.parametrize(
    "source, problem",
    [
        ("/no/such/file.json", "no such file"),
        ("ftp://example.org/x.json", "unsupported URL scheme 'ftp'"),
        ("", "no source given"),
    ],
)
def test_bad_local_sources(source, problem):
    with pytest.raises(FetchError) as err:
        fetch(source)
    assert problem in str(err.value)


def test_directory_is_refused(tmp_path):
    with pytest.raises(FetchError, match="is a directory|not a regular file"):
        fetch(str(tmp_path))


def test_file_over_the_cap(tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 5000)
    with pytest.raises(FetchError, match="over the 4,096-byte cap"):
        fetch(str(big), max_bytes=4096)


# --- HTTP -----------------------------------------------------------------------------


def test_url_ok_sends_user_agent_and_keeps_validators(httpserver):
    httpserver.expect_request("/M20_waypoints.json", headers={"User-Agent": USER_AGENT}).respond_with_data(
        BODY,
        content_type="application/json",
        headers={"ETag": '"abc"', "Last-Modified": "Wed, 03 Apr 2024 10:00:00 GMT"},
    )
    got = fetch(httpserver.url_for("/M20_waypoints.json"))
    assert got.body == BODY
    assert got.etag == '"abc"'
    assert got.last_modified == "Wed, 03 Apr 2024 10:00:00 GMT"
    assert "PerseveranceTracker/" in USER_AGENT


def test_conditional_request_answers_not_modified(httpserver):
    httpserver.expect_request(
        "/w.json", headers={"If-None-Match": '"abc"', "If-Modified-Since": "Wed, 03 Apr 2024 10:00:00 GMT"}
    ).respond_with_data("", status=304)
    got = fetch(httpserver.url_for("/w.json"), etag='"abc"', last_modified="Wed, 03 Apr 2024 10:00:00 GMT")
    assert got.not_modified and got.body is None
    assert got.etag == '"abc"'  # kept for the next request


@pytest.mark.parametrize(
    "status, text", [(500, "HTTP 500 INTERNAL SERVER ERROR"), (404, "HTTP 404 NOT FOUND"), (503, "HTTP 503")]
)
def test_http_errors(httpserver, status, text):
    httpserver.expect_request("/w.json").respond_with_data("oops", status=status)
    url = httpserver.url_for("/w.json")
    with pytest.raises(FetchError) as err:
        fetch(url)
    assert str(err.value).startswith(f"{source_label(url)}: {text}") and err.value.source == url


def test_declared_length_over_the_cap(httpserver):
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000)
    with pytest.raises(FetchError, match="body is 5,000 bytes, over the 4,096-byte cap"):
        fetch(httpserver.url_for("/big"), max_bytes=4096)


def test_streamed_body_over_the_cap(httpserver):
    def chunks():
        for _ in range(100):
            yield b"x" * 1000

    httpserver.expect_request("/stream").respond_with_response(Response(chunks()))  # chunked, no length
    with pytest.raises(FetchError, match="over the 4,096-byte cap"):
        fetch(httpserver.url_for("/stream"), max_bytes=4096)


def test_gzip_bomb_stops_at_the_cap(httpserver):
    bomb = gzip.compress(b"\0" * (200 * 1024 * 1024), compresslevel=9)  # 200 MB -> ~200 KB
    httpserver.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    started = time.monotonic()
    with pytest.raises(FetchError, match="over the 1,048,576-byte cap"):
        fetch(httpserver.url_for("/bomb"), max_bytes=1024 * 1024)
    assert time.monotonic() - started < 5


def test_gzip_body_is_decoded(httpserver):
    httpserver.expect_request("/gz").respond_with_data(gzip.compress(BODY), headers={"Content-Encoding": "gzip"})
    assert fetch(httpserver.url_for("/gz")).body == BODY


def test_slow_drip_stops_at_the_deadline(httpserver):
    def drip():
        for _ in range(100):
            yield b" "
            time.sleep(0.1)

    httpserver.expect_request("/drip").respond_with_response(Response(drip()))
    started = time.monotonic()
    with pytest.raises(FetchError, match="did not finish within the 1 s deadline"):
        fetch(httpserver.url_for("/drip"), deadline=1.0, read_timeout=5.0)
    assert time.monotonic() - started < 2.0


def test_silent_server_hits_the_read_timeout(httpserver):
    def slow(request):
        time.sleep(1.0)
        return Response(BODY)

    httpserver.expect_request("/silent").respond_with_handler(slow)
    with pytest.raises(FetchError, match="no answer within 0.3 s"):
        fetch(httpserver.url_for("/silent"), read_timeout=0.3)


def test_nothing_listening():
    url = f"http://127.0.0.1:{free_port()}/w.json"
    with pytest.raises(FetchError) as err:
        fetch(url, connect_timeout=1.0)
    assert str(err.value).startswith(f"{source_label(url)}: cannot connect")


@pytest.mark.parametrize(
    ("location", "words"),
    [
        ("https://[64:ff9b::a9fe:a9fe]/latest/meta-data/", "link-local"),  # NAT64 of 169.254.169.254
        ("https://[2002:a9fe:a9fe::1]/", "link-local"),  # 6to4 of 169.254.169.254
        ("https://[::ffff:127.0.0.1]/", "loopback"),
        ("https://[64:ff9b::a00:1]/", "private"),  # NAT64 of 10.0.0.1
    ],
)
def test_a_redirect_to_an_ipv4_address_wrapped_in_ipv6_is_judged_as_that_address(location, words):
    """The loader's redirect check unwraps mapped, 6to4 and NAT64 addresses before judging
    them (each counts as a public IPv6 address otherwise)."""
    with pytest.raises(FetchError) as refused:
        check_redirect("https://mars.nasa.gov/mmgis-maps/M20/Layers/json/M20_waypoints.json", location)
    assert words in str(refused.value)
