"""A traverse without sols, placed on the timeline from the rover's localizations.

Perseverance's traverse names each leg's sol; Curiosity's (``MSL_traverse.json``) does not:
its features are MultiLineStrings whose only property is ``Length``. So that the one
timeline, the map by sol and the distance per sol work for it too, each leg is placed
here from the waypoints around it:

- a leg whose last vertex lies within :data:`MATCH_METRES` of a localization (a waypoint,
  or the current position) ends there: it takes that localization's sol and names it
  (``to_rmc``), as Perseverance's legs do;
- a leg that ends away from every localization (NASA's traverse runs on past the last
  waypoint it has published) is placed on the sol of the next leg that ends at one: it was
  driven by then. After the last matched leg there is nothing to place it by: it keeps no
  sol (drawn with the whole drive, never on a made-up sol).

Pure code: frames in, frames out. The traverse layer's metadata records how many legs
were matched and how many carried (:func:`place_legs`'s counts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.data.terrain import MARS_RADIUS_M

#: how near (m) a leg's last vertex must lie to a localization to end there; NASA draws
#: the traverse through its localizations, so matched ends lie within centimetres
MATCH_METRES = 25.0
#: legs compared to localizations at once (bounds the distance matrix's memory)
CHUNK = 512


def unplaced(traverse: pd.DataFrame) -> bool:
    """The traverse names no leg's sol (Curiosity's), and has legs to place."""
    return len(traverse) > 0 and traverse["sol"].isna().all()


def _nearest(lon: np.ndarray, lat: np.ndarray, wlon: np.ndarray, wlat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest localization to each point, and its distance in metres."""
    scale = np.cos(np.radians(np.nanmean(wlat))) if wlat.size else 1.0
    index = np.zeros(lon.size, dtype=np.int64)
    metres = np.full(lon.size, np.inf)
    for start in range(0, lon.size, CHUNK):
        dx = (lon[start : start + CHUNK, None] - wlon[None, :]) * scale
        dy = lat[start : start + CHUNK, None] - wlat[None, :]
        d2 = np.nan_to_num(dx * dx + dy * dy, nan=np.inf)
        best = d2.argmin(axis=1)
        index[start : start + CHUNK] = best
        metres[start : start + CHUNK] = np.sqrt(d2[np.arange(best.size), best]) * np.radians(1.0) * MARS_RADIUS_M
    return index, metres


def place_legs(
    traverse: pd.DataFrame, points: pd.DataFrame, waypoints: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, int]]:
    """``traverse`` with each leg's ``sol`` (and ``to_rmc`` where it ends at a localization)
    taken from ``waypoints`` (the waypoint layer with the current position), and the counts
    ``{"matched", "carried", "unplaced"}``. Legs are in the file's order, the drive's."""
    legs = traverse.copy()
    ends = points.groupby("seg", sort=False).tail(1).set_index("seg")
    ends = ends.reindex(legs["seg"].to_numpy())
    located = waypoints.dropna(subset=["lon", "lat", "sol"])
    if located.empty or ends.empty:
        return legs, {"matched": 0, "carried": 0, "unplaced": len(legs)}
    index, metres = _nearest(
        ends["lon"].to_numpy(float),
        ends["lat"].to_numpy(float),
        located["lon"].to_numpy(float),
        located["lat"].to_numpy(float),
    )
    matched = metres <= MATCH_METRES
    sols = pd.Series(np.where(matched, located["sol"].to_numpy()[index], np.nan), index=legs.index)
    placed = sols.bfill()
    legs["sol"] = placed.round().astype("Int64")
    rmcs = located["rmc"].astype(str).to_numpy()[index]
    legs["to_rmc"] = pd.Series(np.where(matched, rmcs, None), index=legs.index, dtype=object)
    counts = {
        "matched": int(matched.sum()),
        "carried": int((~matched & placed.notna().to_numpy()).sum()),
        "unplaced": int(placed.isna().sum()),
    }
    return legs, counts
