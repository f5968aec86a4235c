"""Configuration, read once from the environment into an immutable object.

Every variable is documented in docs/configuration.md. Tests build their own
``Settings(...)`` instead of touching ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from dashboard.rovers import CURIOSITY, DEFAULT_ROVER, PERSEVERANCE, ROVERS

NASA_WAYPOINTS_URL = PERSEVERANCE.url("waypoints")
NASA_TRAVERSE_URL = PERSEVERANCE.url("traverse")
NASA_CURRENT_URL = PERSEVERANCE.url("waypoints_current")
#: The optional context layers: Ingenuity's flights, the sample tubes, and the MOLA MEGDR
#: topography tile the terrain under the track is read from (one HTTP Range request).
NASA_HELI_URL = "https://mars.nasa.gov/mmgis-maps/M20/Layers/json/m20_heli_waypoints.json"
NASA_SAMPLES_URL = "https://mars.nasa.gov/mmgis-maps/M20/Layers/json/M20_SAMPLE_v3.json"
MOLA_TILE_URL = PERSEVERANCE.terrain_url
#: Curiosity's (MSL's) layers on the same server, and the MOLA tile holding Gale crater
NASA_MSL_WAYPOINTS_URL = CURIOSITY.url("waypoints")
NASA_MSL_TRAVERSE_URL = CURIOSITY.url("traverse")
NASA_MSL_CURRENT_URL = CURIOSITY.url("waypoints_current")
MOLA_MSL_TILE_URL = CURIOSITY.terrain_url
#: NASA's MMGIS mission folder: panorama paths in the layers are relative to it.
NASA_MISSION_URL = "https://mars.nasa.gov/mmgis-maps/M20/"
#: Values of PTRACKER_CURRENT_SOURCE (and of the context layers' sources) that switch an
#: optional layer off.
OFF = ("off", "none", "no", "false", "0")

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Prefix of every Redis key the app owns (RQ keeps its own ``rq:`` keys).
DEFAULT_KEY_PREFIX = "ptracker:"
#: Seconds one export job may run (RQ's job timeout), and the least that is accepted.
DEFAULT_EXPORT_TIMEOUT = 60
MIN_EXPORT_TIMEOUT = 5
#: The shortest admin token accepted (the generated ones have 48 hex characters).
MIN_ADMIN_TOKEN = 16
#: The Sentinel name of the primary when REDIS_SENTINEL_MASTER is not set (Redis' own example name).
DEFAULT_SENTINEL_MASTER = "mymaster"


class SettingsError(ValueError):
    """A configuration value that cannot be used."""


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    """The one parser of numbers in the environment: unset or blank gives ``default``;
    anything else must be a number of at least ``minimum`` (SettingsError otherwise)."""
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


def _whole(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    """:func:`_number`, as a whole number (a fraction is cut off)."""
    return int(_number(env, name, default, minimum))


def _admin_token(raw: str | None) -> str | None:
    """The admin token, or None when the variable is unset. A set but blank or short one is
    refused: it would otherwise leave ``POST /load`` open (blank) or guessable (short)."""
    if raw is None:
        return None
    token = raw.strip()
    if len(token) < MIN_ADMIN_TOKEN:
        shown = "blank" if not token else f"only {len(token)} characters"
        raise SettingsError(
            f"PTRACKER_ADMIN_TOKEN is set but {shown}: use at least {MIN_ADMIN_TOKEN} characters "
            "(make up and make k8s-apply generate one), or unset it to leave POST /load open"
        )
    return token


def _sentinels(env: Mapping[str, str], name: str = "REDIS_SENTINELS") -> tuple[tuple[str, int], ...]:
    """``host:port,host:port,...`` (blanks around commas dropped; ``[v6]:port`` for IPv6);
    unset or blank gives no sentinels. A malformed entry is a SettingsError naming it."""
    raw = env.get(name) or ""
    found: list[tuple[str, int]] = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        host, sep, port = entry.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c in host for c in " /@[]"):
            raise SettingsError(f"{name}: {entry!r} is not host:port (e.g. sentinel-0:26379)")
        found.append((host, int(port)))
    return tuple(found)


def _sentinel_master(env: Mapping[str, str]) -> str:
    """The primary's name in the sentinels' configuration (``sentinel monitor <name> ...``)."""
    name = (env.get("REDIS_SENTINEL_MASTER") or "").strip() or DEFAULT_SENTINEL_MASTER
    if any(c.isspace() for c in name):
        raise SettingsError(f"REDIS_SENTINEL_MASTER={name!r} must be one word (the name in 'sentinel monitor')")
    return name


def _current_source(raw: str | None, default: str = NASA_CURRENT_URL) -> str | None:
    """An optional layer's source: unset or blank gives ``default``; an OFF word, None."""
    if raw is None or raw.strip() == "":
        return default
    return None if raw.strip().lower() in OFF else raw.strip()


