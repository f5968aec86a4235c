"""Load both layers from their sources into the store: fetch, parse, save, report.

Used by the CLI (``python -m dashboard load``) and, later, by ``POST /load`` and the
dashboard's "Load data" button. A layer whose source answers 304 Not Modified, or whose
bytes have the same sha256 as the copy already stored, is not parsed again; when neither
layer changed no new version is written.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timezone

import redis

from .data import DataError, Layer, parse_traverse, parse_waypoints
from .settings import Settings
from .sources import FetchError, fetch
from .store import DatasetStore

LAYERS = ("waypoints", "traverse")


class LoadError(RuntimeError):
    """A load failed; the message says which source and why. The current dataset is kept."""


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sol_range(frame) -> tuple[int | None, int | None]:
    sols = frame["sol"].dropna()
    if sols.empty:
        return None, None
    return int(sols.min()), int(sols.max())


def load(
    store: DatasetStore,
    settings: Settings,
    *,
    waypoints_source: str | None = None,
    traverse_source: str | None = None,
    force: bool = False,
) -> dict:
    """Load both layers; return a summary dict. Raise :class:`LoadError` on failure."""
    sources = {
        "waypoints": waypoints_source or settings.waypoints_source,
        "traverse": traverse_source or settings.traverse_source,
    }
    started = time.monotonic()
    lock = store.load_lock()
    if not lock.acquire():
        raise LoadError("another load is already running; try again when it has finished")
    try:
        try:
            summary = _load_locked(store, settings, sources, force)
        except (FetchError, DataError) as exc:
            store.record_load(
                {"ok": False, "error": str(exc), "at": _iso(time.time()), "sources": sources}
            )
            raise LoadError(str(exc)) from exc
        except redis.exceptions.OutOfMemoryError:
            # Say what happened where people look (the page's summary, /load's answer).
            # Redis refuses most writes while full, so recording may fail too: then the
            # 503 "out of memory" answer is the record.
            try:
                store.record_load({"ok": False, "at": _iso(time.time()), "sources": sources,
                                   "error": "Redis is out of memory (maxmemory reached): the new data was not saved"})
            except redis.RedisError:
                pass
            raise
        summary["seconds"] = round(time.monotonic() - started, 3)
        store.record_load({"ok": True, "at": _iso(time.time()), **summary})
        return summary
    finally:
        try:
            lock.release()
        except Exception:  # expired or Redis gone: nothing left to release
            pass


def _load_locked(store: DatasetStore, settings: Settings, sources: dict, force: bool) -> dict:
    current = store.current()
    previous = current.meta.get("layers", {}) if current is not None else {}
    layers: dict[str, dict] = {}
    frames: dict[str, object] = {}
    changed = current is None or force
    for name in LAYERS:
        source = sources[name]
        prev = previous.get(name)
        reusable = prev is not None and prev.get("source") == source and not force
        fetched = fetch(
            source,
            etag=prev.get("etag") if reusable else None,
            last_modified=prev.get("last_modified") if reusable else None,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            deadline=settings.fetch_deadline,
            max_bytes=settings.max_bytes,
        )
        if reusable and (fetched.not_modified or fetched.sha256 == prev.get("sha256")):
            layers[name] = {**prev, "checked_at": _iso(fetched.fetched_at)}
            if name == "waypoints":
                frames["waypoints"] = current.waypoints
            else:
                frames["traverse"], frames["traverse_points"] = current.traverse, current.traverse_points
            continue
        if fetched.not_modified:  # 304 to validators we did not send: a broken server
            raise FetchError(source, "server answered 304 Not Modified to an unconditional request")
        layer: Layer = (parse_waypoints if name == "waypoints" else parse_traverse)(fetched.body, source)
        if name == "waypoints":
            frames["waypoints"] = layer.frame
        else:
            frames["traverse"], frames["traverse_points"] = layer.frame, layer.points
        sol_min, sol_max = _sol_range(layer.frame)
        layers[name] = {
            "source": source,
            "name": layer.name,
            "etag": fetched.etag,
            "last_modified": fetched.last_modified,
            "sha256": fetched.sha256,
            "bytes": len(fetched.body),
            "fetched_at": _iso(fetched.fetched_at),
            "checked_at": _iso(fetched.fetched_at),
            "features": layer.features,
            "rows": len(layer.frame),
            "points": len(layer.points) if layer.points is not None else None,
            "skipped": layer.skipped,
            "sol_min": sol_min,
            "sol_max": sol_max,
        }
        changed = True

    if not changed:
        return {**summarize(current.meta), "status": "unchanged"}
    digest = hashlib.sha256("".join(layers[n]["sha256"] for n in LAYERS).encode()).hexdigest()
    meta = {"loaded_at": _iso(time.time()), "sha256": digest, "layers": layers}
    dataset = store.save(frames["waypoints"], frames["traverse"], frames["traverse_points"], meta)
    return {**summarize(dataset.meta), "status": "loaded"}


def summarize(meta: dict) -> dict:
    """The public summary of a dataset's metadata (CLI --json, POST /load)."""
    out = {"version": meta.get("version"), "loaded_at": meta.get("loaded_at"), "sha256": meta.get("sha256")}
    for name in LAYERS:
        layer = meta["layers"][name]
        out[name] = {
            "rows": layer["rows"],
            "sol_min": layer["sol_min"],
            "sol_max": layer["sol_max"],
            "skipped": sum(layer["skipped"].values()),
            "source": layer["source"],
        }
        if layer.get("points") is not None:
            out[name]["points"] = layer["points"]
    return out


def one_line(summary: dict) -> str:
    wp, tr = summary["waypoints"], summary["traverse"]
    skipped = wp["skipped"] + tr["skipped"]
    verb = {"unchanged": "unchanged, still"}.get(summary.get("status"), summary.get("status", "loaded"))
    return (
        f"{verb} version {summary['version']}: {wp['rows']} waypoints (sols {wp['sol_min']}..{wp['sol_max']}), "
        f"{tr['rows']} traverse segments (sols {tr['sol_min']}..{tr['sol_max']}), "
        f"{skipped} feature{'s' if skipped != 1 else ''} skipped"
    )
