"""What a replay of the drive shows: the sol of each frame, and the one figure every frame
is drawn from (worker side, pure: dataset + request in, figure and frame states out).

The figure is the page's traverse map (``dashboard.figures.build("map", ...)`` for the
replay's sol range, made fit for a static file by :func:`~dashboard.exports.vector.for_export`)
plus what a replay needs:

- the whole path once more, faint, under the path driven so far: where the rover goes;
- the rover's position (a marker), where it was at the end of the frame's sol;
- the sol and the Earth date it began (``dashboard.marstime``), top left;
- a scale bar in km (or m), bottom left: 1 degree of longitude is 2 pi x 3,389,500 m x
  cos(latitude) / 360 at the map's middle latitude;
- fixed axis ranges (the map does not move from frame to frame) and no hover text.

Each frame then shows the first points of the path, waypoint and current-position traces
(their points are in sol order; the context layers' traces, Ingenuity's flights and the
sample sites, are drawn whole on every frame): those of sols up to the frame's (:class:`Replay`'s
``frames``, a few numbers each). The browser gets the figure once and each frame's few
numbers (``dashboard/exports/video.py``).

Where the rover was: the last position known at the end of a sol, on the one timeline of
the layers: the waypoints (their last localization of the sol, the current position
included), and the traverse's legs where no waypoint exists (it goes on where the
waypoints stop). A sol before any position shows no marker.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashboard.data.timeline import traverse_by_sol
from dashboard.exports.request import ExportRequest
from dashboard.exports.vector import for_export
from dashboard.figures import PATH_MEMO_KEY, ChartData, View, arr, build, values
from dashboard.figures.common import TOP_LEFT_NOTE, calendar_of, in_range, split_current
from dashboard.figures.layers import FLIGHT_GROUP, SAMPLE_GROUP
from dashboard.figures.map import DEFAULT_LATITUDE, path_levels
from dashboard.figures.terrain import IMAGE_INLINE
from dashboard.marstime import M20, SolCalendar

MARS_RADIUS_M = 3_389_500
#: Jezero crater's longitude (°E): the map's middle when nothing at all is known
DEFAULT_LONGITUDE = 77.45
#: share of the data's extent added around it, and the smallest extent (degrees, ~110 m)
RANGE_PAD, MIN_SPAN_DEGREES = 0.06, 0.002
#: the scale bar: about this share of the map's width, placed this far in from its corner
SCALE_SHARE, SCALE_INSET = 0.2, 0.04
#: the scale bar's height in the plot (paper units) and its label's font size
SCALE_Y, SCALE_FONT = 0.05, 12
#: the stamp's font and the rover's marker grow with the frame: pixels of height per point
#: of size, within these bounds (16 and 15 at 720 pixels)
STAMP_PX_PER_POINT, STAMP_SIZES = 45, (11, 18)
ROVER_PX_PER_POINT, ROVER_SIZES = 48, (9, 18)
GHOST = {"color": "#d3d9e0", "width": 3}
GHOST_NAME = "path ahead"
ROVER_NAME = "rover"
ROVER_MARKER = {"symbol": "circle", "size": 15, "color": "#E69F00", "line": {"width": 2, "color": "#1f2a36"}}
STAMP_STYLE = {
    **TOP_LEFT_NOTE,
    "bgcolor": "rgba(255,255,255,0.85)",
    "bordercolor": "#A2B1C6",
    "borderwidth": 1,
    "borderpad": 5,
}
#: the context layers' traces (Ingenuity's flights, the sample sites): every frame shows
#: them whole, as the map of the replay's range does (their points have no sol order)
CONTEXT_GROUPS = (FLIGHT_GROUP, SAMPLE_GROUP)
#: per-point attributes only hover and selection use: a still frame has no use for them
HOVER_KEYS = ("text", "hovertext", "hovertemplate", "customdata", "ids", "selectedpoints")


def frame_sols(sol_min: int, sol_max: int, frames: int) -> list[int]:
    """The sol each of ``frames`` frames shows: evenly spread from ``sol_min`` (the first
    frame) to ``sol_max`` (the last); more frames than sols show a sol on several frames."""
    if frames < 2:
        return [sol_max] * frames
    span = sol_max - sol_min
    return [sol_min + (k * span) // (frames - 1) for k in range(frames)]


def stamp_text(sol: int, calendar: SolCalendar = M20) -> str:
    return f"<b>Sol {sol}</b> · {calendar.sol_date(sol).isoformat()} (UTC)"


@dataclass(frozen=True)
class Replay:
    """The figure (sent to the browser once) and, for each frame, its state: how many
    points of each trace it shows (None: all of them), the rover's position or None, the
    stamp's text."""

    figure: dict
    sols: list[int]
    cuts: list[list[int | None]]
    rover: list[list[float] | None]
    stamps: list[str]
    rover_trace: int
    stamp_annotation: int

    def spec(self) -> dict:
        """What the browser page gets once: the figure and the frames' states."""
        return {
            "figure": self.figure,
            "frames": [
                {"cuts": c, "rover": r, "stamp": s} for c, r, s in zip(self.cuts, self.rover, self.stamps, strict=True)
            ],
            "rover": self.rover_trace,
            "stamp": self.stamp_annotation,
        }


