"""``/perseverance/version``: the route open pages poll to learn of a new dataset version.

Cheap by design: its strong ETag comes from the current version and the latest load
record (both remembered by the process until Redis says they changed), so a poll whose
``If-None-Match`` names it is answered 304 without decoding the dataset. Only a changed
version or load record costs a decode (once per process and version; the store caches it)
and a body of a few hundred bytes.
``Cache-Control: no-cache``: a cache may keep the answer but must ask before reusing it.
"""

from __future__ import annotations

import hashlib

from flask import Response

from dashboard.api import schemas
from dashboard.api.blueprint import route, store
from dashboard.api.changes_schemas import LiveVersion
from dashboard.api.http_cache import none_match
from dashboard.api.openapi import DATA, NO_REDIS, Answers
from dashboard.api.schemas import NoQuery, parse_query
from dashboard.data.store import Dataset
from dashboard.data.timeline import now
from dashboard.http import json_response

CACHE_CONTROL = "no-cache"
VERSION_ANSWERS = Answers(
    HTTP_200=(LiveVersion, "the current dataset version and the latest load attempt"),
    HTTP_304=(None, "not modified: If-None-Match names the current ETag; no body"),
    HTTP_400=(schemas.Error, "a query parameter (this route takes none)"),
    HTTP_503=NO_REDIS,
    headers={
        "HTTP_200": {"ETag": "changes with the version and the load record", "Cache-Control": CACHE_CONTROL},
        "HTTP_304": {"ETag": "the current ETag", "Cache-Control": CACHE_CONTROL},
    },
)


def load_state(record: dict | None) -> dict:
    """What the version answer says of the latest load attempt (``store.last_load()``):
    when it ran, and while loads fail, since when and why."""
    record = record or {}
    failing = record.get("ok") is False
    return {
        "checked_at": record.get("at"),
        "failing_since": record.get("failing_since") if failing else None,
        "error": record.get("error") if failing else None,
    }


def version_etag(version: str | None, state: dict) -> str:
    """The answer's strong ETag: the dataset version and the load record's state."""
    key = "\x1f".join(str(state[k] or "") for k in ("checked_at", "failing_since", "error"))
    digest = hashlib.blake2b(key.encode(), digest_size=8).hexdigest()
    return f"live-{version or 'none'}-{digest}"


def version_body(dataset: Dataset | None, state: dict) -> dict:
    """The version answer: the dataset's version, newest sol and odometry, and ``state``."""
    if dataset is None:
        return {"version": None, "sol": None, "odometry_m": None, "loaded_at": None, **state}
    return {**dataset.memo(("live", "version"), lambda: _position(dataset)), **state}


def _position(dataset: Dataset) -> dict:
    info = now(dataset)
    return {
        "version": dataset.version,
        "sol": info.get("sol"),
        "odometry_m": info.get("odometry_m"),
        "loaded_at": (dataset.meta or {}).get("loaded_at"),
    }


def _validated(resp: Response, tag: str) -> Response:
    resp.set_etag(tag)
    resp.headers["Cache-Control"] = CACHE_CONTROL
    return resp


@route("/perseverance/version", "GET", tags=DATA, resp=VERSION_ANSWERS)
def live_version():
    """the current dataset version, newest sol and odometry, and the latest load attempt

    What an open page polls (with If-None-Match) to learn of new data without reloading:
    a 304 costs no Redis round trip and no decoding. `checked_at` is the latest load attempt;
    while loads fail, `failing_since` (when the load record has it) and `error` say since
    when and why; the data shown stays the last good version."""
    parse_query(NoQuery)
    version = store().current_version()
    state = load_state(store().last_load())
    hit = none_match(version_etag(version, state))
    if hit is not None:
        resp = Response(status=304)
        resp.headers["ETag"] = hit
        resp.headers["Cache-Control"] = CACHE_CONTROL
        return resp
    dataset = store().current() if version is not None else None
    # a load may have switched the version since it was read: the tag follows the body
    tag = version_etag(dataset.version if dataset is not None else None, state)
    return _validated(json_response(version_body(dataset, state)), tag)