@dataclass(frozen=True)
class Settings:
    #: URL or local path of NASA's waypoint layer.
    waypoints_source: str = NASA_WAYPOINTS_URL
    #: URL or local path of NASA's traverse layer.
    traverse_source: str = NASA_TRAVERSE_URL
    #: URL or local path of NASA's current-position layer (optional; None: not read).
    current_source: str | None = NASA_CURRENT_URL
    #: URL or local path of NASA's Ingenuity flight layer (optional; None: not read).
    heli_source: str | None = NASA_HELI_URL
    #: URL or local path of NASA's sample-tube layer (optional; None: not read).
    samples_source: str | None = NASA_SAMPLES_URL
    #: The terrain under the track (optional; None: not read): a 128 px/deg MOLA MEGDR tile
    #: (URL or path named like ``megt44n000hb.img``: the rows around Jezero are read with one
    #: HTTP Range request), or a crop ``.img`` with its ``.json`` sidecar beside it.
    terrain_source: str | None = MOLA_TILE_URL
    #: The rovers this install serves (``dashboard.rovers``), the first the page's default.
    rovers: tuple[str, ...] = tuple(ROVERS)
    #: Curiosity's (MSL's) sources: waypoints, traverse, current position (optional) and
    #: terrain (optional), like Perseverance's above.
    msl_waypoints_source: str = NASA_MSL_WAYPOINTS_URL
    msl_traverse_source: str = NASA_MSL_TRAVERSE_URL
    msl_current_source: str | None = NASA_MSL_CURRENT_URL
    msl_terrain_source: str | None = MOLA_MSL_TILE_URL
    #: The rover the sources above are read for (set by :meth:`for_rover`; the loader's
    #: terrain crop and context layers follow it).
    rover: str = DEFAULT_ROVER
    #: Redis to use; ``None`` means the embedded Redis (a redis-server child) in ``data_dir``.
    redis_url: str | None = None
    #: Password for ``redis_url`` when it is kept out of the URL (compose, Kubernetes); with
    #: sentinels, the password of the primary and its replicas.
    redis_password: str | None = None
    #: Redis Sentinels (host, port) that name the primary; when given they are used instead
    #: of ``redis_url`` and a failover is followed without a restart.
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    #: The primary's name in the sentinels' configuration, and the sentinels' own password.
    redis_sentinel_master: str = DEFAULT_SENTINEL_MASTER
    redis_sentinel_password: str | None = None
    #: With sentinels: seconds an export submission waits for a replica to confirm the job
    #: (Redis WAIT) before it is answered; none confirming means 503, not 202.
    replica_wait: float = 1.0
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
    #: Exports: how many times a failed or abandoned (worker killed) render is tried again.
    export_retries: int = 1
    #: Exports a client may submit per minute, and the most jobs waiting in the queue.
    export_rate: int = 30
    queue_max: int = 200
    #: Exports one client may have waiting or rendering at once (its share of the queue).
    queue_client_max: int = 10
    #: The largest file one export may produce; bytes all finished exports, and one
    #: client's, may hold in Redis (the oldest are evicted beyond).
    export_max_bytes: int = 10 * 1024 * 1024
    #: The largest file one replay of the drive (MP4, GIF, WebM) may produce.
    replay_max_bytes: int = 25 * 1024 * 1024
    export_budget: int = 192 * 1024 * 1024
    export_client_budget: int = 32 * 1024 * 1024
    #: When set, POST /load needs ``Authorization: Bearer <token>`` (and the page's
    #: "Load data" button is not offered).
    admin_token: str | None = None
    #: Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are trusted
    #: (0: none; the client is the TCP peer).
    proxy_count: int = 0
    #: HTTP caching of data answers: Cache-Control max-age and stale-while-revalidate (seconds).
    cache_max_age: int = 60
    cache_stale: int = 300
    #: Seconds between an open page's checks for a new dataset version (0: the page
    #: does not check; it shows what it was opened with until reloaded).
    live_poll_seconds: float = 30.0
    #: Logs: root level, ``json`` lines or plain ``text``, the app's own access line.
    log_level: str = "INFO"
    log_format: str = "json"
    access_log: bool = True
    #: Serve /metrics to requests that came through the proxy too (PTRACKER_METRICS_PUBLIC=1).
    metrics_public: bool = False
    #: Export worker: seconds added to a job's timeout for its heartbeat (RQ adds 60),
    #: seconds between registry clean-ups (RQ: 600), its registration's TTL (RQ: 420).
    heartbeat_grace: int = 15
    maintenance_interval: int = 30
    worker_ttl: int = 60
    #: Export worker: start Chromium at start (False: at the first export).
    warm_browser: bool = True
    #: Export worker: its own /metrics port (0: none) and address.
    worker_metrics_port: int = 0
    worker_metrics_addr: str = "0.0.0.0"
    #: Seconds between the clock's scheduled refreshes of the layers (0: no scheduled refresh).
    refresh_seconds: int = 900
    #: The queues a worker takes jobs from, in priority order ("exports", "refresh").
    worker_queues: tuple[str, ...] = ("exports", "refresh")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Every setting from the environment (docs/configuration.md): one reader for the
        web processes, the CLI and the export worker. SettingsError names a bad value."""
        env = os.environ if env is None else env
        return cls(**_sources(env), **_redis(env), **_exports(env), **_web(env), **_worker(env))

    @property
    def redis_external(self) -> bool:
        """A Redis of its own is configured (``REDIS_URL`` or sentinels), not the embedded one."""
        return bool(self.redis_url or self.redis_sentinels)

    def replace(self, **changes) -> Settings:
        return replace(self, **changes)

    def for_rover(self, name: str) -> Settings:
        """These settings with ``name``'s sources in the loader's fields (``waypoints_source``...):
        what ``load`` reads for that rover. Curiosity has no context layers (Ingenuity's
        flights and the sample tubes are Perseverance's)."""
        if name == self.rover:
            return self
        if self.rover != DEFAULT_ROVER:  # its own sources are gone: ask the base settings
            raise SettingsError(f"these settings are {self.rover}'s: ask for {name}'s from the base settings")
        if name == DEFAULT_ROVER:
            return self
        if name != CURIOSITY.name:
            raise SettingsError(f"no rover named {name!r}: the rovers are {', '.join(ROVERS)}")
        return replace(
            self,
            rover=name,
            waypoints_source=self.msl_waypoints_source,
            traverse_source=self.msl_traverse_source,
            current_source=self.msl_current_source,
            terrain_source=self.msl_terrain_source,
            heli_source=None,
            samples_source=None,
        )


_DEFAULTS = Settings()


def _sources(env: Mapping[str, str]) -> dict:
    d = _DEFAULTS
    return {
        "waypoints_source": env.get("PTRACKER_WAYPOINTS_SOURCE") or NASA_WAYPOINTS_URL,
        "traverse_source": env.get("PTRACKER_TRAVERSE_SOURCE") or NASA_TRAVERSE_URL,
        "current_source": _current_source(env.get("PTRACKER_CURRENT_SOURCE")),
        "heli_source": _current_source(env.get("PTRACKER_HELI_SOURCE"), NASA_HELI_URL),
        "samples_source": _current_source(env.get("PTRACKER_SAMPLES_SOURCE"), NASA_SAMPLES_URL),
        "terrain_source": _current_source(env.get("PTRACKER_TERRAIN_SOURCE"), MOLA_TILE_URL),
        "connect_timeout": _number(env, "PTRACKER_CONNECT_TIMEOUT", d.connect_timeout, 0.1),
        "read_timeout": _number(env, "PTRACKER_READ_TIMEOUT", d.read_timeout, 0.1),
        "fetch_deadline": _number(env, "PTRACKER_FETCH_DEADLINE", d.fetch_deadline, 0.1),
        "max_bytes": _whole(env, "PTRACKER_MAX_BYTES", d.max_bytes, 1024),
        "refresh_seconds": _whole(env, "PTRACKER_REFRESH_SECONDS", d.refresh_seconds, 0),
        "rovers": _rovers(env),
        "msl_waypoints_source": env.get("PTRACKER_MSL_WAYPOINTS_SOURCE") or NASA_MSL_WAYPOINTS_URL,
        "msl_traverse_source": env.get("PTRACKER_MSL_TRAVERSE_SOURCE") or NASA_MSL_TRAVERSE_URL,
        "msl_current_source": _current_source(env.get("PTRACKER_MSL_CURRENT_SOURCE"), NASA_MSL_CURRENT_URL),
        "msl_terrain_source": _current_source(env.get("PTRACKER_MSL_TERRAIN_SOURCE"), MOLA_MSL_TILE_URL),
    }


def _rovers(env: Mapping[str, str]) -> tuple[str, ...]:
    """PTRACKER_ROVERS: the rovers served, comma-separated, each once (default: both)."""
    names = _names(env, "PTRACKER_ROVERS", _DEFAULTS.rovers)
    for name in names:
        if name.lower() not in ROVERS:
            raise SettingsError(f"PTRACKER_ROVERS names {name!r}: the rovers are {', '.join(ROVERS)}")
    return tuple(dict.fromkeys(n.lower() for n in names))


def _redis(env: Mapping[str, str]) -> dict:
    d = _DEFAULTS
    data_dir = env.get("PTRACKER_DATA_DIR") or ""
    return {
        "redis_url": env.get("REDIS_URL") or None,
        "redis_password": env.get("REDIS_PASSWORD") or None,
        "redis_sentinels": _sentinels(env),
        "redis_sentinel_master": _sentinel_master(env),
        "redis_sentinel_password": env.get("REDIS_SENTINEL_PASSWORD") or None,
        "replica_wait": _number(env, "PTRACKER_REPLICA_WAIT", d.replica_wait, 0.01),
        "data_dir": Path(data_dir).resolve() if data_dir else d.data_dir,
        "key_prefix": env.get("PTRACKER_KEY_PREFIX") or d.key_prefix,
        "keep_versions": _whole(env, "PTRACKER_KEEP_VERSIONS", d.keep_versions, 1),
        "redis_socket_timeout": _number(env, "PTRACKER_REDIS_TIMEOUT", d.redis_socket_timeout, 0.1),
    }


def _exports(env: Mapping[str, str]) -> dict:
    d = _DEFAULTS
    return {
        "export_timeout": _whole(env, "PTRACKER_EXPORT_TIMEOUT", d.export_timeout, MIN_EXPORT_TIMEOUT),
        "export_ttl": _whole(env, "PTRACKER_EXPORT_TTL", d.export_ttl, 60),
        "export_retries": _whole(env, "PTRACKER_EXPORT_RETRIES", d.export_retries, 0),
        "export_rate": _whole(env, "PTRACKER_EXPORT_RATE", d.export_rate, 1),
        "queue_max": _whole(env, "PTRACKER_QUEUE_MAX", d.queue_max, 1),
        "queue_client_max": _whole(env, "PTRACKER_QUEUE_CLIENT_MAX", d.queue_client_max, 1),
        "export_max_bytes": _whole(env, "PTRACKER_EXPORT_MAX_BYTES", d.export_max_bytes, 1024),
        "replay_max_bytes": _whole(env, "PTRACKER_REPLAY_MAX_BYTES", d.replay_max_bytes, 1024),
        "export_budget": _whole(env, "PTRACKER_EXPORT_BUDGET", d.export_budget, 1024 * 1024),
        "export_client_budget": _whole(env, "PTRACKER_EXPORT_CLIENT_BUDGET", d.export_client_budget, 64 * 1024),
    }


def _web(env: Mapping[str, str]) -> dict:
    d = _DEFAULTS
    return {
        "admin_token": _admin_token(env.get("PTRACKER_ADMIN_TOKEN")),
        "proxy_count": _whole(env, "PTRACKER_PROXY_COUNT", d.proxy_count, 0),
        "cache_max_age": _whole(env, "PTRACKER_CACHE_MAX_AGE", d.cache_max_age, 0),
        "cache_stale": _whole(env, "PTRACKER_CACHE_STALE", d.cache_stale, 0),
        "live_poll_seconds": _number(env, "PTRACKER_LIVE_POLL_SECONDS", d.live_poll_seconds, 0),
        "log_level": (env.get("PTRACKER_LOG_LEVEL") or d.log_level).upper(),
        "log_format": "text" if (env.get("PTRACKER_LOG_FORMAT") or "").strip().lower() == "text" else "json",
        "access_log": env.get("PTRACKER_ACCESS_LOG", "1") != "0",
        "metrics_public": env.get("PTRACKER_METRICS_PUBLIC") == "1",
    }


def _worker(env: Mapping[str, str]) -> dict:
    d = _DEFAULTS
    return {
        "heartbeat_grace": _whole(env, "PTRACKER_HEARTBEAT_GRACE", d.heartbeat_grace, 0),
        "maintenance_interval": _whole(env, "PTRACKER_MAINTENANCE_INTERVAL", d.maintenance_interval, 1),
        "worker_ttl": _whole(env, "PTRACKER_WORKER_TTL", d.worker_ttl, 1),
        "warm_browser": env.get("PTRACKER_WARM_BROWSER", "1") != "0",
        "worker_metrics_port": _whole(env, "PTRACKER_WORKER_METRICS_PORT", d.worker_metrics_port, 0),
        "worker_metrics_addr": env.get("PTRACKER_WORKER_METRICS_ADDR") or d.worker_metrics_addr,
        "worker_queues": _names(env, "PTRACKER_WORKER_QUEUES", d.worker_queues),
    }


def _names(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list of names (blanks dropped); unset or blank gives ``default``."""
    names = tuple(part.strip() for part in (env.get(name) or "").split(",") if part.strip())
    return names or default
