"""HTTP caching and compression for the app's own answers.

- Compression (flask-compress): brotli or gzip, as the client asks, for HTML, JS, CSS,
  JSON, CSV, GeoJSON and SVG. Compressed bodies of Dash's fingerprinted scripts and of
  data answers (keyed by their ETag) are kept in a small per-process cache, so the 4.8 MB
  plotly.min.js is compressed once per process, not once per visitor.
- Validators on data answers (``/perseverance*``, CSV, GeoJSON): a strong ETag derived
  from the dataset version and the normalised query, ``Last-Modified`` from the time the
  dataset was loaded, ``Cache-Control: public, max-age=60, stale-while-revalidate=300``
  (configurable). ``If-None-Match`` (or ``If-Modified-Since``) is answered 304 with no
  body *before* the view runs. flask-compress appends ``:gzip`` / ``:br`` to a strong
  ETag it compresses; such tags match too.
- Fingerprinted Dash assets (``/_dash-component-suites/...v4_4_1m1700000000.js``) get
  ``public, max-age=31536000, immutable``: a new Dash version changes the URL.
- The current dataset version comes from the store on every data request (remembered by
  the process until Redis says it changed: ``dashboard/data/watch.py``), so every web
  process answers from the new version within milliseconds of a load's switch.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from dash.fingerprint import check_fingerprint
from flask import Flask, Response, g, request
from flask_compress import Compress

from dashboard.api.blueprint import TWIN, rover_of_endpoint
from dashboard.data.memo import Memo
from dashboard.marstime import parse_utc
from dashboard.rovers import DEFAULT_ROVER
from dashboard.settings import Settings

#: Endpoints whose GET answers depend only on (dataset version, query, [Accept]).
DATA_ENDPOINTS = {
    "api.perseverance": False,  # name -> varies on Accept
    "api.latest_sol": True,
    "api.orientation": False,
    "api.position": False,
    "api.waypoints_csv": False,
    "api.waypoints_geojson": False,
    "api.change_list": False,  # the changes are recorded with the version that brings them
    "api.feed_atom": False,
    # the context layers (the relief PNG has its own: its fingerprint, immutable)
    "api.ingenuity_flights": False,
    "api.ingenuity_flights_csv": False,
    "api.ingenuity_flights_geojson": False,
    "api.samples": False,
    "api.samples_csv": False,
    "api.samples_geojson": False,
    "api.terrain": False,
    "api.rover_terrain": False,
}
COMPRESS_MIMETYPES = [
    "text/html",
    "text/css",
    "text/plain",
    "text/csv",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/geo+json",
    "application/atom+xml",
    "image/svg+xml",
    "application/xml",
    "image/x-icon",
    "image/vnd.microsoft.icon",
]
ENCODING_SUFFIXES = (":br", ":gzip", ":deflate", ":zstd")


def etag_for(dataset, endpoint: str, vary_accept: bool) -> str:
    """The answer's strong ETag: the dataset (content hash and version), the route, the
    normalised query (arguments sorted) and, for /perseverance/sol, the negotiated type."""
    args = sorted((k, v) for k, v in request.args.items(multi=True))
    key = [dataset.meta.get("sha256") or "", dataset.version, endpoint, repr(args)]
    if vary_accept:
        key.append(request.accept_mimetypes.best_match(["text/plain", "application/json"]) or "")
    digest = hashlib.blake2b("\x1f".join(key).encode(), digest_size=12).hexdigest()
    return f"v{dataset.version}-{digest}"


def _loaded_at(dataset) -> datetime | None:
    when = parse_utc(dataset.meta.get("loaded_at"))
    return None if when is None else when.replace(microsecond=0)


def _matches(header: str, tag: str) -> str | None:
    """The entry of If-None-Match that names ``tag`` (with or without an encoding suffix)."""
    for raw in header.split(","):
        item = raw.strip()
        if item == "*":
            return f'"{tag}"'
        value = item[2:] if item.startswith("W/") else item
        value = value.strip('"')
        for suffix in ENCODING_SUFFIXES:
            if value.endswith(suffix):
                value = value[: -len(suffix)]
                break
        if value == tag:
            return item
    return None


def none_match(tag: str) -> str | None:
    """The entry of the request's If-None-Match that names ``tag`` (None: no header, or
    the header names other tags): for routes that validate their answers themselves."""
    header = request.headers.get("If-None-Match")
    return _matches(header, tag) if header else None


class _CompressedCache:
    """flask-compress's cache backend: bounded, per process; only named keys are kept. It pays:
    brotli (level 5) of the 4.8 MB plotly.min.js takes 246 ms (bench/bench_caches.py, 2026-12-06),
    paid once per process instead of once per visitor. A segmented LRU (:class:`Memo`): a
    body is kept for good once asked for twice, so a crawler's one-off sol ranges churn only
    a quarter of the entries (before, they filled its 64 MB: bench/bench_memory.py)."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024, max_entries: int = 256):
        self.max_bytes = max_bytes
        self._items = Memo(max_entries=max_entries, max_bytes=max_bytes)

    @property
    def size(self) -> int:
        """Bytes kept."""
        return self._items._bytes

    def get(self, key: str):
        if key.endswith(";None"):
            return None
        return self._items.lookup(key)

    def set(self, key: str, value: bytes) -> None:
        if key.endswith(";None") or len(value) > self.max_bytes // 4:
            return
        self._items.put(key, value)


