"""Checks on Dash's callback endpoint, before Dash sees the request.

Dash answers a malformed or forged ``POST /_dash-update-component`` with an exception
(a 500). This guard parses the body itself (orjson: nesting deeper than 1024 levels is
refused, not a RecursionError), checks its shape, that the callback exists, and the
values of this app's own inputs, and answers 400 JSON with the reason otherwise.
"""

from __future__ import annotations

import math

import orjson
from flask import Flask, request

from . import ids
from .exports import MAX_SELECTION
from .figures import BUILDERS

CALLBACK_PATH = "/_dash-update-component"
MAX_CALLBACK_BODY = 4 * 1024 * 1024  # a map selection of every waypoint carries their hover text
MAX_SOL = 10_000_000


class BadCallback(ValueError):
    pass


def _number(value, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadCallback(f"{what} must be a number, not {value!r}"[:200])
    if abs(value) > MAX_SOL:
        raise BadCallback(f"{what} {value!r} is out of range")


def _strings(value, what: str, limit: int) -> None:
    if value is None:
        return
    if not isinstance(value, list) or len(value) > limit or not all(isinstance(v, str) and len(v) < 64 for v in value):
        raise BadCallback(f"{what} must be a list of at most {limit:,} short strings")


def _check_value(component, prop: str, value) -> None:
    if isinstance(component, dict):  # pattern-matching ids: the export controls
        chart = component.get("chart")
        if component.get("type") in (ids.EXPORT_BUTTON, ids.EXPORT_FORMAT) and chart not in BUILDERS:
            raise BadCallback(f"unknown chart {chart!r}; choose one of: {', '.join(BUILDERS)}")
        return
    if component == ids.SOL_RANGE and prop == "value" and value is not None:
        if not isinstance(value, list) or len(value) != 2:
            raise BadCallback("sol range must be a list of two sols")
        for end in value:
            _number(end, "a sol")
    elif component in (ids.SOL_MIN, ids.SOL_MAX) and prop == "value" and value not in (None, ""):
        _number(value, component)
    elif component == ids.SELECTION:
        _strings(value, "the selection", MAX_SELECTION)
    elif component == ids.EXPORT_JOBS:
        _strings(value, "the export list", 100)


def _items(entries):
    for entry in entries:
        if isinstance(entry, list):  # a wildcard input: one item per matching component
            yield from _items(entry)
        elif isinstance(entry, dict) and "id" in entry and isinstance(entry.get("property"), str):
            yield entry
        else:
            raise BadCallback("each input must be an object with an id and a property")


def check(body: bytes, callback_map) -> None:
    if len(body) > MAX_CALLBACK_BODY:
        raise BadCallback(f"callback request is over {MAX_CALLBACK_BODY:,} bytes")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadCallback(f"callback request is not valid JSON ({exc})") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("output"), str):
        raise BadCallback("callback request must be an object naming its output")
    if payload["output"] not in callback_map:
        raise BadCallback(f"unknown callback output {payload['output'][:100]!r}")
    for key in ("inputs", "state", "changedPropIds"):
        if not isinstance(payload.get(key, []), list):
            raise BadCallback(f"callback request's {key} must be a list")
    for item in _items(payload.get("inputs", []) + payload.get("state", [])):
        _check_value(item["id"], item["property"], item.get("value"))


def install(server: Flask, callback_map) -> None:
    from .api import error

    @server.before_request
    def _guard_callbacks():
        if request.path != CALLBACK_PATH or request.method != "POST":
            return None
        try:
            check(request.get_data(cache=True), callback_map)
        except BadCallback as exc:
            return error(400, str(exc))
        return None
