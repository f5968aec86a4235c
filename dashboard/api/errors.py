"""The API's errors: :class:`ApiError` (an answer in words, raised anywhere in a route) and
the one place where each error of the app's features gets its HTTP status
(:data:`STATUS`), so a route never matches an error by its text.

Every error is answered as JSON (``{"error": "...", ...}``) with the right status, never
an HTML page or a traceback.
"""

from __future__ import annotations

import redis
from flask import Response

from dashboard.data.load import LoadBusy, LoadError, LoadLost
from dashboard.data.store import StoreError
from dashboard.exports.errors import (
    ExportBusy,
    ExportConflict,
    ExportError,
    NotReplicated,
    QueueFull,
    RateLimited,
    ShareUsed,
)
from dashboard.http import error, retry_later
from dashboard.redis_conn import REDIS_AWAY, REDIS_FULL

BEARER_CHALLENGE = 'Bearer realm="perseverance-tracker"'
#: Retry-After (seconds) when Redis is out of memory
RETRY_REDIS_FULL = 60

#: The HTTP status of each feature error (the most specific class listed wins).
STATUS: dict[type[BaseException], int] = {
    LoadBusy: 409,
    LoadLost: 409,  # another load took over: nothing was saved; the current dataset is kept
    LoadError: 502,
    ExportError: 400,
    ExportConflict: 409,
    RateLimited: 429,
    ShareUsed: 429,
    QueueFull: 503,
    NotReplicated: 503,  # queued on the primary, not yet on a replica: not acknowledged
    StoreError: 503,
    redis.exceptions.OutOfMemoryError: 503,
    redis.RedisError: 503,
}


class ApiError(Exception):
    """An answer in words: raised anywhere in a route, answered as a JSON error."""

    def __init__(self, http_status: int, message: str, *, headers: dict | None = None, **extra):
        super().__init__(message)
        self.http_status, self.message, self.headers, self.extra = http_status, message, headers, extra

    @classmethod
    def of(cls, exc: BaseException, **extra) -> ApiError:
        """``exc`` (a feature error of :data:`STATUS`) as an ApiError with more to say."""
        return cls(status_of(exc), str(exc), **extra)


def status_of(exc: BaseException) -> int:
    """The HTTP status of a feature error (500 for anything not in :data:`STATUS`)."""
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


def api_error(exc: ApiError) -> Response:
    resp = error(exc.http_status, exc.message, headers=exc.headers, **exc.extra)
    if exc.http_status == 401:
        resp.headers["WWW-Authenticate"] = BEARER_CHALLENGE
    return resp


def answer_error(exc: Exception) -> Response | None:
    """The JSON answer to an error a route let through, or None when it is not one the API
    knows (then it is a bug: the server's handler logs it and answers 500)."""
    if isinstance(exc, ApiError):
        return api_error(exc)
    if isinstance(exc, redis.exceptions.OutOfMemoryError):
        return retry_later(503, f"{REDIS_FULL}; try again later", RETRY_REDIS_FULL)
    if isinstance(exc, redis.RedisError):
        return error(503, f"{REDIS_AWAY}; try again shortly")
    if isinstance(exc, ExportBusy | ExportConflict):
        return retry_later(status_of(exc), str(exc), exc.retry_after)
    status = status_of(exc)
    return error(status, str(exc)) if status != 500 else None