def _compress_cache_key(req) -> str | None:
    if req.path.startswith("/_dash-component-suites/"):
        return req.path  # not full_path: a junk query string must not make it compress again
    return g.get("ptracker_etag")


def install_compression(server: Flask) -> None:
    """brotli/gzip for the app's text answers. Call it before any other ``after_request``
    hook is registered: Flask runs them in reverse order, so compression then runs last
    and sees the final body and headers (the ETag included)."""

    server.config.setdefault("COMPRESS_MIMETYPES", COMPRESS_MIMETYPES)
    server.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    server.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["br", "deflate"])  # files (assets/)
    server.config.setdefault("COMPRESS_BR_LEVEL", 5)
    server.config.setdefault("COMPRESS_LEVEL", 6)
    server.config.setdefault("COMPRESS_MIN_SIZE", 500)
    server.config.setdefault("COMPRESS_CACHE_KEY", _compress_cache_key)
    server.config.setdefault("COMPRESS_CACHE_BACKEND", _CompressedCache)
    Compress(server)


def _validator_hit(tag: str, loaded: datetime | None) -> str | None:
    """The ETag the request's If-None-Match (or If-Modified-Since) matches, or None."""
    inm = request.headers.get("If-None-Match")
    if inm:
        return _matches(inm, tag)
    if loaded is not None and request.if_modified_since is not None:
        return f'"{tag}"' if loaded <= request.if_modified_since else None
    return None


def _immutable_assets(resp: Response) -> None:
    """Dash's fingerprinted component scripts never change under their name: cache them for a year."""
    if request.path.startswith("/_dash-component-suites/") and resp.status_code == 200:
        if check_fingerprint(request.path.rsplit("/", 1)[-1])[1]:
            resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"


def install(
    server: Flask,
    stores,
    *,
    max_age: int = Settings.cache_max_age,
    stale: int = Settings.cache_stale,
) -> None:
    """Validators and Cache-Control on data answers (304 before the view), immutable Dash
    assets. ``stores``: each rover's DatasetStore by name; a data route reads its rover's."""
    cache_control = f"public, max-age={max_age}, stale-while-revalidate={stale}, stale-if-error=86400"

    @server.before_request
    def _conditional():
        endpoint = request.endpoint or ""
        vary = DATA_ENDPOINTS.get(endpoint.partition(TWIN)[0])
        store = stores.get(rover_of_endpoint(endpoint) or DEFAULT_ROVER)
        if vary is None or store is None or request.method not in ("GET", "HEAD"):
            return None
        try:
            dataset = store.current()
        except Exception as exc:  # Redis away: the view answers 503 in words, without asking again
            g.ptracker_store_error = exc  # (a second try would double the wait on a frozen Redis)
            return None
        if dataset is None:
            return None
        tag = etag_for(dataset, endpoint, vary)
        g.ptracker_dataset = dataset
        g.ptracker_etag = tag
        g.ptracker_vary_accept = vary
        loaded = _loaded_at(dataset)
        hit = _validator_hit(tag, loaded)
        if hit is None:
            return None
        resp = Response(status=304)
        resp.headers["ETag"] = hit
        resp.headers["Cache-Control"] = cache_control
        resp.headers["Vary"] = "Accept-Encoding, Accept" if vary else "Accept-Encoding"
        if loaded is not None:
            resp.last_modified = loaded
        return resp

    @server.after_request
    def _validators(resp: Response) -> Response:
        tag = g.get("ptracker_etag")
        if tag is not None and resp.status_code == 200:
            resp.set_etag(tag)
            loaded = _loaded_at(g.ptracker_dataset)
            if loaded is not None:
                resp.last_modified = loaded
            resp.headers["Cache-Control"] = cache_control
            if g.get("ptracker_vary_accept"):
                resp.vary.add("Accept")
        else:
            _immutable_assets(resp)
        return resp
