"""The dataset in Redis: versioned snapshots, an atomic swap, a per-process cache.

Keys (all under the configured prefix, ``ptracker:`` by default)::

    dataset:seq        INCR counter that numbers versions
    dataset:current    the current version (a string such as "7")
    dataset:versions   ZSET version -> sequence number, of the versions still kept
    dataset:v:<ver>    HASH: meta (JSON) + one encoded frame per table; with the terrain,
                       its crop's bytes (big-endian int16) and their sidecar (JSON)
    load:last          JSON outcome of the most recent load attempt (ok or error)
    load:lock          held while a load runs, so two loads do not race (:mod:`.lock`)

A version's hash is written and ``dataset:current`` pointed at it in one Lua script (one
atomic step): a reader sees the old dataset or the new one, never half of one, and a load
that fails before that step leaves the current dataset untouched. A load passes its lock:
the script then first checks that the lock still holds the load's token, and writes
nothing when it does not (the lock expired and another load may hold it). Clean-up keeps
the newest ``keep_versions`` versions and never deletes the one ``dataset:current`` names,
read inside the clean-up script itself (another process may have switched meanwhile).

Readers call :meth:`DatasetStore.current`: one GET of ``dataset:current`` (in a web
process, answered from memory while Redis would tell it of a change:
:meth:`DatasetStore.use_watch`, :mod:`.watch`); when the version equals the cached one the
cached :class:`Dataset` is returned as is (the frames are shared: treat them as
read-only), otherwise the current version and its hash are read together in one script
(never a version cleaned up between two reads) and decoded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TypeVar

import orjson
import pandas as pd
import redis
from redis.typing import EncodableT

from dashboard.data.codec import decode_frame, encode_frame
from dashboard.data.ingenuity import FLIGHT_COLUMNS
from dashboard.data.lock import LOCK_TTL, LoadLock, LockLost
from dashboard.data.megdr import PPD
from dashboard.data.memo import Memo
from dashboard.data.samples import SAMPLE_COLUMNS
from dashboard.data.schema import TRAVERSE_COLUMNS, TRAVERSE_POINT_COLUMNS, WAYPOINT_COLUMNS
from dashboard.data.scripts import CLEANUP, READ_CURRENT, SWITCH
from dashboard.data.terrain import Crop, parse_crop
from dashboard.data.watch import KeyWatch
from dashboard.marstime import SolCalendar
from dashboard.redis_conn import as_text
from dashboard.rovers import DEFAULT_ROVER, ROVERS
from dashboard.settings import DEFAULT_KEY_PREFIX, Settings

__all__ = ["Dataset", "DatasetStore", "LockLost", "StoreError", "decode_frame", "encode_frame"]

log = logging.getLogger(__name__)
T = TypeVar("T")
TABLES: dict[str, dict[str, str]] = {
    "waypoints": WAYPOINT_COLUMNS,
    "current": WAYPOINT_COLUMNS,  # 0 or 1 row: NASA's current-position layer
    "traverse": TRAVERSE_COLUMNS,
    "traverse_points": TRAVERSE_POINT_COLUMNS,
    # the optional context layers, stored only when loaded
    "flights": FLIGHT_COLUMNS,
    "samples": SAMPLE_COLUMNS,
}
#: the hash fields of the optional terrain: the crop's bytes, and where they lie
TERRAIN_FIELD, TERRAIN_SIDECAR_FIELD = "terrain", "terrain_sidecar"


class StoreError(RuntimeError):
    """The store cannot do what was asked (Redis unreachable, a load already running...)."""


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset. ``waypoints`` is what the page and the API serve as waypoints:
    the waypoint layer plus, when it is newer than the layer's last waypoint, the current
    position (its ``layer`` column says "current"). ``current`` is the current-position
    layer as loaded (0 or 1 row), whether or not it is newer."""

    version: str
    meta: dict
    waypoints: pd.DataFrame
    traverse: pd.DataFrame
    traverse_points: pd.DataFrame
    current: pd.DataFrame | None = None
    #: the optional context layers, None when not loaded (or not offered for this rover):
    #: Ingenuity's flights (:mod:`dashboard.data.ingenuity`), the sample tubes
    #: (:mod:`dashboard.data.samples`) and the MOLA terrain crop under the track
    #: (:mod:`dashboard.data.terrain`)
    flights: pd.DataFrame | None = None
    samples: pd.DataFrame | None = None
    terrain: Crop | None = None
    #: the rover whose dataset this is (``dashboard.rovers``): its calendar dates the sols
    rover: str = DEFAULT_ROVER
    #: values derived from this version (pre-serialised answers, the map's path levels),
    #: built once and dropped with the dataset when a newer version replaces it
    _memo: Memo = field(default_factory=lambda: Memo(), init=False, repr=False, compare=False)
    #: pre-serialised answers, kept apart: their keys are the clients' queries, so a crawler
    #: cycling through ranges starts this memo over, never the derived values above
    _answers: Memo = field(default_factory=lambda: Memo(), init=False, repr=False, compare=False)

    def sols_of(self, rmcs: list[str]) -> list[int]:
        """The sols of the named waypoints (``rmc``), ascending, each once."""
        wp = self.waypoints
        return sorted(int(s) for s in wp.loc[wp["rmc"].isin(rmcs), "sol"].unique())

    def memo(self, key: Hashable, build: Callable[[], T]) -> T:
        """``build()``'s value for ``key``, computed once per dataset version (per process).
        Frames are never mutated, so a value derived from them stays true for the version's
        life."""
        return self._memo.get(key, build)

    def answer(self, key: Hashable, build: Callable[[], bytes]) -> bytes:
        """A pre-serialised API answer for ``key`` (a route and its normalised query), built
        once per dataset version (per process), bounded (256 answers or 32 MB). It pays: the
        whole /perseverance answer takes 21 ms to build, a hit microseconds (bench/bench_caches.py)."""
        return self._answers.get(key, build)

    @property
    def calendar(self) -> SolCalendar:
        """The sol calendar of the dataset's rover (its dates)."""
        return ROVERS[self.rover].calendar

    @property
    def waypoint_layer(self) -> pd.DataFrame:
        """The rows of the waypoint layer alone (without the current position)."""
        return self.waypoints[self.waypoints["layer"].fillna("waypoints") != "current"]


