"""The optional current-position layer (NASA's ``M20_waypoints_current.json``, one
feature in the waypoint schema): fetched and parsed like the waypoints, but its failure,
emptiness or age never fails a load: the previous current position is kept if there was
one, and ``status`` says what happened ("newer", "same", "older", "unavailable", "off")."""

from __future__ import annotations

import pandas as pd

from dashboard.data.fetch import Fetched, FetchError, fetch_layer, iso
from dashboard.data.parse import parse_waypoints
from dashboard.data.schema import DataError, source_label
from dashboard.settings import Settings

#: the longest problem quoted in the one-line summary
PROBLEM_CHARS = 60


def load_current(
    settings: Settings,
    source: str | None,
    prev: dict | None,
    prev_frame: pd.DataFrame | None,
    waypoints: pd.DataFrame,
    force: bool,
) -> tuple[pd.DataFrame | None, dict]:
    """The optional current-position layer: (frame or None, its metadata). Never raises
    for the layer's own problems; says in ``status`` what happened."""
    prev = prev or {}
    kept = prev_frame if prev_frame is not None and len(prev_frame) else None
    if not source:
        return None, {"source": None, "status": "off", "sol": None, "rmc": None, "sha256": None}
    last_wp = int(waypoints["sol"].max()) if len(waypoints) else None
    reusable = prev.get("source") == source and not force and kept is not None
    try:
        fetched = fetch_layer(source, prev if reusable else None, settings)
        if kept is not None and reusable and (fetched.not_modified or fetched.sha256 == prev.get("sha256")):
            sol = int(kept["sol"].iloc[-1])
            status = "newer" if last_wp is None or sol > last_wp else ("same" if sol == last_wp else "older")
            if status == "older":
                error = f"sol {sol} is older than the last waypoint (sol {last_wp})"
                return _keep(source, prev, kept, "older", error=error)
            return kept, {**prev, "status": status, "checked_at": iso(fetched.fetched_at), "kept_sol": None}
        body = fetched_body(fetched)
        layer = parse_waypoints(body, source, layer="current")
    except (FetchError, DataError) as exc:
        return _keep(source, prev, kept, "unavailable", error=str(exc), problem=exc.problem)
    frame = layer.frame.iloc[[-1]].reset_index(drop=True)  # one feature; the newest if more
    sol = int(frame["sol"].iloc[0])
    if last_wp is not None and sol < last_wp:
        return _keep(source, prev, kept, "older", error=f"sol {sol} is older than the last waypoint (sol {last_wp})")
    status = "newer" if last_wp is None or sol > last_wp else "same"
    return frame, {
        "source": source,
        "status": status,
        "name": layer.name,
        **fetched.record(len(body)),
        "features": layer.features,
        "rows": 1,
        "skipped": layer.skipped,
        "sol": sol,
        "rmc": str(frame["rmc"].iloc[0]),
        "kept_sol": None,
    }


def _keep(source: str, prev: dict, kept: pd.DataFrame | None, status: str, **extra) -> tuple[pd.DataFrame | None, dict]:
    """The previous current position (if there was one) kept, with why."""
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


def fetched_body(fetched: Fetched) -> bytes:
    """The body of a fetch that was not answered 304 (FetchError for a 304 to a request
    without validators: a broken server)."""
    if fetched.not_modified or fetched.body is None:
        raise FetchError(fetched.source, "server answered 304 Not Modified to an unconditional request")
    return fetched.body


def current_summary(layer: dict | None) -> dict:
    layer = layer or {"status": "off", "source": None}
    out = {
        "status": layer.get("status"),
        "sol": layer.get("sol"),
        "rmc": layer.get("rmc"),
        "source": source_label(layer.get("source")),
    }
    if layer.get("kept_sol") is not None:
        out["kept"] = True
    if layer.get("error"):
        out["error"] = layer["error"]
    if layer.get("problem"):
        out["problem"] = layer["problem"]
    return out


def current_text(cur: dict) -> str:
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
        problem = problem if len(problem) <= PROBLEM_CHARS else problem[: PROBLEM_CHARS - 1] + "…"
        return f"current position unavailable ({problem}), {kept}"
    return "no current-position layer"
