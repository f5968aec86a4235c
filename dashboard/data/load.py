"""Load the layers from their sources into the store: fetch, parse, save, report.

Used by the CLI (``python -m dashboard load``), ``POST /load`` and the dashboard's
"Load data" button. A layer whose source answers 304 Not Modified, or whose bytes have
the same sha256 as the copy already stored, is not parsed again; when no layer changed
no new version is written.

The waypoints and the traverse are required: a failure of either fails the load. The
current position (NASA's ``M20_waypoints_current.json``, one feature) is optional: when
it cannot be fetched, is empty (NASA has served it empty) or is older than the last
waypoint, the load goes on, the previous current position is kept if there was one, and
the summary says which. So are the context layers (Ingenuity's flights, the sample tubes,
the terrain: :mod:`.context_load`): a layer that cannot be read keeps its previous copy
(``stale``) or is ``missing``, and the summary says so in words. A change of a context
layer's state is a change: the new version's metadata says what its layers are.

One load at a time: a load holds the load lock (:mod:`.lock`) from before its first
fetch until its version is current, renewed while it runs and freed within the lock's
lifetime (30 s) if its process dies. A load that finds it held raises :class:`LoadBusy`;
one that lost it (stopped or cut off from Redis for longer than that lifetime) raises
:class:`LoadLost` and writes nothing: the store's switch checks the lock in the same step.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pandas as pd
import redis

from dashboard.data.changes import record_change
from dashboard.data.context_load import Context, context_sources, load_context
from dashboard.data.context_summary import CONTEXT_LAYERS, context_summary, context_text
from dashboard.data.current import current_summary, current_text, fetched_body, load_current
from dashboard.data.fetch import Fetched, FetchError, fetch_layer, iso
from dashboard.data.legs import place_legs, unplaced
from dashboard.data.lock import LoadLock, LockLost
from dashboard.data.parse import parse_traverse, parse_waypoints
from dashboard.data.schema import DataError, Layer, source_label
from dashboard.data.store import Dataset, DatasetStore, merge_current
from dashboard.redis_conn import REDIS_FULL
from dashboard.settings import OFF, Settings

LAYERS = ("waypoints", "traverse")


class LoadError(RuntimeError):
    """A load failed; the message says which source and why. The current dataset is kept."""


class LoadBusy(LoadError):
    """Another load holds the load lock: this one did not start (try again later)."""


class LoadLost(LoadError):
    """This load ran past its lock (stopped or cut off from Redis for longer than the
    lock's lifetime) and another load may hold it: nothing was saved."""


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
    current_source: str | None = None,
    force: bool = False,
    heli_source: str | None = None,
    samples_source: str | None = None,
    terrain_source: str | None = None,
) -> dict:
    """Load the layers; return a summary dict. Raise :class:`LoadError` when the
    waypoints or the traverse fail (a failing current position or context layer does
    not fail the load):
    :class:`LoadBusy` when another load is running, :class:`LoadLost` when this one lost
    the load lock before its data became current."""
    sources = {
        "waypoints": waypoints_source or settings.waypoints_source,
        "traverse": traverse_source or settings.traverse_source,
        "current": current_source or settings.current_source,
    }
    if sources["current"] and sources["current"].strip().lower() in OFF:
        sources["current"] = None
    sources |= context_sources(settings, ingenuity=heli_source, samples=samples_source, terrain=terrain_source)
    started = time.monotonic()
    lock = store.load_lock()
    if not lock.acquire():
        raise LoadBusy("another load is already running; try again when it has finished")
    try:
        try:
            summary = _load_locked(store, settings, sources, force, lock)
        except LockLost as exc:
            # Not recorded: the load that holds the lock now reports its own outcome.
            raise LoadLost(f"{exc}: nothing was saved, the current dataset is kept") from exc
        except (FetchError, DataError) as exc:
            store.record_load({"ok": False, "error": str(exc), "at": iso(time.time()), "sources": sources})
            raise LoadError(str(exc)) from exc
        except redis.exceptions.OutOfMemoryError:
            # Say what happened where people look (the page's summary, /load's answer).
            # Redis refuses most writes while full, so recording may fail too: then the
            # 503 "out of memory" answer is the record.
            try:
                store.record_load(
                    {
                        "ok": False,
                        "at": iso(time.time()),
                        "sources": sources,
                        "error": f"{REDIS_FULL}: the new data was not saved",
                    }
                )
            except redis.RedisError:
                pass
            raise
        summary["seconds"] = round(time.monotonic() - started, 3)
        store.record_load({"ok": True, "at": iso(time.time()), **summary})
        return summary
    finally:
        lock.release()  # only if still ours; never raises


