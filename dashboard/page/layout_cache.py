"""A reload of the page revalidates its layout instead of downloading it again.

The served layout holds the page's first figures (:mod:`.first_view`): ~90 KB compressed
on NASA's data, the same for the same dataset version, range and code. ``GET
/_dash-layout`` therefore gets a strong ETag made of the current dataset version, the
query of the page that asks (its Referer, which picks the range) and a digest of this
code, with ``Cache-Control: no-cache``: the browser asks every time, and the answer is a
304 without a body, decided before the layout is built, while none of them changed. A
page served while the store is unreachable (no version) gets no ETag.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Flask, Response, g, request

from dashboard.page.callbacks.current import rover_notes
from dashboard.page.first_view import requested_search
from dashboard.page.ranges import rover_from_query

LAYOUT_PATH = "/_dash-layout"
#: the code whose output the layout is: a new deployment makes new ETags
CODE_ROOT = Path(__file__).resolve().parent.parent
ENCODING_SUFFIXES = (":br", ":gzip", ":deflate", ":zstd")


def code_digest(root: Path = CODE_ROOT) -> str:
    """A digest of the package's Python sources (read once, at start-up)."""
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def layout_etag(version: str, search: str, code: str, notes: list[str] | None = None) -> str:
    """The layout's tag: the shown rover's version, the page's query, the code, and what
    the page says of the rovers' data (a rover failing or loaded since changes it)."""
    key = "\x1f".join((version, search, code, *(notes or []))).encode()
    return f"L{version}-{hashlib.blake2b(key, digest_size=10).hexdigest()}"


def etag_matches(header: str | None, tag: str) -> bool:
    """Whether If-None-Match names ``tag`` (weak or strong, with or without the encoding
    suffix a compressing layer appends)."""
    for raw in (header or "").split(","):
        value = raw.strip().removeprefix("W/").strip('"')
        for suffix in ENCODING_SUFFIXES:
            value = value.removesuffix(suffix)
        if value == tag or raw.strip() == "*":
            return True
    return False


def install(server: Flask, stores: dict) -> None:
    """The layout's validators on ``server`` (``stores``: the served rovers' DatasetStores,
    by name, in order; the page's address names its rover)."""
    served = tuple(stores)
    code = code_digest()

    @server.before_request
    def _layout_validator():
        if request.path != LAYOUT_PATH or request.method not in ("GET", "HEAD"):
            return None
        store = stores[rover_from_query(requested_search(), served)]
        try:
            version = store.current_version()
        except Exception:  # Redis away: the layout says so, uncached
            return None
        if version is None:
            return None
        g.ptracker_rover_notes = notes = rover_notes(stores)  # the layout says the same: read once
        tag = layout_etag(version, requested_search(), code, notes)
        g.ptracker_layout_etag = tag
        if etag_matches(request.headers.get("If-None-Match"), tag):
            resp = Response(status=304)
            resp.set_etag(tag)
            resp.headers["Cache-Control"] = "no-cache"
            return resp
        return None

    @server.after_request
    def _layout_etag(resp: Response) -> Response:
        tag = g.get("ptracker_layout_etag")
        if tag and request.path == LAYOUT_PATH and resp.status_code == 200:
            resp.set_etag(tag)
            resp.headers["Cache-Control"] = "no-cache"
        return resp
