"""The API's answers: JSON bodies, JSON errors (``{"error": "...", ...}``), 405 with Allow.

Every answer is JSON (or the file / text the route promises); errors carry the right
status, never an HTML page or a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from flask import Response, request

#: 405 answers name the methods a client may use; these two are never worth suggesting
UNLISTED_METHODS = ("OPTIONS", "TRACE")
BEARER_CHALLENGE = 'Bearer realm="perseverance-tracker"'


class ApiError(Exception):
    """An answer in words: raised anywhere in a route, answered as a JSON error."""

    def __init__(self, http_status: int, message: str, *, headers: dict | None = None, **extra):
        super().__init__(message)
        self.http_status, self.message, self.headers, self.extra = http_status, message, headers, extra


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    body = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status=status, content_type="application/json", headers=headers)


def error(http_status: int, message: str, headers: dict | None = None, **extra) -> Response:
    return json_response({"error": message, **extra}, http_status, headers=headers)


def api_error(exc: ApiError) -> Response:
    resp = error(exc.http_status, exc.message, headers=exc.headers, **exc.extra)
    if exc.http_status == 401:
        resp.headers["WWW-Authenticate"] = BEARER_CHALLENGE
    return resp


def retry_later(http_status: int, message: str, retry_after: int) -> Response:
    """An error a client should retry: ``retry_after`` in the body and as Retry-After."""
    return error(http_status, message, headers={"Retry-After": str(retry_after)}, retry_after=retry_after)


def method_not_allowed(where: str, methods: Iterable[str]) -> Response:
    methods = list(methods)
    allowed = [m for m in methods if m not in UNLISTED_METHODS] or methods
    resp = error(405, f"{request.method} is not allowed on {where}; use {', '.join(allowed)}", allowed=allowed)
    resp.headers["Allow"] = ", ".join(allowed)
    return resp
