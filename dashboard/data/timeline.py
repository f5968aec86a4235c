"""One timeline over NASA's three layers: their sols' union, the traverse by sol, "now".

NASA updates the waypoints, the traverse and the current position at different times, so
they cover different sols (with the shared files: waypoints to sol 1110, traverse and
current position to sol 1840). The page's range spans the union; each chart draws what
exists. Pure code: frames in, frames and dicts out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urljoin, urlparse

import numpy as np
import pandas as pd

from dashboard.data.context_summary import CONTEXT_LABELS, context_now
from dashboard.data.memo import MemoFn, no_memo
from dashboard.data.schema import source_label
from dashboard.settings import NASA_MISSION_URL

#: Layer names as people read them (hover, legend, the "now" card, the API).
LAYER_LABELS = {"waypoints": "waypoint layer", "traverse": "traverse layer", "current": "current-position layer"}
LAYER_LABELS |= {name: f"{label} layer" for name, label in CONTEXT_LABELS.items()}


def sol_bounds(dataset) -> tuple[int, int]:
    """The first and last sol of any layer (the page's and the API's timeline)."""
    sols = [dataset.waypoints["sol"]]
    if dataset.traverse is not None and len(dataset.traverse):
        sols.append(dataset.traverse["sol"].dropna().astype("int64"))
    both = pd.concat(sols, ignore_index=True)
    if both.empty:
        return 0, 1
    return int(both.min()), int(both.max())


#: the key of :func:`traverse_by_sol`'s table in a dataset version's memo
BY_SOL_MEMO_KEY = ("timeline", "traverse_by_sol")
BY_SOL_COLUMNS = ["sol", "lon", "lat", "elev", "driven_m", "total_m"]


def traverse_by_sol(traverse: pd.DataFrame | None, points: pd.DataFrame | None, memo: MemoFn = no_memo) -> pd.DataFrame:
    """One row per sol of the traverse: where its last leg ended (lon, lat, elevation of
    the last vertex), the length driven that sol (m) and the legs' cumulative length (m).
    Built once per dataset version through ``memo`` (the version's :meth:`Dataset.memo`,
    whose frames these are); without one, on every call."""
    if traverse is None or points is None or not len(traverse) or not len(points):
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "sol" else "float64") for c in BY_SOL_COLUMNS})
    return memo(BY_SOL_MEMO_KEY, lambda: _by_sol(traverse, points))


def _by_sol(traverse: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    legs = traverse[traverse["sol"].notna()]
    seg = points["seg"].to_numpy()
    last = np.flatnonzero(np.append(seg[1:] != seg[:-1], True))  # each leg's last vertex
    ends = pd.DataFrame(
        {
            "seg": seg[last],
            "lon": points["lon"].to_numpy()[last],
            "lat": points["lat"].to_numpy()[last],
            "elev": points["elev"].to_numpy()[last],
        }
    )
    frame = legs[["seg", "sol", "length_m"]].merge(ends, on="seg", how="left")
    frame = frame.assign(sol=frame["sol"].astype("int64")).sort_values(["sol", "seg"], kind="mergesort")
    per_sol = frame.groupby("sol", sort=True).agg(
        lon=("lon", "last"),
        lat=("lat", "last"),
        elev=("elev", "last"),
        driven_m=("length_m", lambda s: s.fillna(0).sum()),
    )
    per_sol["total_m"] = per_sol["driven_m"].cumsum()
    return per_sol.reset_index()[BY_SOL_COLUMNS]


def traverse_only(
    waypoints: pd.DataFrame,
    traverse: pd.DataFrame | None,
    points: pd.DataFrame | None,
    memo: MemoFn = no_memo,
) -> pd.DataFrame:
    """The traverse's sols on which no waypoint (of any layer) exists."""
    by_sol = traverse_by_sol(traverse, points, memo)
    if by_sol.empty:
        return by_sol
    return by_sol[~by_sol["sol"].isin(waypoints["sol"].unique())]


