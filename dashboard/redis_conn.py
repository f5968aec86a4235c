"""One place that turns settings into a Redis client.

With ``REDIS_URL`` set, a plain redis-py client with short socket timeouts. Without it,
the embedded Redis (:mod:`dashboard.embedded_redis`: a ``redis-server`` child whose
database file lives in ``PTRACKER_DATA_DIR`` and so persists between runs). Other
processes (the RQ worker, gunicorn) reach the embedded server through its ``url``.
"""

from __future__ import annotations

import atexit
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from dashboard.embedded_redis import EmbeddedRedis
from dashboard.settings import Settings

#: Seconds a pooled connection may sit idle before it is pinged before use.
HEALTH_CHECK_SECONDS = 15
#: Redis failures in words, said the same way by the API, the page and the CLI (each adds
#: what it does about it).
REDIS_AWAY = "the data store (Redis) is not reachable"
REDIS_FULL = "the data store (Redis) is out of memory (its maxmemory is reached), so nothing was saved"


def in_words(exc: BaseException) -> str:
    """What a Redis failure means to a person: :data:`REDIS_FULL` or :data:`REDIS_AWAY`."""
    return REDIS_FULL if isinstance(exc, redis.exceptions.OutOfMemoryError) else REDIS_AWAY


def from_url(settings: Settings, blocking: bool = False) -> redis.Redis:
    """A client of ``settings.redis_url`` (with ``redis_password`` when given). The web
    side's has short socket timeouts (``redis_socket_timeout``), so a request answers 503
    quickly while Redis is away; a ``blocking`` one (the export worker's: it waits in
    BLMOVE for jobs) has none of its own, and RQ sets the one its wait needs."""
    if not settings.redis_url:
        raise ValueError("no REDIS_URL: use connect() or session() for the embedded Redis")
    extra: dict[str, Any] = {"password": settings.redis_password} if settings.redis_password else {}
    if not blocking:
        extra.update(socket_timeout=settings.redis_socket_timeout, socket_connect_timeout=settings.redis_socket_timeout)
    return redis.Redis.from_url(settings.redis_url, health_check_interval=HEALTH_CHECK_SECONDS, **extra)


@contextmanager
def session(settings: Settings) -> Iterator[redis.Redis]:
    """A client for one command's lifetime. Without ``REDIS_URL`` the embedded server is
    started (or joined) first and, if this process started it, saved and stopped after."""
    if settings.redis_url:
        client = from_url(settings)
        try:
            yield client
        finally:
            client.close()
        return
    with EmbeddedRedis(settings.data_dir) as server:
        client = server.client(socket_timeout=settings.redis_socket_timeout)
        try:
            yield client
        finally:
            client.close()


def connect(settings: Settings) -> redis.Redis:
    """A client for a long-lived process (the web app). Without ``REDIS_URL`` the embedded
    server is started or joined, and stopped at interpreter exit if this process started it
    (``python -m dashboard run`` sets ``REDIS_URL`` for its children, so they only join)."""
    if settings.redis_url:
        return from_url(settings)
    server = EmbeddedRedis(settings.data_dir).start()
    atexit.register(server.stop)
    return server.client(socket_timeout=settings.redis_socket_timeout)


def as_text(raw: object) -> str:
    """A Redis reply as text (this app's clients answer bytes: they do not decode)."""
    return raw.decode() if isinstance(raw, bytes) else str(raw)