# --- where the rover was -----------------------------------------------------------------


def positions(dataset: ChartData) -> pd.DataFrame:
    """(sol, lon, lat) at the end of each sol with a known position, ascending: the
    waypoints' last localization of the sol, else the traverse's last vertex of the sol."""
    wp = dataset.waypoints[["sol", "lon", "lat"]].assign(source=1)
    by_sol = traverse_by_sol(dataset.traverse, dataset.traverse_points, dataset.memo)
    tr = by_sol[["sol", "lon", "lat"]].assign(source=0)
    both = pd.concat([tr, wp], ignore_index=True).dropna(subset=["lon", "lat"])
    both = both.sort_values(["sol", "source"], kind="mergesort")
    return both.groupby("sol", sort=True).last().reset_index()[["sol", "lon", "lat"]]


def rover_at(table: pd.DataFrame, sols: list[int]) -> list[list[float] | None]:
    """The rover's position at the end of each sol (the last one known), or None."""
    known = table["sol"].to_numpy()
    at = np.searchsorted(known, np.asarray(sols), side="right") - 1
    lon, lat = table["lon"].to_numpy(dtype=float), table["lat"].to_numpy(dtype=float)
    return [[float(lon[i]), float(lat[i])] if i >= 0 else None for i in at.tolist()]


# --- which points of a trace a frame shows --------------------------------------------------


def _keys(x, y) -> np.ndarray:
    """Each vertex as one number: its float32 longitude and latitude bits (the map sends float32)."""
    lon = np.ascontiguousarray(x, dtype="<f4").view("<u4").astype(np.uint64)
    lat = np.ascontiguousarray(y, dtype="<f4").view("<u4").astype(np.uint64)
    return (lon << np.uint64(32)) | lat


def path_sols(dataset: ChartData, x: np.ndarray, y: np.ndarray, view: View) -> np.ndarray:
    """The sol of each vertex of the map's (thinned) path: its vertices are a subset of the
    full-resolution path (``dashboard.figures.map.path_levels``, from the dataset's memo
    where the map put them), in sol order, so each is found there by its coordinates.
    Breaks (NaN), and a vertex not found, take the sol of the vertex before; the result
    never decreases along the path (a place driven over twice counts from its later pass's
    neighbours)."""
    n = len(x)
    sols = np.full(n, np.nan)
    if dataset.traverse is not None and dataset.traverse_points is not None and n:
        levels = dataset.memo(PATH_MEMO_KEY, lambda: path_levels(dataset.traverse, dataset.traverse_points))
        full = levels[0]
        i0, i1 = np.searchsorted(full.sol, [view.sol_min, view.sol_max + 0.5])
        keys = _keys(full.lon[i0:i1], full.lat[i0:i1])
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        finite = np.isfinite(x) & np.isfinite(y)
        if len(ordered):
            want = _keys(np.where(finite, x, 0), np.where(finite, y, 0))
            at = np.minimum(np.searchsorted(ordered, want), len(ordered) - 1)
            found = finite & (ordered[at] == want)
            sols[found] = full.sol[i0:i1][order[at[found]]]
    last = np.maximum.accumulate(np.where(np.isnan(sols), -1, np.arange(n)))
    filled = np.where(last >= 0, sols[np.maximum(last, 0)], view.sol_min)
    return np.maximum.accumulate(filled) if n else filled