def _load_locked(store: DatasetStore, settings: Settings, sources: dict, force: bool, lock: LoadLock) -> dict:
    current = store.current()
    previous = current.meta.get("layers", {}) if current is not None else {}
    layers: dict[str, dict] = {}
    frames: dict[str, pd.DataFrame] = {}
    changed = current is None or force
    for name in LAYERS:
        source = sources[name]
        prev = previous.get(name)
        stored = prev if prev is not None and prev.get("source") == source and not force else None
        fetched = fetch_layer(source, stored, settings)
        lock.check()  # lost while fetching: stop here rather than parse for nothing
        if (
            stored is not None
            and current is not None
            and (fetched.not_modified or fetched.sha256 == stored.get("sha256"))
        ):
            layers[name] = {**stored, "checked_at": iso(fetched.fetched_at)}
            frames.update(_stored_frames(name, current))
            continue
        layers[name], parsed = _parse_layer(name, source, fetched)
        frames.update(parsed)
        changed = True

    previous_current = current.current if current is not None else None
    cur_frame, layers["current"] = load_current(
        settings, sources["current"], previous.get("current"), previous_current, frames["waypoints"], force
    )
    if layers["current"].get("sha256") != (previous.get("current") or {}).get("sha256"):
        changed = True  # a new current position, or none any more (a kept one keeps its sha256)
    if layers["traverse"].get("placed") is not None or unplaced(frames["traverse"]):
        layers["traverse"] = _placed(layers["traverse"], frames, cur_frame)
    context = _context(settings, sources, previous, current, force, lock)
    layers.update(context.layers)
    changed = changed or _context_changed(previous, context.layers)
    if not changed and current is not None:
        summary = {**summarize(current.meta), "status": "unchanged"}
        summary["current"] = current_summary(layers["current"])  # what this attempt found
        summary.update({name: context_summary(layers[name]) for name in CONTEXT_LAYERS})
        return summary
    named = (*LAYERS, "current", *CONTEXT_LAYERS)
    digest = hashlib.sha256("".join(layers[n].get("sha256") or "" for n in named).encode()).hexdigest()
    meta = {"loaded_at": iso(time.time()), "sha256": digest, "layers": layers}
    dataset = store.save(
        frames["waypoints"],
        frames["traverse"],
        frames["traverse_points"],
        meta,
        current=cur_frame,
        lock=lock,
        **context.fields(),
    )
    record_change(store, current, dataset)  # what changed on the track (never raises)
    return {**summarize(dataset.meta), "status": "loaded"}


def _context(
    settings: Settings, sources: dict, previous: dict, current: Dataset | None, force: bool, lock: LoadLock
) -> Context:
    """The context layers, the current dataset's copies kept where a source fails."""
    kept = {}
    if current is not None:
        kept = {"ingenuity": current.flights, "samples": current.samples, "terrain": current.terrain}
    context = load_context(settings, sources, previous, kept, force)
    lock.check()  # lost while fetching: stop here
    return context


def _context_changed(previous: dict, layers: dict) -> bool:
    """A context layer's content or state differs from the current version's."""
    return any(
        (layers[n].get("sha256"), layers[n].get("status"))
        != ((previous.get(n) or {}).get("sha256"), (previous.get(n) or {}).get("status"))
        for n in CONTEXT_LAYERS
    )


