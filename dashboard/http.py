"""What the whole HTTP server shares, below both the REST API and the page: JSON answers
and errors, and the limits of the two kinds of request body (the API's JSON bodies and
Dash's callback requests). Neither ``dashboard.api`` nor ``dashboard.page`` is imported
here, so each may use it without pointing at the other.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from flask import Response, request

#: Dash's callback endpoint (the page's only POST).
CALLBACK_PATH = "/_dash-update-component"
#: Sized from the largest callback the page really sends: every waypoint of NASA's
#: current data selected on the map (each point carries its hover text), by a lasso of
#: 5,000 vertices, measured at 230,331 bytes (tests/integration/test_fuzz_callbacks.py
#: measures it again). 1 MiB leaves room for more than four times as many waypoints.
MAX_CALLBACK_BODY = 1024 * 1024
#: The largest JSON body an API route reads.
MAX_BODY = 64 * 1024
#: The deepest nesting of a JSON body the app reads. Python's json, Dash and pydantic recurse
#: (about 990 levels raise RecursionError); orjson reads up to 1,024. Nothing the page or the
#: API sends is deeper than a few levels.
MAX_JSON_DEPTH = 32
#: 405 answers name the methods a client may use; these two are never worth suggesting.
UNLISTED_METHODS = ("OPTIONS", "TRACE")


def within_depth(payload: object, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a decoded JSON value nests no deeper than ``limit`` (checked without recursion)."""
    stack = [(payload, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))
    return True


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    body = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status=status, content_type="application/json", headers=headers)


def error(http_status: int, message: str, headers: dict | None = None, **extra) -> Response:
    """A JSON error: ``{"error": message, **extra}``."""
    return json_response({"error": message, **extra}, http_status, headers=headers)


def retry_later(http_status: int, message: str, retry_after: int) -> Response:
    """An error a client should retry: ``retry_after`` in the body and as Retry-After."""
    return error(http_status, message, headers={"Retry-After": str(retry_after)}, retry_after=retry_after)


def method_not_allowed(where: str, methods: Iterable[str]) -> Response:
    methods = list(methods)
    allowed = [m for m in methods if m not in UNLISTED_METHODS] or methods
    resp = error(405, f"{request.method} is not allowed on {where}; use {', '.join(allowed)}", allowed=allowed)
    resp.headers["Allow"] = ", ".join(allowed)
    return resp