def _in_sol_order(trace: dict, sols: np.ndarray) -> np.ndarray:
    """Reorder a markers trace's points by sol (stable); their sols, ascending."""
    order = np.argsort(sols, kind="stable")
    if not np.array_equal(order, np.arange(len(sols))):
        for key in ("x", "y"):
            trace[key] = arr(values(trace[key])[order], "f8")
        marker = trace.get("marker") or {}
        if len(np.atleast_1d(values(marker.get("color", [])))) == len(sols):
            trace["marker"] = {**marker, "color": arr(values(marker["color"])[order], "i4")}
    return sols[order]


# --- the figure -----------------------------------------------------------------------------


def nice_length(metres: float) -> float:
    """The largest 1, 2 or 5 x 10^k metres not over ``metres`` (at least 1 m)."""
    if metres < 1:
        return 1.0
    power = 10 ** math.floor(math.log10(metres))
    return max(step * power for step in (1, 2, 5) if step * power <= metres)


def scale_bar(x_range: list[float], y_range: list[float]) -> tuple[list[dict], dict]:
    """Shapes (a backing box, the bar, its end ticks) and the label of a scale bar in the
    bottom left corner of the plot, sized for the map's longitude span at its latitude."""
    lat = (y_range[0] + y_range[1]) / 2
    metres_per_degree = 2 * math.pi * MARS_RADIUS_M * math.cos(math.radians(lat)) / 360
    width = x_range[1] - x_range[0]
    length = nice_length(width * metres_per_degree * SCALE_SHARE)
    x0 = x_range[0] + SCALE_INSET * width
    x1 = x0 + length / metres_per_degree
    pad = 0.01 * width
    line = {"color": "#1f2a36", "width": 3}
    axes = {"xref": "x", "yref": "paper", "layer": "above"}
    shapes = [
        {"type": "rect", "x0": x0 - pad, "x1": x1 + pad, "y0": SCALE_Y - 0.025, "y1": SCALE_Y + 0.07, **axes}
        | {"fillcolor": "rgba(255,255,255,0.8)", "line": {"width": 0}},
        {"type": "line", "x0": x0, "x1": x1, "y0": SCALE_Y, "y1": SCALE_Y, "line": line, **axes},
        {"type": "line", "x0": x0, "x1": x0, "y0": SCALE_Y - 0.01, "y1": SCALE_Y + 0.015, "line": line, **axes},
        {"type": "line", "x0": x1, "x1": x1, "y0": SCALE_Y - 0.01, "y1": SCALE_Y + 0.015, "line": line, **axes},
    ]
    text = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    label = {
        "text": text,
        "x": (x0 + x1) / 2,
        "y": SCALE_Y + 0.015,
        "xref": "x",
        "yref": "paper",
        "xanchor": "center",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": SCALE_FONT, "color": "#1f2a36"},
    }
    return shapes, label


def _extent(traces: list[dict], rover: list[list[float] | None]) -> tuple[list[float], list[float]]:
    """Axis ranges holding every point of the replay, padded; the rover's last position (or
    Jezero) when there is none."""
    xs = [values(t["x"]).astype(float) for t in traces if len(values(t["x"]))]
    ys = [values(t["y"]).astype(float) for t in traces if len(values(t["y"]))]
    xs += [np.array([p[0] for p in rover if p])]
    ys += [np.array([p[1] for p in rover if p])]
    x, y = np.concatenate(xs), np.concatenate(ys)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if not len(x):
        x, y = np.array([DEFAULT_LONGITUDE]), np.array([DEFAULT_LATITUDE])
    out = []
    for v in (x, y):
        lo, hi = float(v.min()), float(v.max())
        pad = max((hi - lo) * RANGE_PAD, (MIN_SPAN_DEGREES - (hi - lo)) / 2, 0.0)
        out.append([lo - pad, hi + pad])
    return out[0], out[1]


def _still(trace: dict) -> dict:
    """A trace without what only hovering and selecting use."""
    return {k: v for k, v in trace.items() if k not in HOVER_KEYS}