def _placed(layer: dict, frames: dict[str, pd.DataFrame], current: pd.DataFrame | None) -> dict:
    """A traverse without sols (Curiosity's) placed on the timeline from the waypoints and
    the current position (:mod:`.legs`), again at every load that writes a version (new
    waypoints place more legs); its metadata says how."""
    frames["traverse"], counts = place_legs(
        frames["traverse"], frames["traverse_points"], merge_current(frames["waypoints"], current)
    )
    sol_min, sol_max = _sol_range(frames["traverse"])
    return {**layer, "placed": counts, "sol_min": sol_min, "sol_max": sol_max}


def _stored_frames(name: str, current: Dataset) -> dict[str, pd.DataFrame]:
    """A layer's frames as the current dataset holds them (its source did not change)."""
    if name == "waypoints":
        return {"waypoints": current.waypoint_layer}
    return {"traverse": current.traverse, "traverse_points": current.traverse_points}


def _parse_layer(name: str, source: str, fetched: Fetched) -> tuple[dict, dict[str, pd.DataFrame]]:
    """A fetched layer parsed: (its metadata, its frames)."""
    body = fetched_body(fetched)  # a 304 to validators we did not send: a broken server
    layer: Layer = (parse_waypoints if name == "waypoints" else parse_traverse)(body, source)
    if name == "waypoints":
        frames = {"waypoints": layer.frame}
    else:
        frames = {"traverse": layer.frame}
        if layer.points is not None:
            frames["traverse_points"] = layer.points
    sol_min, sol_max = _sol_range(layer.frame)
    meta = {
        "source": source,
        "name": layer.name,
        **fetched.record(len(body)),
        "features": layer.features,
        "rows": len(layer.frame),
        "points": len(layer.points) if layer.points is not None else None,
        "skipped": layer.skipped,
        "sol_min": sol_min,
        "sol_max": sol_max,
    }
    return meta, frames


def summarize(meta: dict) -> dict:
    """The public summary of a dataset's metadata (CLI --json, POST /load)."""
    out: dict[str, Any] = {
        "version": meta.get("version"),
        "loaded_at": meta.get("loaded_at"),
        "sha256": meta.get("sha256"),
    }
    for name in LAYERS:
        layer = meta["layers"][name]
        out[name] = {
            "rows": layer["rows"],
            "sol_min": layer["sol_min"],
            "sol_max": layer["sol_max"],
            "skipped": sum(layer["skipped"].values()),
            "source": source_label(layer["source"]),
        }
        if layer.get("points") is not None:
            out[name]["points"] = layer["points"]
        if layer.get("placed") is not None:  # legs without sols, placed from the waypoints
            out[name]["placed"] = layer["placed"]
    out["current"] = current_summary(meta["layers"].get("current"))
    for name in CONTEXT_LAYERS:
        out[name] = context_summary(meta["layers"].get(name))
    return out


def one_line(summary: dict) -> str:
    wp, tr = summary["waypoints"], summary["traverse"]
    skipped = wp["skipped"] + tr["skipped"]
    status = summary.get("status", "loaded")
    verb = "unchanged, still" if status == "unchanged" else status
    return (
        f"{verb} version {summary['version']}: {wp['rows']} waypoints (sols {wp['sol_min']}..{wp['sol_max']}), "
        f"{tr['rows']} traverse segments (sols {tr['sol_min']}..{tr['sol_max']}"
        + (", placed from the waypoints" if tr.get("placed") else "")
        + "), "
        f"{current_text(summary.get('current') or {})}, "
        + "".join(f"{text}, " for text in (context_text(n, summary.get(n) or {}) for n in CONTEXT_LAYERS) if text)
        + f"{skipped} feature{'s' if skipped != 1 else ''} skipped"
    )
