"""Load the layers from their sources into the store: fetch, parse, save, report.

Used by the CLI (``python -m dashboard load``), ``POST /load`` and the dashboard's
"Load data" button. A layer whose source answers 304 Not Modified, or whose bytes have
the same sha256 as the copy already stored, is not parsed again; when no layer changed
no new version is written.

The waypoints and the traverse are required: a failure of either fails the load. The
current position (NASA's ``M20_waypoints_current.json``, one feature) is optional: when
it cannot be fetched, is empty (NASA has served it empty) or is older than the last
waypoint, the load goes on, the previous current position is kept if there was one, and
the summary says which.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

import redis

from dashboard.data.fetch import FetchError, fetch
from dashboard.data.parse import DataError, Layer, parse_traverse, parse_waypoints
from dashboard.data.store import DatasetStore
from dashboard.settings import OFF, Settings

LAYERS = ("waypoints", "traverse")


class LoadError(RuntimeError):
    """A load failed; the message says which source and why. The current dataset is kept."""


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sol_range(frame) -> tuple[int | None, int | None]:
    sols = frame["sol"].dropna()
    if sols.empty:
        return None, None
    return int(sols.min()), int(sols.max())


def _fetch(source: str, prev: dict | None, settings: Settings):
    """Fetch one layer within the settings' limits; conditional on ``prev``'s validators
    when the stored copy came from the same source."""
    return fetch(
        source,
        etag=prev.get("etag") if prev else None,
        last_modified=prev.get("last_modified") if prev else None,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        deadline=settings.fetch_deadline,
        max_bytes=settings.max_bytes,
    )


def load(
    store: DatasetStore,
    settings: Settings,
    *,
    waypoints_source: str | None = None,
    traverse_source: str | None = None,
    current_source: str | None = None,
    force: bool = False,
) -> dict:
    """Load the layers; return a summary dict. Raise :class:`LoadError` when the
    waypoints or the traverse fail (a failing current position does not fail the load)."""
    sources = {
        "waypoints": waypoints_source or settings.waypoints_source,
        "traverse": traverse_source or settings.traverse_source,
        "current": current_source or settings.current_source,
    }
    if sources["current"] and sources["current"].strip().lower() in OFF:
        sources["current"] = None
    started = time.monotonic()
    lock = store.load_lock()
    if not lock.acquire():
        raise LoadError("another load is already running; try again when it has finished")
    try:
        try:
            summary = _load_locked(store, settings, sources, force)
        except (FetchError, DataError) as exc:
            store.record_load({"ok": False, "error": str(exc), "at": _iso(time.time()), "sources": sources})
            raise LoadError(str(exc)) from exc
        except redis.exceptions.OutOfMemoryError:
            # Say what happened where people look (the page's summary, /load's answer).
            # Redis refuses most writes while full, so recording may fail too: then the
            # 503 "out of memory" answer is the record.
            try:
                store.record_load(
                    {
                        "ok": False,
                        "at": _iso(time.time()),
                        "sources": sources,
                        "error": "Redis is out of memory (maxmemory reached): the new data was not saved",
                    }
                )
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
        fetched = _fetch(source, prev if reusable else None, settings)
        if reusable and (fetched.not_modified or fetched.sha256 == prev.get("sha256")):
            layers[name] = {**prev, "checked_at": _iso(fetched.fetched_at)}
            if name == "waypoints":
                frames["waypoints"] = current.waypoint_layer
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

    previous_current = current.current if current is not None else None
    cur_frame, layers["current"] = _load_current(
        settings, sources["current"], previous.get("current"), previous_current, frames["waypoints"], force
    )
    if layers["current"].get("sha256") != (previous.get("current") or {}).get("sha256"):
        changed = True  # a new current position, or none any more (a kept one keeps its sha256)
    if not changed:
        summary = {**summarize(current.meta), "status": "unchanged"}
        summary["current"] = _current_summary(layers["current"])  # what this attempt found
        return summary
    digest = hashlib.sha256("".join(layers[n].get("sha256") or "" for n in (*LAYERS, "current")).encode()).hexdigest()
    meta = {"loaded_at": _iso(time.time()), "sha256": digest, "layers": layers}
    dataset = store.save(frames["waypoints"], frames["traverse"], frames["traverse_points"], meta, current=cur_frame)
    return {**summarize(dataset.meta), "status": "loaded"}


def _load_current(settings: Settings, source: str | None, prev: dict | None, prev_frame, waypoints, force: bool):
    """The optional current-position layer: (frame or None, its metadata). Never raises
    for the layer's own problems; says in ``status`` what happened."""
    prev = prev or {}
    kept = prev_frame if prev_frame is not None and len(prev_frame) else None

    def keep(status: str, **extra):
        info = {
            **{k: prev.get(k) for k in ("name", "etag", "last_modified", "sha256", "fetched_at")},
            "source": source,
            "status": status,
            **extra,
        }
        if kept is not None:
            row = kept.iloc[-1]
            info.update(sol=int(row["sol"]), rmc=str(row["rmc"]), kept_sol=int(row["sol"]))
        else:
            info.update(sol=None, rmc=None, sha256=None, kept_sol=None)
        return kept, info

    if not source:
        return None, {"source": None, "status": "off", "sol": None, "rmc": None, "sha256": None}
    last_wp = int(waypoints["sol"].max()) if len(waypoints) else None
    reusable = prev.get("source") == source and not force and kept is not None
    try:
        fetched = _fetch(source, prev if reusable else None, settings)
        if reusable and (fetched.not_modified or fetched.sha256 == prev.get("sha256")):
            frame = kept
            row = frame.iloc[-1]
            status = (
                "newer"
                if last_wp is None or int(row["sol"]) > last_wp
                else ("same" if int(row["sol"]) == last_wp else "older")
            )
            if status == "older":
                return keep("older", error=f"sol {int(row['sol'])} is older than the last waypoint (sol {last_wp})")
            return frame, {**prev, "status": status, "checked_at": _iso(fetched.fetched_at), "kept_sol": None}
        if fetched.not_modified:
            raise FetchError(source, "server answered 304 Not Modified to an unconditional request")
        layer = parse_waypoints(fetched.body, source, layer="current")
    except (FetchError, DataError) as exc:
        return keep("unavailable", error=str(exc), problem=exc.problem)
    frame = layer.frame.iloc[[-1]].reset_index(drop=True)  # one feature; the newest if more
    sol = int(frame["sol"].iloc[0])
    if last_wp is not None and sol < last_wp:
        return keep("older", error=f"sol {sol} is older than the last waypoint (sol {last_wp})")
    status = "newer" if last_wp is None or sol > last_wp else "same"
    return frame, {
        "source": source,
        "status": status,
        "name": layer.name,
        "etag": fetched.etag,
        "last_modified": fetched.last_modified,
        "sha256": fetched.sha256,
        "bytes": len(fetched.body),
        "fetched_at": _iso(fetched.fetched_at),
        "checked_at": _iso(fetched.fetched_at),
        "features": layer.features,
        "rows": 1,
        "skipped": layer.skipped,
        "sol": sol,
        "rmc": str(frame["rmc"].iloc[0]),
        "kept_sol": None,
    }