def merge_current(waypoints: pd.DataFrame, current: pd.DataFrame | None) -> pd.DataFrame:
    """The waypoint layer, plus the current position when it is newer than its last
    waypoint (and not already one of them): served as the newest waypoint."""
    waypoints = (
        waypoints.assign(layer=waypoints["layer"].fillna("waypoints")) if waypoints["layer"].isna().any() else waypoints
    )
    if current is None or current.empty:
        return waypoints
    row = current.sort_values("sol", kind="mergesort").iloc[[-1]].assign(layer="current")
    last = waypoints["sol"].max() if len(waypoints) else -1
    if int(row["sol"].iloc[0]) <= last or row["rmc"].iloc[0] in set(waypoints["rmc"]):
        return waypoints
    return pd.concat([waypoints, row], ignore_index=True)


def _context_fields(
    flights: pd.DataFrame | None, samples: pd.DataFrame | None, terrain: Crop | None
) -> dict[str, EncodableT]:
    """The hash fields of the context layers that are loaded."""
    fields: dict[str, EncodableT] = {}
    if flights is not None:
        fields["flights"] = encode_frame(flights, FLIGHT_COLUMNS)
    if samples is not None:
        fields["samples"] = encode_frame(samples, SAMPLE_COLUMNS)
    if terrain is not None:
        rows, cols = terrain.shape
        fields[TERRAIN_FIELD] = terrain.heights.astype(">i2").tobytes()
        sidecar: dict[str, object] = {"source_tile": terrain.source_tile, "pixels_per_degree": PPD}
        sidecar |= {"width": cols, "height": rows, "encoding": "big-endian int16", "bbox": terrain.bbox.as_sidecar()}
        fields[TERRAIN_SIDECAR_FIELD] = orjson.dumps(sidecar)
    return fields


def _bytes(raw: object) -> bytes:
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, str):
        return raw.encode()
    raise StoreError(f"unexpected Redis reply {type(raw).__name__}")


# ---------------------------------------------------------------------------------------


