"""One place that turns settings into a Redis client.

With ``REDIS_SENTINELS`` set, a client of the primary the sentinels name (redis-py's
``Sentinel.master_for``): each new connection asks the sentinels where the primary is, so
after a failover the next command (a retry inside redis-py, or the next request) reaches
the promoted replica without a restart; while the switch lasts commands fail with
ConnectionError, which the API answers 503 (docs/architecture/redis.md).
With ``REDIS_URL`` set, a plain redis-py client with short socket timeouts. Without either,
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
from redis.sentinel import Sentinel, SentinelManagedConnection

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


class PrimaryConnection(SentinelManagedConnection):
    """redis-py's connection to the primary a sentinel names, closed when a read is cut
    short as a plain connection is (redis-py's Sentinel one keeps it by default): a stop
    signal's exception raised inside the worker's blocking BLMOVE would otherwise put the
    connection back in the pool with that reply still unread, and the next command (RQ's
    ``register_death`` pipeline) would read it ("Wrong number of response items")."""

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("disconnect_on_error", True)
        return super().read_response(*args, **kwargs)


def from_url(settings: Settings, blocking: bool = False) -> redis.Redis:
    """A client of the configured Redis: the primary named by ``settings.redis_sentinels``
    when given, else ``settings.redis_url`` (with ``redis_password`` when given). The web
    side's has short socket timeouts (``redis_socket_timeout``), so a request answers 503
    quickly while Redis is away; a ``blocking`` one (the export worker's: it waits in
    BLMOVE for jobs) has none of its own, and RQ sets the one its wait needs."""
    if not settings.redis_external:
        raise ValueError("no REDIS_URL: use connect() or session() for the embedded Redis")
    extra: dict[str, Any] = {"password": settings.redis_password} if settings.redis_password else {}
    if not blocking:
        extra.update(socket_timeout=settings.redis_socket_timeout, socket_connect_timeout=settings.redis_socket_timeout)
    if settings.redis_sentinels:
        return sentinel(settings).master_for(
            settings.redis_sentinel_master,
            redis_class=redis.Redis,
            connection_class=PrimaryConnection,
            health_check_interval=HEALTH_CHECK_SECONDS,
            **extra,
        )
    assert settings.redis_url is not None
    return redis.Redis.from_url(settings.redis_url, health_check_interval=HEALTH_CHECK_SECONDS, **extra)


def sentinel(settings: Settings) -> Sentinel:
    """The sentinels of ``settings.redis_sentinels``, asked with short timeouts (a sentinel
    that is away is skipped quickly) and ``redis_sentinel_password`` when given."""
    timeout = settings.redis_socket_timeout
    asked: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    if settings.redis_sentinel_password:
        asked["password"] = settings.redis_sentinel_password
    return Sentinel(list(settings.redis_sentinels), sentinel_kwargs=asked)


def replicated(client: redis.Redis, settings: Settings) -> int | None:
    """How many replicas confirmed this process's writes so far, within
    ``settings.replica_wait`` seconds (Redis ``WAIT 1``); None without sentinels (no
    replicas to wait for). WAIT counts the writes of the connection it runs on, so a small
    write goes first on that same connection: the replication stream is in order, so a
    replica that has it has every write this process finished before it. The reply is
    read with a timeout of its own (the wait plus the socket timeout)."""
    if not settings.redis_sentinels:
        return None
    pool = client.connection_pool
    conn = pool.get_connection()
    try:
        conn.send_command("SET", f"{settings.key_prefix}replication:mark", "1", "EX", 60)
        conn.read_response()
        conn.send_command("WAIT", 1, max(1, round(settings.replica_wait * 1000)))
        replicas = conn.read_response(timeout=settings.replica_wait + settings.redis_socket_timeout)
    except BaseException:
        conn.disconnect()  # a half-read reply must not go back into the pool
        raise
    finally:
        pool.release(conn)
    if isinstance(replicas, Exception):
        raise replicas
    return int(replicas)


@contextmanager
def session(settings: Settings) -> Iterator[redis.Redis]:
    """A client for one command's lifetime. Without ``REDIS_URL`` the embedded server is
    started (or joined) first and, if this process started it, saved and stopped after."""
    if settings.redis_external:
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
    if settings.redis_external:
        return from_url(settings)
    server = EmbeddedRedis(settings.data_dir).start()
    atexit.register(server.stop)
    return server.client(socket_timeout=settings.redis_socket_timeout)


def as_text(raw: object) -> str:
    """A Redis reply as text (this app's clients answer bytes: they do not decode)."""
    return raw.decode() if isinstance(raw, bytes) else str(raw)
