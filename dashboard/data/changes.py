"""What changed on the rover's track from one dataset version to the next, and the list of
those changes kept in Redis (newest first) for ``/perseverance/changes`` and the feed.

:func:`change_summary` is pure: two datasets in, a dict out (or None when the track did not
change: a new version that only re-worded a note, or the same data loaded again). It says
which sols, waypoints and traverse legs are new, how far the rover drove and how its
elevation changed since the previous version, where it is now (the newest sol of any
layer, as ``/perseverance/current`` says it) and when NASA's data changed (the changed
layers' Last-Modified, else the time they were fetched).

Distance driven: the length of the new traverse legs when there are any (NASA's driven
path); otherwise the growth of the waypoints' odometry. Neither is known for the first
version (``first``: there is nothing to compare with).

Keys (under the app's prefix)::

    changes          LIST of JSON summaries, newest first, at most KEEP_CHANGES
    changes:version  the last dataset version whose change (if any) has been recorded

:func:`record_change` writes both in one MULTI/EXEC right after a new version is saved;
until it has, the version's change is "pending" (:func:`pending`), so an answer built from
the list is never cached under the new version's validators without its entry.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from email.utils import parsedate_to_datetime

import orjson
import pandas as pd

from dashboard.data.fetch import iso
from dashboard.data.store import Dataset, DatasetStore
from dashboard.data.timeline import now
from dashboard.marstime import parse_utc
from dashboard.redis_conn import as_text

#: how many changes are kept (the oldest are dropped)
KEEP_CHANGES = 100
#: seconds after a version's load during which its change counts as still being recorded
PENDING_GRACE = 30.0
#: the layers whose sha256 says whether NASA changed them
LAYERS = ("waypoints", "traverse", "current")

log = logging.getLogger(__name__)


def _sols(dataset: Dataset | None) -> set[int]:
    """Every sol of any layer (waypoints with the current position, traverse legs)."""
    if dataset is None:
        return set()
    sols = set(dataset.waypoints["sol"].astype("int64").tolist())
    if dataset.traverse is not None and len(dataset.traverse):
        sols |= set(dataset.traverse["sol"].dropna().astype("int64").tolist())
    return sols


def _legs(dataset: Dataset | None) -> Counter:
    """The traverse legs as a multiset of (sol, from, to, length): their row numbers are
    positions in NASA's file, not identities."""
    if dataset is None or dataset.traverse is None or not len(dataset.traverse):
        return Counter()
    tr = dataset.traverse
    keys = zip(
        [None if pd.isna(s) else int(s) for s in tr["sol"]],
        [None if pd.isna(r) else str(r) for r in tr["from_rmc"]],
        [None if pd.isna(r) else str(r) for r in tr["to_rmc"]],
        [None if pd.isna(v) else round(float(v), 2) for v in tr["length_m"]],
        strict=True,
    )
    return Counter(keys)


def _odometry(dataset: Dataset) -> float | None:
    total = dataset.waypoints["dist_total_m"].dropna()
    return float(total.max()) if len(total) else None


def _distance(previous: Dataset, new: Dataset, new_legs: Counter) -> float:
    """Metres driven since ``previous``: the new legs' length, else the odometry's growth."""
    if new_legs:
        return round(sum((key[3] or 0.0) * n for key, n in new_legs.items()), 1)
    before, after = _odometry(previous), _odometry(new)
    if before is None or after is None:
        return 0.0
    return round(max(0.0, after - before), 1)


def _layer_time(layer: dict) -> str | None:
    """When NASA last changed a layer: its Last-Modified (as ISO UTC), else its fetch time."""
    raw = layer.get("last_modified")
    if raw:
        try:
            return iso(parsedate_to_datetime(str(raw)).timestamp())
        except (TypeError, ValueError, IndexError):
            pass
    return layer.get("fetched_at")


def _data_changed(previous: Dataset | None, new: Dataset) -> tuple[list[str], str | None]:
    """The layers whose content changed, and the newest of their change times."""
    before = (previous.meta.get("layers") or {}) if previous is not None else {}
    after = new.meta.get("layers") or {}
    digests = {name: ((before.get(name) or {}).get("sha256"), (after.get(name) or {}).get("sha256")) for name in LAYERS}
    changed = [name for name, (old, new_) in digests.items() if new_ and new_ != old]
    times = [t for t in (_layer_time(after[name]) for name in changed) if t]
    when = max(times, key=lambda t: parse_utc(t) or 0) if times else new.meta.get("loaded_at")
    return changed, when