def mission_folder(source: str | None) -> str:
    """The MMGIS mission folder a layer's relative paths (panoramas) resolve against:
    the folder above ``Layers/`` of a URL source; NASA's M20 folder for a local file."""
    if source and urlparse(source).scheme.lower() in ("http", "https"):
        path = urlparse(source).path
        if "/Layers/" in path:
            return urljoin(source, path[: path.index("/Layers/") + 1])
        return urljoin(source, ".")
    return NASA_MISSION_URL


def panorama_url(image_url: str | None, source: str | None) -> str | None:
    """An absolute URL for a waypoint's ``images`` entry (``Layers/mosaics/...jpg``)."""
    if image_url is None or (isinstance(image_url, float) and image_url != image_url) or not str(image_url).strip():
        return None
    text = str(image_url).strip()
    if urlparse(text).scheme.lower() in ("http", "https"):
        return text
    return urljoin(mission_folder(source), text.lstrip("/"))


def _ago(then: datetime, now: datetime) -> str:
    days = (now - then).total_seconds() / 86400
    if days < 0:
        return "in the future"
    if days < 1:
        return "today"
    if days < 60:
        return f"{int(days)} day{'s' if int(days) != 1 else ''} ago"
    months = days / 30.44
    if months < 24:
        return f"{int(months)} months ago"
    return f"{days / 365.25:.1f} years ago"


def now(dataset, when: datetime | None = None) -> dict:
    """Where the rover is now, by the newest sol of any layer, and each layer's freshness
    (the context layers' in words too: which is missing or stale, and why)."""
    when = when or datetime.now(UTC)
    wp = dataset.waypoints
    layer_wp = dataset.waypoint_layer
    by_sol = traverse_by_sol(dataset.traverse, dataset.traverse_points, dataset.memo)
    current = dataset.current if dataset.current is not None else wp.iloc[0:0]
    wp_last = int(wp["sol"].max()) if len(wp) else None
    tr_last = int(by_sol["sol"].max()) if len(by_sol) else None
    candidates = [s for s in (wp_last, tr_last) if s is not None]
    if not candidates:
        return {"sol": None}
    sol = max(candidates)
    if wp_last is not None and wp_last >= sol:
        row = wp[wp["sol"] == wp_last].iloc[-1]
        layer = str(row["layer"]) if pd.notna(row["layer"]) else "waypoints"
        lon, lat, elev = float(row["lon"]), float(row["lat"]), row["elev_geoid"]
        odometry, rmc = float(row["dist_total_m"]), str(row["rmc"])
        odometry_from = layer
    else:
        row = by_sol[by_sol["sol"] == tr_last].iloc[-1]
        layer, rmc = "traverse", None
        lon, lat, elev = float(row["lon"]), float(row["lat"]), row["elev"]
        odometry, odometry_from = float(row["total_m"]), "traverse"
    start = dataset.calendar.sol_start(sol)
    meta_layers = (dataset.meta or {}).get("layers", {})
    cur_meta = meta_layers.get("current") or {}
    return {
        "sol": sol,
        "earth_date": start.date().isoformat(),
        "sol_start_utc": start.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "ago": _ago(start, when),
        "layer": layer,
        "rmc": rmc,
        "lon": round(lon, 6),
        "lat": round(lat, 6),
        "elev_geoid_m": None if pd.isna(elev) else round(float(elev), 2),
        "odometry_km": round(odometry / 1000.0, 3),
        "odometry_m": round(odometry, 1),
        "odometry_from": odometry_from,
        "layers": {
            "waypoints": {
                "sol_max": int(layer_wp["sol"].max()) if len(layer_wp) else None,
                "source": source_label((meta_layers.get("waypoints") or {}).get("source")),
            },
            "traverse": {"sol_max": tr_last, "source": source_label((meta_layers.get("traverse") or {}).get("source"))},
            "current": {
                "sol": int(current["sol"].max()) if len(current) else None,
                "status": cur_meta.get("status", "off" if not len(current) else "newer"),
                "source": source_label(cur_meta.get("source")),
            },
            **context_now(dataset),
        },
        "loaded_at": (dataset.meta or {}).get("loaded_at"),
        "dataset_version": dataset.version,
    }
