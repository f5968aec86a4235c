"""Configuration, read once from the environment into an immutable object.

Every variable is documented in README.md ("Configuration"). Tests build their own
``Settings(...)`` instead of touching ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

NASA_WAYPOINTS_URL = "https://mars.nasa.gov/mmgis-maps/M20/Layers/json/M20_waypoints.json"
NASA_TRAVERSE_URL = "https://mars.nasa.gov/mmgis-maps/M20/Layers/json/M20_traverse.json"
NASA_CURRENT_URL = "https://mars.nasa.gov/mmgis-maps/M20/Layers/json/M20_waypoints_current.json"
#: NASA's MMGIS mission folder: panorama paths in the layers are relative to it.
NASA_MISSION_URL = "https://mars.nasa.gov/mmgis-maps/M20/"
#: PTRACKER_CURRENT_SOURCE values that switch the optional current-position layer off.
OFF = ("off", "none", "no", "false", "0")

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Prefix of every Redis key the app owns (RQ keeps its own ``rq:`` keys).
DEFAULT_KEY_PREFIX = "ptracker:"
#: Seconds one export job may run (RQ's job timeout), and the least that is accepted.
DEFAULT_EXPORT_TIMEOUT = 60
MIN_EXPORT_TIMEOUT = 5


class SettingsError(ValueError):
    """A configuration value that cannot be used."""


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not value >= minimum:  # also refuses NaN
        raise SettingsError(f"{name}={raw!r} must be at least {minimum:g}")
    return value


def _current_source(raw: str | None) -> str | None:
    if raw is None or raw.strip() == "":
        return NASA_CURRENT_URL
    return None if raw.strip().lower() in OFF else raw.strip()


@dataclass(frozen=True)
class Settings:
    #: URL or local path of NASA's waypoint layer.
    waypoints_source: str = NASA_WAYPOINTS_URL
    #: URL or local path of NASA's traverse layer.
    traverse_source: str = NASA_TRAVERSE_URL
    #: URL or local path of NASA's current-position layer (optional; None: not read).
    current_source: str | None = NASA_CURRENT_URL
    #: Redis to use; ``None`` means the embedded Redis (a redis-server child) in ``data_dir``.
    redis_url: str | None = None
    #: Password for ``redis_url`` when it is kept out of the URL (compose, Kubernetes).
    redis_password: str | None = None
    #: Folder of the embedded Redis database (used only when ``redis_url`` is None).
    data_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "var")
    #: Prefix of every Redis key the app owns.
    key_prefix: str = DEFAULT_KEY_PREFIX
    #: Fetch limits.
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    fetch_deadline: float = 60.0
    max_bytes: int = 50 * 1024 * 1024
    #: How many dataset versions are kept in Redis (the current one included).
    keep_versions: int = 3
    #: Redis socket timeout for the web side (seconds).
    redis_socket_timeout: float = 1.0
    #: Exports: seconds one render may take, and how long a finished file is kept.
    export_timeout: int = DEFAULT_EXPORT_TIMEOUT
    export_ttl: int = 3600
    #: Exports a client may submit per minute, and the most jobs waiting in the queue.
    export_rate: int = 30
    queue_max: int = 200
    #: Exports one client may have waiting or rendering at once (its share of the queue).
    queue_client_max: int = 10
    #: The largest file one export may produce; bytes all finished exports, and one
    #: client's, may hold in Redis (the oldest are evicted beyond).
    export_max_bytes: int = 10 * 1024 * 1024
    export_budget: int = 192 * 1024 * 1024
    export_client_budget: int = 32 * 1024 * 1024
    #: When set, POST /load needs ``Authorization: Bearer <token>`` (and the page's
    #: "Load data" button is not offered).
    admin_token: str | None = None
    #: Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are trusted
    #: (0: none; the client is the TCP peer).
    proxy_count: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = cls()
        data_dir = env.get("PTRACKER_DATA_DIR") or ""
        return cls(
            waypoints_source=env.get("PTRACKER_WAYPOINTS_SOURCE") or NASA_WAYPOINTS_URL,
            traverse_source=env.get("PTRACKER_TRAVERSE_SOURCE") or NASA_TRAVERSE_URL,
            current_source=_current_source(env.get("PTRACKER_CURRENT_SOURCE")),
            redis_url=env.get("REDIS_URL") or None,
            redis_password=env.get("REDIS_PASSWORD") or None,
            data_dir=Path(data_dir).resolve() if data_dir else defaults.data_dir,
            key_prefix=env.get("PTRACKER_KEY_PREFIX") or defaults.key_prefix,
            connect_timeout=_number(env, "PTRACKER_CONNECT_TIMEOUT", defaults.connect_timeout, 0.1),
            read_timeout=_number(env, "PTRACKER_READ_TIMEOUT", defaults.read_timeout, 0.1),
            fetch_deadline=_number(env, "PTRACKER_FETCH_DEADLINE", defaults.fetch_deadline, 0.1),
            max_bytes=int(_number(env, "PTRACKER_MAX_BYTES", defaults.max_bytes, 1024)),
            keep_versions=int(_number(env, "PTRACKER_KEEP_VERSIONS", defaults.keep_versions, 1)),
            redis_socket_timeout=_number(env, "PTRACKER_REDIS_TIMEOUT", defaults.redis_socket_timeout, 0.1),
            export_timeout=int(_number(env, "PTRACKER_EXPORT_TIMEOUT", defaults.export_timeout, MIN_EXPORT_TIMEOUT)),
            export_ttl=int(_number(env, "PTRACKER_EXPORT_TTL", defaults.export_ttl, 60)),
            export_rate=int(_number(env, "PTRACKER_EXPORT_RATE", defaults.export_rate, 1)),
            queue_max=int(_number(env, "PTRACKER_QUEUE_MAX", defaults.queue_max, 1)),
            queue_client_max=int(_number(env, "PTRACKER_QUEUE_CLIENT_MAX", defaults.queue_client_max, 1)),
            export_max_bytes=int(_number(env, "PTRACKER_EXPORT_MAX_BYTES", defaults.export_max_bytes, 1024)),
            export_budget=int(_number(env, "PTRACKER_EXPORT_BUDGET", defaults.export_budget, 1024 * 1024)),
            export_client_budget=int(
                _number(env, "PTRACKER_EXPORT_CLIENT_BUDGET", defaults.export_client_budget, 64 * 1024)
            ),
            admin_token=env.get("PTRACKER_ADMIN_TOKEN") or None,
            proxy_count=int(_number(env, "PTRACKER_PROXY_COUNT", defaults.proxy_count, 0)),
        )

    def replace(self, **changes) -> Settings:
        return replace(self, **changes)