def _current_summary(layer: dict | None) -> dict:
    layer = layer or {"status": "off", "source": None}
    out = {
        "status": layer.get("status"),
        "sol": layer.get("sol"),
        "rmc": layer.get("rmc"),
        "source": layer.get("source"),
    }
    if layer.get("kept_sol") is not None:
        out["kept"] = True
    if layer.get("error"):
        out["error"] = layer["error"]
    if layer.get("problem"):
        out["problem"] = layer["problem"]
    return out


def _current_text(cur: dict) -> str:
    status, sol = cur.get("status"), cur.get("sol")
    kept = f"kept sol {sol}" if cur.get("kept") else "none kept"
    if status == "newer":
        return f"current position sol {sol} (after the last waypoint)"
    if status == "same":
        return f"current position sol {sol} (at the last waypoint)"
    if status == "older":
        return f"current position older than the waypoints, {kept}"
    if status == "unavailable":
        problem = cur.get("problem") or "see --json"
        problem = problem if len(problem) <= 60 else problem[:59] + "…"
        return f"current position unavailable ({problem}), {kept}"
    return "no current-position layer"


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
    out["current"] = _current_summary(meta["layers"].get("current"))
    return out


def one_line(summary: dict) -> str:
    wp, tr = summary["waypoints"], summary["traverse"]
    skipped = wp["skipped"] + tr["skipped"]
    verb = {"unchanged": "unchanged, still"}.get(summary.get("status"), summary.get("status", "loaded"))
    return (
        f"{verb} version {summary['version']}: {wp['rows']} waypoints (sols {wp['sol_min']}..{wp['sol_max']}), "
        f"{tr['rows']} traverse segments (sols {tr['sol_min']}..{tr['sol_max']}), "
        f"{_current_text(summary.get('current') or {})}, "
        f"{skipped} feature{'s' if skipped != 1 else ''} skipped"
    )