def _position(here: dict) -> dict:
    keys = ("sol", "earth_date", "lon", "lat", "elev_geoid_m", "layer", "rmc")
    return {key: here.get(key) for key in keys}


def change_summary(previous: Dataset | None, new: Dataset) -> dict | None:
    """What ``new`` changes on the rover's track compared with ``previous`` (None: the
    first version), or None when the track did not change."""
    here = now(new)
    if here.get("sol") is None:
        return None
    before = now(previous) if previous is not None else {}
    new_sols = sorted(_sols(new) - _sols(previous))
    waypoints = set(new.waypoints["rmc"]) - (set(previous.waypoints["rmc"]) if previous is not None else set())
    legs = _legs(new) - _legs(previous)
    moved = (here["sol"], here["lon"], here["lat"]) != (before.get("sol"), before.get("lon"), before.get("lat"))
    if not (new_sols or waypoints or legs or moved):
        return None
    # the sols the change is about: the new ones, else those of the new waypoints and legs
    sols = new_sols or sorted({*new.sols_of(sorted(waypoints)), *(k[0] for k in legs if k[0] is not None)})
    sols = sols or [here["sol"]]
    layers, changed_at = _data_changed(previous, new)
    elev_before, elev_after = before.get("elev_geoid_m"), here.get("elev_geoid_m")
    return {
        "version": new.version,
        "previous_version": previous.version if previous is not None else None,
        "first": previous is None,
        "sol_min": sols[0],
        "sol_max": sols[-1],
        "new_sols": len(new_sols),
        "new_waypoints": len(waypoints),
        "new_legs": sum(legs.values()),
        "distance_m": _distance(previous, new, legs) if previous is not None else None,
        "elevation_change_m": (
            round(elev_after - elev_before, 2) if elev_before is not None and elev_after is not None else None
        ),
        "newest": _position(here),
        "layers_changed": layers,
        "data_changed_at": changed_at,
        "loaded_at": new.meta.get("loaded_at"),
    }


# --- the list in Redis ------------------------------------------------------------------------


def record_change(store: DatasetStore, previous: Dataset | None, new: Dataset) -> dict | None:
    """Record ``new``'s change (if it has one) at the head of the list, and ``new`` as the
    last version looked at, in one transaction. Never raises: a change that cannot be
    recorded is logged, the load it follows has succeeded all the same."""
    try:
        summary = change_summary(previous, new)
        pipe = store.redis.pipeline(transaction=True)
        if summary is not None:
            pipe.lpush(store.key("changes"), orjson.dumps(summary))
            pipe.ltrim(store.key("changes"), 0, KEEP_CHANGES - 1)
        pipe.set(store.key("changes", "version"), new.version)
        pipe.execute()
        return summary
    except Exception:
        log.warning("the change of dataset version %s was not recorded", new.version, exc_info=True)
        return None


def recent_changes(store: DatasetStore, limit: int = KEEP_CHANGES) -> list[dict]:
    """The recorded changes, newest first (at most ``limit``)."""
    raw = store.redis.lrange(store.key("changes"), 0, max(0, min(limit, KEEP_CHANGES)) - 1)
    return [orjson.loads(item) for item in raw]


def pending(store: DatasetStore, dataset: Dataset, when: float | None = None) -> bool:
    """True while ``dataset``'s change is still being recorded: the list has been written
    for an older version and the dataset was loaded less than PENDING_GRACE s ago (after
    that, the recording failed and was logged: the list is served as it is)."""
    raw = store.redis.get(store.key("changes", "version"))
    if raw is None or not as_text(raw).isdigit() or not dataset.version.isdigit():
        return False
    if int(as_text(raw)) >= int(dataset.version):
        return False
    loaded = parse_utc(dataset.meta.get("loaded_at"))
    return loaded is not None and (when or time.time()) - loaded.timestamp() < PENDING_GRACE