class DatasetStore:
    """One rover's datasets in Redis (``rover``'s keys under ``prefix``: :meth:`of`)."""

    @classmethod
    def of(cls, client: redis.Redis, settings: Settings, rover: str = DEFAULT_ROVER) -> DatasetStore:
        """``rover``'s store: Perseverance's keys under the settings' prefix as they always
        were, another rover's under ``<prefix><rover>:``."""
        return cls(client, ROVERS[rover].key_prefix(settings.key_prefix), settings.keep_versions, rover=rover)

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = DEFAULT_KEY_PREFIX,
        keep_versions: int = Settings.keep_versions,
        lock_ttl: float = LOCK_TTL,
        rover: str = DEFAULT_ROVER,
    ):
        if keep_versions < 1:
            raise ValueError("keep_versions must be at least 1")
        self.redis = client
        self.prefix = prefix
        self.keep_versions = keep_versions
        self.lock_ttl = lock_ttl
        self.rover = rover
        #: the decoded current version. It pays: decoding NASA's whole dataset takes 31 ms, a
        #: hit 0.19 ms including the GET of the current version (bench/bench_caches.py, 2026-12-06)
        self._cache: Dataset | None = None
        self._cache_lock = threading.Lock()
        self._switch = client.register_script(SWITCH)
        self._cleanup_script = client.register_script(CLEANUP)
        self._read_current = client.register_script(READ_CURRENT)
        self._watch: KeyWatch | None = None

    def use_watch(self, watch: KeyWatch) -> DatasetStore:
        """Read the current version and the load record through ``watch`` (server-assisted
        client-side caching: no round trip per request while Redis would push a change)."""
        watch.watch(self.key("dataset", "current"), self.key("load", "last"))
        self._watch = watch
        return self

    @property
    def watch(self) -> KeyWatch | None:
        return self._watch

    def _get(self, key: str):
        return self._watch.get(key) if self._watch is not None else self.redis.get(key)

    def _wrote(self, key: str) -> None:
        if self._watch is not None:
            self._watch.forget(key)

    # keys ---------------------------------------------------------------------------
    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _version_key(self, version: str) -> str:
        return self.key("dataset", "v", version)

    # reading ------------------------------------------------------------------------
    def current_version(self) -> str | None:
        raw = self._get(self.key("dataset", "current"))
        return as_text(raw) if raw is not None else None

    def current(self) -> Dataset | None:
        """The current dataset, or None when none was ever loaded."""
        version = self.current_version()
        if version is None:
            return None
        cached = self._cache
        if cached is not None and cached.version == version:
            return cached
        with self._cache_lock:
            cached = self._cache
            if cached is not None and cached.version == version:
                return cached
            found = self._read_current(keys=[self.key("dataset", "current")], args=[self._version_key(""), ""])
            if found is None:
                return None
            version = as_text(found[0])
            if cached is not None and cached.version == version:
                return cached
            raw = found[1]
            if not raw:
                raise StoreError(f"the current version {version} has no data in Redis")
            dataset = self._decode(version, {as_text(k): _bytes(v) for k, v in zip(raw[::2], raw[1::2], strict=True)})
            self._cache = dataset
            return dataset

    def read(self, version: str) -> Dataset | None:
        """Decode one version, or None when it does not exist (any more)."""
        raw = self.redis.hgetall(self._version_key(version))
        if not raw:
            return None
        return self._decode(version, {as_text(k): _bytes(v) for k, v in raw.items()})

    def _decode(self, version: str, fields: dict[str, bytes]) -> Dataset:
        meta = orjson.loads(fields["meta"])
        tables = {name: decode_frame(fields[name], columns) for name, columns in TABLES.items() if name in fields}
        current = tables.pop("current", None)
        tables["waypoints"] = merge_current(tables["waypoints"], current)
        terrain = None
        if TERRAIN_FIELD in fields and TERRAIN_SIDECAR_FIELD in fields:
            terrain = parse_crop(fields[TERRAIN_FIELD], fields[TERRAIN_SIDECAR_FIELD], f"stored terrain (v{version})")
        return Dataset(version=version, meta=meta, current=current, terrain=terrain, rover=self.rover, **tables)

    def meta(self, version: str | None = None) -> dict | None:
        """A version's metadata (the current one by default) without decoding frames."""
        if not version:
            found = self._read_current(keys=[self.key("dataset", "current")], args=[self._version_key(""), "meta"])
            raw = found[1] if found is not None else None
        else:
            raw = self.redis.hget(self._version_key(version), "meta")
        return orjson.loads(raw) if raw is not None else None

    def versions(self) -> list[str]:
        """Kept versions, oldest first."""
        return [as_text(v) for v in self.redis.zrange(self.key("dataset", "versions"), 0, -1)]

    # writing ------------------------------------------------------------------------
    def save(
        self,
        waypoints: pd.DataFrame,
        traverse: pd.DataFrame,
        traverse_points: pd.DataFrame,
        meta: dict,
        current: pd.DataFrame | None = None,
        lock: LoadLock | None = None,
        *,
        flights: pd.DataFrame | None = None,
        samples: pd.DataFrame | None = None,
        terrain: Crop | None = None,
    ) -> Dataset:
        """Store a new version and make it current in one atomic step. ``waypoints`` is
        the waypoint layer alone; ``current`` the current-position layer (or None);
        ``flights``, ``samples`` and ``terrain`` the optional context layers (None: not
        loaded). With ``lock``, the step first checks that ``lock`` is still held:
        :class:`LockLost` (and nothing written) when it is not."""
        if current is None:
            current = waypoints.iloc[0:0]
        fields: dict[str, EncodableT] = {
            "waypoints": encode_frame(waypoints, WAYPOINT_COLUMNS),
            "current": encode_frame(current, WAYPOINT_COLUMNS),
            "traverse": encode_frame(traverse, TRAVERSE_COLUMNS),
            "traverse_points": encode_frame(traverse_points, TRAVERSE_POINT_COLUMNS),
            **_context_fields(flights, samples, terrain),
        }
        if lock is not None:
            lock.check()
        seq = int(self.redis.incr(self.key("dataset", "seq")))
        version = str(seq)
        meta = {**meta, "version": version}
        keys = [self.key("load", "lock"), self.key("dataset", "versions"), self.key("dataset", "current")]
        token = lock.token if lock is not None else ""
        fields["meta"] = orjson.dumps(meta)
        args = [token, version, seq, *(item for pair in fields.items() for item in pair)]
        switched = self._switch(keys=[*keys, self._version_key(version)], args=args)
        self._wrote(self.key("dataset", "current"))
        if not switched:
            raise LockLost(f"the load lock expired before version {version} could become current")
        try:
            self.cleanup()
        except redis.RedisError as exc:  # the new version is current: the next save cleans up
            log.warning("could not clean up old dataset versions: %s", exc)
        dataset = Dataset(
            version=version,
            meta=meta,
            waypoints=merge_current(waypoints, current),
            traverse=traverse,
            traverse_points=traverse_points,
            current=current,
            flights=flights,
            samples=samples,
            terrain=terrain,
            rover=self.rover,
        )
        with self._cache_lock:
            self._cache = dataset
        return dataset

    def cleanup(self) -> int:
        """Delete all but the newest ``keep_versions`` versions, never the current one (read
        in the same atomic step). Returns how many were deleted."""
        keys = [self.key("dataset", "versions"), self.key("dataset", "current")]
        return int(self._cleanup_script(keys=keys, args=[self.keep_versions, self._version_key("")]))

    # load bookkeeping ---------------------------------------------------------------
    def record_load(self, outcome: dict) -> None:
        """Remember the outcome of the latest load attempt (shown to people)."""
        self.redis.set(self.key("load", "last"), orjson.dumps(outcome))
        self._wrote(self.key("load", "last"))

    def last_load(self) -> dict | None:
        raw = self._get(self.key("load", "last"))
        return orjson.loads(raw) if raw is not None else None

    def load_lock(self, timeout: float | None = None) -> LoadLock:
        """The load lock (:class:`LoadLock`: non-blocking ``acquire()``, renewed while held,
        freed ``timeout`` seconds, ``lock_ttl`` by default, after a holder stops renewing)."""
        return LoadLock(self.redis, self.key("load", "lock"), timeout or self.lock_ttl)