def _trace_sols(dataset: ChartData, trace: dict, view: View) -> np.ndarray:
    """The sol of each point of one of the map's traces."""
    name = str(trace.get("name", ""))
    if name.startswith("drive path"):
        return path_sols(dataset, values(trace["x"]), values(trace["y"]), view)
    if name.startswith("current position"):
        _, cur = split_current(in_range(dataset.waypoints, view, use_selection=False))
        return np.full(len(values(trace["x"])), float(cur["sol"].max()) if len(cur) else view.sol_max)
    return _in_sol_order(trace, values((trace.get("marker") or {}).get("color", [])).astype(float))


def replay_of(dataset: ChartData, request: ExportRequest, image_source: str = IMAGE_INLINE) -> Replay:
    """The replay ``request`` (chart "replay") of ``dataset``: the map and every frame's
    state. ``image_source``: how the map refers to the relief
    (:mod:`dashboard.figures.terrain`): inline by default, as any browser without this
    app's server (the worker's, a benchmark's) needs it; the page passes ``IMAGE_URL``."""
    view = View.of(request.sol_min, request.sol_max)
    figure = build("map", dataset, view, image_source=image_source)
    figure = for_export(figure, request.width, request.height, 1.0)
    sols = frame_sols(request.sol_min, request.sol_max, int(request.frames or 2))
    data, cuts_by_trace = [], []
    for trace in figure["data"]:
        trace = _still(trace)
        if trace.get("legendgroup") in CONTEXT_GROUPS:  # drawn whole, as the map draws them
            data.append(trace)
            cuts_by_trace.append([None] * len(sols))
            continue
        point_sols = _trace_sols(dataset, trace, view)
        if str(trace.get("name", "")).startswith("drive path"):
            ghost = {**copy.deepcopy(trace), "name": GHOST_NAME, "line": GHOST}
            data.append(ghost)
            cuts_by_trace.append([None] * len(sols))
        data.append(trace)
        cuts_by_trace.append(np.searchsorted(point_sols, np.asarray(sols), side="right").tolist())
    rover = rover_at(positions(dataset), sols)
    marker = {**ROVER_MARKER, "size": sized(request.height, ROVER_PX_PER_POINT, ROVER_SIZES)}
    data.append({"type": "scatter", "x": [], "y": [], "mode": "markers", "name": ROVER_NAME, "marker": marker})
    cuts = [list(frame) for frame in zip(*cuts_by_trace, strict=True)] if cuts_by_trace else [[] for _ in sols]
    for frame in cuts:
        frame.append(None)
    stamps = [stamp_text(s, calendar_of(dataset)) for s in sols]
    layout = _layout(figure["layout"], request, *_extent(data, rover), stamps[0])
    return Replay(
        {"data": data, "layout": layout}, sols, cuts, rover, stamps, len(data) - 1, len(layout["annotations"]) - 1
    )


def sized(height: int, px_per_point: int, sizes: tuple[int, int]) -> int:
    """A font or marker size for a frame ``height`` pixels high."""
    return max(sizes[0], min(sizes[1], round(height / px_per_point)))


def _layout(layout: dict, request: ExportRequest, x_range: list[float], y_range: list[float], first_stamp: str) -> dict:
    """The map's layout at the replay's size, with fixed ranges, the scale bar and the stamp
    last. The map's own scale bar (drawn with the relief, in data coordinates: its only
    shapes, its only annotation on the axes) gives way to the replay's, sized for its ranges."""
    shapes, label = scale_bar(x_range, y_range)
    stamp = {**STAMP_STYLE, "text": first_stamp}
    stamp["font"] = {"color": "#1f2a36", "size": sized(request.height, STAMP_PX_PER_POINT, STAMP_SIZES)}
    out = {**layout, "width": request.width, "height": request.height, "autosize": False, "hovermode": False}
    out["xaxis"] = {**layout.get("xaxis", {}), "range": x_range, "autorange": False}
    out["yaxis"] = {**layout.get("yaxis", {}), "range": y_range, "autorange": False}
    out["shapes"] = shapes
    kept = [a for a in layout.get("annotations", []) if (a.get("xref"), a.get("yref")) != ("x", "y")]
    out["annotations"] = [*kept, label, stamp]
    out.pop("dragmode", None)
    return out
