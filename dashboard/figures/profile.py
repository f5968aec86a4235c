"""The ground under the rover on the elevation charts: junk elevations left out, the
terrain's profile under the track, and the climb over a range in words.

**Junk elevations.** NASA's files hold a few elevations that are placeholders, not
measurements: 15 traverse vertices of sol 668 say 0.00002 m where the crater floor is
at -2,529 m. An elevation is left out (treated as missing, like a -9999 sentinel) when

1. the terrain is known at its point and it lies more than :data:`JUNK_M` (500 m) from
   the terrain's height there (MOLA's 463 m pixels smooth the relief, but the rover's
   own elevations stay within ~110 m of them at Jezero), or
2. it is within :data:`ZERO_M` (1 m) of zero while the ground there (the terrain, or
   where there is none the median of the dataset's elevations) is more than
   :data:`JUNK_M` from zero.

Rows left out are not drawn at all (the line joins their neighbours), so a placeholder
never shows as a spike. Pure code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.data.terrain import Crop, sample
from dashboard.figures.common import SERIES_BUDGET, TOP_LEFT_NOTE, arr, thin_indices

#: an elevation further than this (m) from the ground under it is not a measurement
JUNK_M = 500.0
#: an elevation this close (m) to zero is a placeholder when the ground is far from zero
ZERO_M = 1.0
TERRAIN_COLOR = "#A6761D"  # a brown that reads on white and under the blue/green series
TERRAIN_FILL = "rgba(166,118,29,0.18)"
#: the profile's area reaches this far (a fraction of its own span) below its lowest point
FLOOR_MARGIN = 0.15
MINUS = "\u2212"


def junk(elev, lon, lat, terrain: Crop | None, typical: float | None = None) -> np.ndarray:
    """True where an elevation is junk by the rule of this module (NaN is not junk: it is
    already missing). ``typical``: the ground's height where the terrain is unknown (by
    default the median of ``elev``)."""
    elev = np.asarray(elev, dtype=float)
    ground = sample(terrain, lon, lat) if terrain is not None else np.full(elev.shape, np.nan)
    known = np.isfinite(ground)
    if typical is None:
        finite = elev[np.isfinite(elev)]
        typical = float(np.median(finite)) if finite.size else np.nan
    far = known & (np.abs(elev - ground) > JUNK_M)
    zero = (np.abs(elev) < ZERO_M) & (np.abs(np.where(known, ground, typical)) > JUNK_M)
    return (far | zero) & np.isfinite(elev)


def typical_elevation(*columns) -> float | None:
    """The median of the finite values of several elevation columns (None when none)."""
    values = np.concatenate([np.asarray(c, dtype=float) for c in columns]) if columns else np.array([])
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else None


def without_junk(frame: pd.DataFrame, column: str, terrain: Crop | None, typical: float | None = None) -> pd.DataFrame:
    """``frame`` without its rows whose ``column`` is junk (the same frame when none is)."""
    if frame.empty:
        return frame
    lon, lat = frame["lon"].to_numpy(dtype=float), frame["lat"].to_numpy(dtype=float)
    bad = junk(frame[column].to_numpy(dtype=float), lon, lat, terrain, typical)
    return frame[~bad] if bad.any() else frame


def profile_traces(x, lon, lat, terrain: Crop) -> list[dict]:
    """The terrain's height under the track (bilinear in the MOLA crop) against ``x``
    (km driven), as a shaded area: an invisible floor and the profile filled down to it.
    Points outside the crop are left out; no trace at all when none is inside."""
    x = np.asarray(x, dtype=float)
    ground = sample(terrain, lon, lat)
    keep = np.isfinite(x) & np.isfinite(ground)
    if not keep.any():
        return []
    order = np.argsort(x[keep], kind="stable")
    xs, ys = x[keep][order], ground[keep][order]
    idx = thin_indices(ys, SERIES_BUDGET)
    xs, ys = xs[idx], ys[idx]
    low, high = float(ys.min()), float(ys.max())
    floor = low - FLOOR_MARGIN * max(high - low, 10.0)
    base = {"type": "scatter", "mode": "lines", "legendgroup": "terrain", "x": arr(xs, "f4")}
    return [
        {
            **base,
            "y": arr(np.full(len(xs), floor), "f4"),
            "line": {"width": 0, "color": TERRAIN_COLOR},
            "hoverinfo": "skip",
            "showlegend": False,
            "name": "terrain floor",
        },
        {
            **base,
            "y": arr(ys, "f4"),
            "fill": "tonexty",
            "fillcolor": TERRAIN_FILL,
            "line": {"width": 1, "color": TERRAIN_COLOR},
            "name": "terrain under the track (MOLA, 463 m pixels)",
            "hovertemplate": "%{x:.3f} km<br>terrain: %{y:.0f} m (MOLA)<extra></extra>",
        },
    ]


def metres(value: float) -> str:
    """-2569.9 -> "−2570 m" (a true minus sign)."""
    rounded = round(value)
    return f"{MINUS if rounded < 0 else ''}{abs(rounded)} m"


def climb_text(start: float, end: float) -> str:
    """The net change of elevation over a range, in words."""
    change = round(end) - round(start)
    words = f"a net climb of {change} m" if change > 0 else f"a net descent of {-change} m" if change < 0 else "level"
    return f"From {metres(start)} to {metres(end)}: {words}"


def climb(sols, elevs) -> str | None:
    """:func:`climb_text` from the first to the last point by sol (points in path order:
    the first of the earliest sol, the last of the latest), or None without two usable
    points."""
    sols, elevs = np.asarray(sols, dtype=float), np.asarray(elevs, dtype=float)
    usable = np.isfinite(sols) & np.isfinite(elevs)
    if usable.sum() < 2:
        return None
    order = np.argsort(sols[usable], kind="stable")
    picked = elevs[usable][order]
    return climb_text(float(picked[0]), float(picked[-1]))


def climb_annotation(text: str) -> dict:
    """The climb's words in the top left corner of the plot."""
    return {
        "text": text,
        **TOP_LEFT_NOTE,
        "font": {"size": 12, "color": "#1f2a36"},
        "bgcolor": "rgba(255,255,255,0.8)",
    }
