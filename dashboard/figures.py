"""Pure figure builders: frames + a view -> a plotly figure (as a plain dict).

Used by the Dash callbacks and by the export job, so the exported file is the figure
the page shows. Builders read nothing global (no ``dash.callback_context``, no store):
same inputs, same figure.

Figures are plain dicts in plotly's JSON schema, with numeric arrays as typed-array
specs (``{"dtype": "f8", "bdata": <base64>}``, which plotly.js decodes natively): dcc.Graph
and kaleido take them as they are, and building them costs ~1 ms instead of ~10 ms
of ``go.Figure`` validation per chart. ``go.Figure(fig)`` validates one when wanted
(the unit tests do). :func:`values` decodes an array back.

Large inputs are thinned for display (min/max per bucket for series, a vertex budget
for the traverse path, sols binned for the bars) so the page stays light; below the
budgets every point is drawn.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashboard.data.timeline import LAYER_LABELS, traverse_by_sol, traverse_only
from dashboard.marstime import sol_dates, sol_instants

#: Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000"]
SOL_COLORSCALE = "Viridis"  # perceptually uniform, colour-blind safe
SERIES_BUDGET = 2000  # points per series trace before min/max thinning
MAP_POINT_BUDGET = 4000  # waypoint markers on the map
PATH_BUDGET = 6000  # traverse vertices on the map (~4 m apart over NASA's whole 42.5 km drive)
GAP_DEGREES = 2e-5  # |dlon| + |dlat| above which two legs do not join (~1 m)
GL_THRESHOLD = 1000  # WebGL traces above this many points
BAR_BUDGET = 1500  # bars in the distance chart before sols are binned
GAP_SOLS = 60  # more sols than this without data: the line breaks (NASA's own gaps are <= 42)
CURRENT_COLOR = "#D55E00"  # the current-position layer's star

_AXIS = {
    "gridcolor": "#E5ECF6",
    "linecolor": "#A2B1C6",
    "zerolinecolor": "#C8D4E3",
    "ticks": "outside",
    "tickcolor": "#A2B1C6",
    "automargin": True,
}
#: A light template of our own, in the spirit of plotly's "plotly_white".
TEMPLATE = {
    "layout": {
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 13, "color": "#1f2a36"},
        "xaxis": _AXIS,
        "yaxis": _AXIS,
        "colorway": PALETTE,
        "hoverlabel": {"align": "left"},
    }
}

Figure = dict  # {"data": [trace, ...], "layout": {...}}


def arr(values, dtype: str = "f8") -> dict:
    """A numeric array as a plotly typed-array spec."""
    np_dtype = {"f8": "<f8", "f4": "<f4", "i4": "<i4"}[dtype]
    data = np.ascontiguousarray(np.asarray(values), dtype=np_dtype)
    return {"dtype": dtype, "bdata": base64.b64encode(data.tobytes()).decode("ascii")}


def values(spec) -> np.ndarray:
    """Decode a typed-array spec (or pass a list through) as a numpy array."""
    if isinstance(spec, dict) and "bdata" in spec:
        np_dtype = {"f8": "<f8", "f4": "<f4", "i4": "<i4"}[spec["dtype"]]
        return np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np_dtype)
    return np.asarray(spec)


@dataclass(frozen=True)
class View:
    """What a figure shows: an inclusive sol range, an optional sol selection, and the
    time axis of the charts by sol (``"sol"``, or ``"date"``: the UTC start of each sol)."""

    sol_min: int
    sol_max: int
    sols: frozenset[int] | None = None  # a map selection narrows the other charts
    time_axis: str = "sol"

    @classmethod
    def of(cls, sol_min, sol_max, sols: Iterable[int] | None = None, time_axis: str = "sol") -> View:
        lo, hi = int(sol_min), int(sol_max)
        if lo > hi:
            lo, hi = hi, lo
        return cls(
            lo,
            hi,
            frozenset(int(s) for s in sols) if sols is not None else None,
            "date" if time_axis == "date" else "sol",
        )


# ---------------------------------------------------------------------------------------
# selecting and thinning


def in_range(frame: pd.DataFrame, view: View, use_selection: bool = True) -> pd.DataFrame:
    sol = frame["sol"]
    mask = (sol >= view.sol_min) & (sol <= view.sol_max)
    if use_selection and view.sols is not None:
        mask &= sol.isin(view.sols)
    keep = mask.fillna(False).to_numpy(dtype=bool)
    return frame if keep.all() else frame[keep]  # the whole range: no copy


def thin_indices(y: np.ndarray, budget: int) -> np.ndarray:
    """Indices keeping the first, last, minimum and maximum of each bucket (M4-style),
    at most ``budget`` of them; all indices when there are no more than ``budget``."""
    n = len(y)
    if n <= budget:
        return np.arange(n)
    buckets = max(1, budget // 4)
    size = math.ceil(n / buckets)
    padded = np.full(buckets * size, np.nan)
    padded[:n] = y
    grid = padded.reshape(buckets, size)
    starts = np.arange(buckets) * size
    lows = starts + np.argmin(np.where(np.isnan(grid), np.inf, grid), axis=1)
    highs = starts + np.argmax(np.where(np.isnan(grid), -np.inf, grid), axis=1)
    ends = np.minimum(starts + size - 1, n - 1)
    keep = np.unique(np.concatenate([starts, ends, lows, highs]))
    return keep[keep < n]


def _scatter_type(n: int) -> str:
    return "scattergl" if n > GL_THRESHOLD else "scatter"


def _layers(frame: pd.DataFrame) -> np.ndarray:
    if "layer" not in frame:
        return np.full(len(frame), "waypoints", dtype=object)
    return frame["layer"].fillna("waypoints").to_numpy(dtype=object)


def _layer_of(frame: pd.DataFrame) -> str:
    """The layer of a one-layer frame (its first row's)."""
    if "layer" not in frame or not len(frame):
        return "waypoints"
    first = frame["layer"].iloc[0]
    return "waypoints" if pd.isna(first) else str(first)


def split_current(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows of the waypoint layer, rows of the current-position layer). The current
    position is at most the last row, so only the tail is looked at (no copy otherwise)."""
    if "layer" not in frame or not len(frame):
        return frame, frame.iloc[0:0]
    tail = frame["layer"].iloc[-1]
    if tail != "current":
        return frame, frame.iloc[0:0]
    layer = frame["layer"]
    k = 1
    while k < len(frame) and layer.iloc[-k - 1] == "current":
        k += 1
    return frame.iloc[:-k], frame.iloc[-k:]  # slices: no copy of the frame


def time_x(sols, view: View):
    """Sols as the time axis wants them: sols (typed array), or ISO instants (a list,
    None for a gap) when the axis shows Earth dates."""
    sols = np.asarray(sols, dtype=float)
    if view.time_axis != "date":
        return arr(sols, "f4")  # whole sols are exact in float32 (to 16.7 M); NaN breaks a line
    return sol_instants(sols)


def _time_axis(view: View, **kw) -> dict:
    if view.time_axis == "date":
        return {"title": {"text": "Earth date (UTC, start of sol)"}, "type": "date", **kw}
    return {"title": {"text": "Sol"}, **kw}


def _hover(sols: np.ndarray, layer: str, x: str, view: View) -> tuple[list[str], str]:
    """(text per point, the hover's first lines). A trace holds one layer's points, so the
    layer is said once, in the template; per point only short text travels (it compresses
    far better than a second binary array): the Earth date when x is the sol, the sol
    when x is the Earth date, both when x is a distance."""
    sols = np.asarray(sols, dtype=float)
    ok = np.isfinite(sols).tolist()
    label = f"from the {LAYER_LABELS.get(layer, layer)}<br>"
    if x == "sol" and view.time_axis == "date":
        text = [str(int(s)) if good else "" for s, good in zip(sols.tolist(), ok)]
        return text, "Sol %{text} · %{x|%Y-%m-%d} (UTC)<br>" + label
    dates = sol_dates(np.nan_to_num(sols)).tolist()
    if x == "sol":
        return [d if good else "" for d, good in zip(dates, ok)], "Sol %{x} · %{text} (UTC)<br>" + label
    text = [f"{int(s)} · {d}" if good else "" for s, d, good in zip(sols.tolist(), dates, ok)]
    return text, "Sol %{text} (UTC)<br>" + label


def _series(
    frame: pd.DataFrame,
    x: str,
    y: str,
    name: str,
    color: str,
    unit: str,
    view: View | None = None,
    wrap: bool = False,
    **kw,
) -> dict:
    """A line over sols (or distance): thinned, broken by a gap where no data exists for
    more than GAP_SOLS sols, and (``wrap``: yaw) where the angle wraps at ±180°."""
    view = view or View(0, 0)
    xs, ys = frame[x].to_numpy(dtype=float), frame[y].to_numpy(dtype=float)
    idx = thin_indices(ys, SERIES_BUDGET)
    xs, ys = xs[idx], ys[idx]
    sols = frame["sol"].to_numpy(dtype=float)[idx]
    brk = np.zeros(len(xs), dtype=bool)
    if len(xs) > 1:
        brk[1:] = np.diff(sols) > GAP_SOLS
        if wrap:
            brk[1:] |= np.abs(np.diff(ys)) > 180
    pos = np.flatnonzero(brk)
    if len(pos):
        xs, ys, sols = np.insert(xs, pos, np.nan), np.insert(ys, pos, np.nan), np.insert(sols, pos, np.nan)
    xlabel = "" if x == "sol" else "%{x:.3f} km<br>"
    text, head = _hover(sols, _layer_of(frame), x, view)
    trace = {
        "type": _scatter_type(len(xs)),
        "x": time_x(xs, view) if x == "sol" else arr(xs, "f4"),
        "y": arr(ys, "f4"),  # display precision: ~7 digits (0.5 m in longitude), half the bytes of f8
        "name": name,
        "mode": "lines+markers",
        "line": {"color": color, "width": 1.5},
        "marker": {"color": color, "size": 4},
        "connectgaps": False,
        "text": text,  # the Earth date (UTC) at the start of the sol, and/or the sol
        "hovertemplate": f"{head}{xlabel}{name}: %{{y:.3f}} {unit}<extra></extra>",
    }
    trace.update(kw)
    return trace


def _current_marker(frame: pd.DataFrame, x: str, y: str, name: str, unit: str, view: View, show: bool, **kw) -> dict:
    """The current-position layer's point, drawn apart (a star) so the legend names it."""
    sols = frame["sol"].to_numpy(dtype=float)
    xs = frame[x].to_numpy(dtype=float)
    xlabel = "" if x == "sol" else "%{x:.3f} km<br>"
    text, head = _hover(sols, _layer_of(frame), x, view)
    trace = {
        "type": "scatter",
        "mode": "markers",
        "name": "current position",
        "x": time_x(xs, view) if x == "sol" else arr(xs),
        "y": arr(frame[y].to_numpy(dtype=float)),
        "marker": {"symbol": "star", "size": 13, "color": CURRENT_COLOR, "line": {"width": 1, "color": "#333"}},
        "legendgroup": "current",
        "showlegend": show,
        "text": text,
        "hovertemplate": f"{head}{xlabel}{name}: %{{y:.3f}} {unit}<extra></extra>",
    }
    trace.update(kw)
    return trace


def _traverse_series(
    frame: pd.DataFrame, x: str, y: str, name: str, color: str, unit: str, view: View, scale: float = 1.0, **kw
) -> dict:
    """A series from the traverse layer (sols without waypoints): dashed, named so."""
    shown = frame.assign(**{y: frame[y] * scale}) if scale != 1.0 else frame
    shown = shown.assign(layer="traverse")
    return _series(
        shown,
        x,
        y,
        f"{name} · traverse",
        color,
        unit,
        view,
        line={"color": color, "width": 1.5, "dash": "dot"},
        marker={"color": color, "size": 3},
        **kw,
    )


def data_gaps(sols: np.ndarray, view: View) -> list[tuple[int, int]]:
    """Stretches of more than GAP_SOLS sols in the view with no sol in ``sols``:
    (last sol with data or the view's start, next sol with data or the view's end)."""
    sols = np.unique(np.asarray(sols, dtype=np.int64))
    edges = np.concatenate([[view.sol_min], sols, [view.sol_max]])
    out = []
    for a, b in zip(edges[:-1].tolist(), edges[1:].tolist()):
        if b - a > GAP_SOLS:
            out.append((a, b))
    return out


def _gap_marks(gaps: list[tuple[int, int]], view: View, what: str, why: str) -> tuple[list, list]:
    """A shaded band and words over each gap, so a long stretch without data reads as one."""
    shapes, notes = [], []
    for a, b in gaps:
        x0, x1 = (a, b) if view.time_axis != "date" else tuple(sol_instants([a, b]))
        mid = (a + b) / 2 if view.time_axis != "date" else sol_instants([(a + b) / 2])[0]
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": x0,
                "x1": x1,
                "y0": 0,
                "y1": 1,
                "fillcolor": "#BBBBBB",
                "opacity": 0.18,
                "line": {"width": 0},
                "layer": "below",
            }
        )
        notes.append(
            {
                "text": f"No {what} for<br>sols {a + 1}–{b - 1}:<br>{why}",
                "showarrow": False,
                "x": mid,
                "xref": "x",
                "y": 0.5,
                "yref": "paper",
                "font": {"size": 12, "color": "#444"},
                "bgcolor": "rgba(255,255,255,0.85)",
            }
        )
    return shapes, notes


def _layout(title: str, **kw) -> dict:
    layout = {
        # the title at the top, the legend at the bottom of the figure (both in container
        # coordinates, which reserve their margins): on a narrow screen the legend wraps
        # onto more lines instead of covering the title
        # (below the height of plotly's modebar, which sits at the top right and would
        # cover a long title on a phone)
        "title": {
            "text": title,
            "x": 0.01,
            "xanchor": "left",
            "y": 1.0,
            "yref": "container",
            "yanchor": "top",
            "pad": {"t": 34},
            "automargin": True,
        },
        "template": TEMPLATE,
        "margin": {"l": 70, "r": 30, "t": 50, "b": 40},
        "legend": {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0, "xanchor": "left"},
        "hovermode": "closest",
    }
    layout.update(kw)
    return layout


def _range_text(view: View) -> str:
    text = f"sols {view.sol_min}–{view.sol_max}"
    if view.sols is not None:
        text += f", {len(view.sols)} selected"
    return text


def _figure(data: list, layout: dict, empty: bool) -> Figure:
    if empty:
        layout["annotations"] = [
            {
                "text": "No waypoints in this sol range",
                "showarrow": False,
                "x": 0.5,
                "y": 0.5,
                "xref": "paper",
                "yref": "paper",
                "font": {"size": 16},
            }
        ]
    return {"data": data, "layout": layout}


# ---------------------------------------------------------------------------------------
# builders: (waypoints, view, traverse=..., traverse_points=...) -> figure


def orientation(waypoints: pd.DataFrame, view: View, **_) -> Figure:
    """Yaw, pitch, roll and tilt at each waypoint. Orientation exists only at waypoints:
    a long stretch without them is a visible gap with words saying why."""
    wp_all = in_range(waypoints, view)
    wp, cur = split_current(wp_all)
    data = [_series(wp, "sol", "yaw", "yaw", PALETTE[0], "°", view, wrap=True)]
    for i, name in enumerate(("pitch", "roll", "tilt"), start=1):
        data.append(_series(wp, "sol", name, name, PALETTE[i], "°", view, yaxis="y2"))
    if len(cur):
        data.append(_current_marker(cur, "sol", "yaw", "yaw", "°", view, True))
        for name in ("pitch", "roll", "tilt"):
            data.append(_current_marker(cur, "sol", name, name, "°", view, False, yaxis="y2"))
    layout = _layout(
        f"Rover orientation ({_range_text(view)})",
        xaxis=_time_axis(view, anchor="y2"),
        yaxis={"title": {"text": "Yaw (°)"}, "domain": [0.56, 1.0], "range": [-185, 185], "dtick": 90},
        yaxis2={"title": {"text": "Pitch / roll / tilt (°)"}, "domain": [0.0, 0.46]},
        height=520,
    )
    if not wp_all.empty:
        gaps = data_gaps(wp_all["sol"].to_numpy(), view)
        layout["shapes"], layout["annotations"] = _gap_marks(
            gaps, view, "orientation", "NASA measures it only<br>at waypoints, and there<br>are none here"
        )
        if gaps:  # the view's range, so the words do not widen the axis (autorange fits annotations)
            ends = [
                view.sol_min - 0.02 * (view.sol_max - view.sol_min + 1),
                view.sol_max + 0.02 * (view.sol_max - view.sol_min + 1),
            ]
            layout["xaxis"]["range"] = ends if view.time_axis != "date" else sol_instants(ends)
    return _figure(data, layout, wp_all.empty)


def position(
    waypoints: pd.DataFrame,
    view: View,
    *,
    traverse: pd.DataFrame | None = None,
    traverse_points: pd.DataFrame | None = None,
    **_,
) -> Figure:
    """Latitude and longitude at the waypoints; on sols without waypoints, where the
    traverse's last leg of the sol ended."""
    wp_all = in_range(waypoints, view)
    wp, cur = split_current(wp_all)
    tr = in_range(traverse_only(waypoints, traverse, traverse_points), view)
    data = [
        _series(wp, "sol", "lat", "latitude", PALETTE[0], "°N", view),
        _series(wp, "sol", "lon", "longitude", PALETTE[1], "°E", view, yaxis="y2"),
    ]
    if len(tr):
        data += [
            _traverse_series(tr, "sol", "lat", "latitude", PALETTE[5], "°N", view),
            _traverse_series(tr, "sol", "lon", "longitude", PALETTE[3], "°E", view, yaxis="y2"),
        ]
    if len(cur):
        data += [
            _current_marker(cur, "sol", "lat", "latitude", "°N", view, True),
            _current_marker(cur, "sol", "lon", "longitude", "°E", view, False, yaxis="y2"),
        ]
    layout = _layout(
        f"Rover position ({_range_text(view)})",
        xaxis=_time_axis(view, anchor="y2"),
        yaxis={"title": {"text": "Latitude (°N)"}, "domain": [0.54, 1.0], "tickformat": ".4f"},
        yaxis2={"title": {"text": "Longitude (°E)"}, "domain": [0.0, 0.46], "tickformat": ".4f"},
        height=480,
    )
    return _figure(data, layout, wp_all.empty and tr.empty)


def traverse_map(
    waypoints: pd.DataFrame,
    view: View,
    *,
    traverse: pd.DataFrame | None = None,
    traverse_points: pd.DataFrame | None = None,
    **_,
) -> Figure:
    """The drive path with the waypoints on it, coloured by sol. The map always shows the
    whole sol range; a selection is drawn as selected points, not filtered away."""
    wp_all = in_range(waypoints, view, use_selection=False)
    wp, cur = split_current(wp_all)
    data = []
    if traverse is not None and traverse_points is not None and len(traverse):
        xs, ys = path_xy(traverse, traverse_points, view)
        if len(xs):
            data.append(
                {
                    "type": "scattergl",
                    "x": arr(xs, "f4"),
                    "y": arr(ys, "f4"),
                    "mode": "lines",
                    "name": "drive path (traverse layer)",
                    "line": {"color": "#7f7f7f", "width": 1.5},
                    "hoverinfo": "skip",
                    "connectgaps": False,
                }
            )
    idx = np.arange(len(wp))
    if len(wp) > MAP_POINT_BUDGET:
        idx = np.unique(np.linspace(0, len(wp) - 1, MAP_POINT_BUDGET).astype(int))
    pts = wp.iloc[idx]
    sols = pts["sol"].to_numpy()
    trace = {
        "type": _scatter_type(len(pts)),
        "x": arr(pts["lon"].to_numpy(dtype=float)),
        "y": arr(pts["lat"].to_numpy(dtype=float)),
        "mode": "markers",
        "name": "waypoints (waypoint layer)",
        "marker": {
            "color": arr(sols, "i4"),
            "colorscale": SOL_COLORSCALE,
            "cmin": view.sol_min,
            "cmax": max(view.sol_max, view.sol_min + 1),
            "size": 7,
            "line": {"width": 0.5, "color": "#333"},
            "colorbar": {"title": {"text": "Sol"}, "thickness": 14},
        },
        "customdata": pts["rmc"].tolist(),  # site_drive: what a click or a selection names
        "text": _map_hover(pts),
        "hovertemplate": _map_template(pts),
    }
    if view.sols is not None:
        trace["selectedpoints"] = [i for i, s in enumerate(sols.tolist()) if s in view.sols]
    data.append(trace)
    if len(cur):
        data.append(
            {
                "type": "scatter",
                "x": arr(cur["lon"].to_numpy(dtype=float)),
                "y": arr(cur["lat"].to_numpy(dtype=float)),
                "mode": "markers",
                "name": f"current position, sol {int(cur['sol'].max())} (current-position layer)",
                "marker": {"symbol": "star", "size": 16, "color": CURRENT_COLOR, "line": {"width": 1, "color": "#333"}},
                "customdata": cur["rmc"].tolist(),
                "text": _map_hover(cur),
                "hovertemplate": _map_template(cur),
            }
        )
    wp = wp_all
    lat0 = float(wp["lat"].mean()) if len(wp) else 18.4
    layout = _layout(
        f"Traverse map ({_range_text(view)})",
        xaxis={"title": {"text": "Longitude (°E)"}, "tickformat": ".3f"},
        yaxis={
            "title": {"text": "Latitude (°N)"},
            "tickformat": ".3f",
            # equal ground distance per pixel on both axes
            "scaleanchor": "x",
            "scaleratio": 1.0 / math.cos(math.radians(lat0)),
        },
        dragmode="select",
        height=620,
        showlegend=True,
    )
    return _figure(data, layout, wp.empty and not any(t["name"].startswith("drive path") for t in data))


def _map_hover(pts: pd.DataFrame) -> list[str]:
    sols = pts["sol"].to_numpy()
    elev = pts["elev_geoid"].to_numpy(dtype=float)
    return [
        f"Sol {sol}<br>{date} (UTC)<br>site_drive {rmc}<br>elevation "
        + ("unknown" if e != e else f"{e:.1f} m")
        + (f"<br>{note}" if note else "")
        for sol, date, rmc, e, note in zip(
            sols.tolist(), sol_dates(sols).tolist(), pts["rmc"].tolist(), elev.tolist(), pts["note"].fillna("").tolist()
        )
    ]


def _map_template(pts: pd.DataFrame) -> str:
    layer = _layer_of(pts)
    return f"%{{text}}<br>from the {LAYER_LABELS.get(layer, layer)}<extra></extra>"


@dataclass(frozen=True)
class _PathLevel:
    """Path vertices ordered by sol, with a flag for a break before each vertex."""

    sol: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    gap: np.ndarray


_PATH_CACHE: dict[int, tuple[pd.DataFrame, list[_PathLevel]]] = {}


def _path_levels(traverse: pd.DataFrame, points: pd.DataFrame) -> list[_PathLevel]:
    """The full-resolution path plus coarser copies (every 4th vertex, then every 16th...),
    computed once per traverse table and remembered while that table lives. A pure
    memo: the answer depends on the tables' contents only, and tables are not mutated."""
    cached = _PATH_CACHE.get(id(points))
    if cached is not None and cached[0] is points:
        return cached[1]
    seg = points["seg"].to_numpy()
    leg_sol = traverse["sol"].to_numpy(dtype=float, na_value=np.nan)
    valid = (seg >= 0) & (seg < len(leg_sol))
    vertex_sol = np.where(valid, leg_sol[np.clip(seg, 0, max(len(leg_sol) - 1, 0))], np.nan)
    order = np.flatnonzero(np.isfinite(vertex_sol))
    order = order[np.argsort(vertex_sol[order], kind="stable")]  # legs in sol order, vertices in file order
    sol, lon, lat = vertex_sol[order], points["lon"].to_numpy()[order], points["lat"].to_numpy()[order]
    key = seg[order] * 10_000 + points["part"].to_numpy()[order]
    step_lon, step_lat = np.diff(lon), np.diff(lat)
    gap = np.concatenate([[True], (key[1:] != key[:-1]) & (np.abs(step_lon) + np.abs(step_lat) > GAP_DEGREES)])
    # drop repeated vertices, but keep each leg's first one so a range starting there has it
    keep = np.concatenate([[True], (step_lon != 0) | (step_lat != 0) | (key[1:] != key[:-1])])
    levels = [_PathLevel(sol[keep], lon[keep], lat[keep], gap[keep])]
    while len(levels[-1].sol) > 4 * PATH_BUDGET:
        top = levels[-1]
        pick = top.gap.copy()
        pick[:-1] |= top.gap[1:]  # keep both sides of every break
        pick[::4] = True
        pick[-1] = True
        levels.append(_PathLevel(top.sol[pick], top.lon[pick], top.lat[pick], top.gap[pick]))
    if len(_PATH_CACHE) > 8:
        _PATH_CACHE.clear()
    _PATH_CACHE[id(points)] = (points, levels)
    return levels


def path_xy(traverse: pd.DataFrame, points: pd.DataFrame, view: View) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of the legs driven in the sol range as one polyline, thinned to the budget.

    Consecutive legs share their junction vertex, so they are drawn as one line; a NaN
    breaks it only where a leg (or a MultiLineString part) starts more than ~1 m from
    where the previous one ended (NASA's file has a few such gaps). Repeated vertices
    are dropped. Sent as float32: ~0.3 m on Mars."""
    levels = _path_levels(traverse, points)
    for level in levels:  # the finest level that is not far over the budget
        i0, i1 = np.searchsorted(level.sol, [view.sol_min, view.sol_max + 0.5])
        if i1 - i0 <= 4 * PATH_BUDGET:
            break
    lon, lat, gap = level.lon[i0:i1], level.lat[i0:i1], level.gap[i0:i1].copy()
    if not len(lon):
        return np.array([]), np.array([])
    if len(lon) > PATH_BUDGET:
        # evenly spaced along the path (not every k-th vertex: NASA's vertices are dense
        # where the rover turned and sparse on straight drives), keeping both ends of
        # every break
        ends = gap.copy()
        ends[:-1] |= gap[1:]
        ends[[0, -1]] = True
        along = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(lon), np.diff(lat)) * ~gap[1:])])
        spacing = along[-1] / max(PATH_BUDGET - int(ends.sum()), 1)
        if spacing > 0:
            bucket = np.floor(along / spacing)
            keep = ends | np.concatenate([[True], bucket[1:] != bucket[:-1]])
        else:
            keep = ends
        lon, lat, gap = lon[keep], lat[keep], gap[keep]
    breaks = np.flatnonzero(gap[1:]) + 1
    return np.insert(lon, breaks, np.nan), np.insert(lat, breaks, np.nan)


def elevation(
    waypoints: pd.DataFrame,
    view: View,
    *,
    traverse: pd.DataFrame | None = None,
    traverse_points: pd.DataFrame | None = None,
    **_,
) -> Figure:
    wp_all = in_range(waypoints, view)
    wp, cur = split_current(wp_all)
    tr = in_range(traverse_only(waypoints, traverse, traverse_points), view)
    data = [_series(wp, "sol", "elev_geoid", "elevation", PALETTE[2], "m", view)]
    if len(tr):
        data.append(_traverse_series(tr, "sol", "elev", "elevation", PALETTE[5], "m", view))
    if len(cur):
        data.append(_current_marker(cur, "sol", "elev_geoid", "elevation", "m", view, True))
    layout = _layout(
        f"Elevation by sol ({_range_text(view)})",
        xaxis=_time_axis(view),
        yaxis={"title": {"text": "Elevation above geoid (m)"}},
        height=380,
        showlegend=len(data) > 1,
    )
    return _figure(data, layout, wp_all.empty and tr.empty)


def elevation_distance(
    waypoints: pd.DataFrame,
    view: View,
    *,
    traverse: pd.DataFrame | None = None,
    traverse_points: pd.DataFrame | None = None,
    **_,
) -> Figure:
    """Elevation against odometry: the waypoints' odometry; on sols without waypoints the
    traverse legs' cumulative length (a different measure, named so in the legend)."""
    wp_all = in_range(waypoints, view).assign(dist_km=lambda f: f["dist_total_m"] / 1000.0)
    wp, cur = split_current(wp_all)
    tr = in_range(traverse_only(waypoints, traverse, traverse_points), view)
    tr = tr.assign(dist_km=tr["total_m"] / 1000.0)
    data = [_series(wp, "dist_km", "elev_geoid", "elevation", PALETTE[3], "m", view)]
    if len(tr):
        data.append(_traverse_series(tr, "dist_km", "elev", "elevation (legs' length)", PALETTE[5], "m", view))
    if len(cur):
        data.append(_current_marker(cur, "dist_km", "elev_geoid", "elevation", "m", view, True))
    layout = _layout(
        f"Elevation by distance driven ({_range_text(view)})",
        xaxis={"title": {"text": "Distance driven (km)"}},
        yaxis={"title": {"text": "Elevation above geoid (m)"}},
        height=380,
        showlegend=len(data) > 1,
    )
    return _figure(data, layout, wp_all.empty and tr.empty)


def per_sol_distance(waypoints: pd.DataFrame) -> pd.DataFrame:
    """Distance driven on each sol that has a localization (m) and odometry at its end."""
    total = waypoints.groupby("sol", sort=True)["dist_total_m"].max()
    driven = total.diff()
    if len(total):
        driven.iloc[0] = 0.0
    return pd.DataFrame(
        {"sol": total.index.to_numpy(), "driven_m": driven.clip(lower=0).to_numpy(), "total_m": total.to_numpy()}
    )


def _binned(per_sol: pd.DataFrame, view: View, width: int) -> pd.DataFrame:
    if width == 1 or per_sol.empty:
        return per_sol
    bins = (per_sol["sol"] - view.sol_min) // width * width + view.sol_min
    out = per_sol.groupby(bins.to_numpy()).agg(driven_m=("driven_m", "sum"), total_m=("total_m", "max"))
    return out.rename_axis("sol").reset_index()


def _bars(per_sol: pd.DataFrame, name: str, color: str, layer: str, view: View) -> dict:
    sols = per_sol["sol"].to_numpy(dtype=float)
    text, head = _hover(sols, layer, "sol", view)
    return {
        "type": "bar",
        "x": time_x(sols, view),
        "y": arr(per_sol["driven_m"], "f4"),
        "name": name,
        "marker": {"color": color},
        "text": text,
        "textposition": "none",
        "hovertemplate": f"{head}driven %{{y:.1f}} m<extra></extra>",
    }


def distance(
    waypoints: pd.DataFrame,
    view: View,
    *,
    traverse: pd.DataFrame | None = None,
    traverse_points: pd.DataFrame | None = None,
    **_,
) -> Figure:
    """Distance driven per sol (bars) and odometry (lines): from the waypoints where they
    exist, from the traverse's legs on the sols without them. The traverse's own odometry
    (its legs' cumulative length) is drawn over its whole span, dotted."""
    layer_wp, cur = split_current(waypoints)
    per_sol = in_range(per_sol_distance(layer_wp), view)
    by_sol = traverse_by_sol(traverse, traverse_points)
    tr_all = in_range(by_sol, view)
    tr = tr_all[~tr_all["sol"].isin(waypoints["sol"].unique())]
    width = 1
    if len(per_sol) + len(tr) > BAR_BUDGET:  # bin sols so the bar count stays bounded
        width = math.ceil((view.sol_max - view.sol_min + 1) / BAR_BUDGET)
    per_sol, tr_bins = _binned(per_sol, view, width), _binned(tr, view, width)
    per = "sol" if width == 1 else f"{width} sols"
    data = [_bars(per_sol, f"driven per {per} (m)", PALETTE[0], "waypoints", view)]
    if len(tr_bins):
        data.append(_bars(tr_bins, f"driven per {per} · traverse (m)", PALETTE[5], "traverse", view))
    odo = per_sol.assign(total_km=per_sol["total_m"] / 1000.0, layer="waypoints")
    data.append(
        _series(
            odo,
            "sol",
            "total_km",
            "odometry (km)",
            PALETTE[1],
            "km",
            view,
            yaxis="y2",
            mode="lines",
            line={"color": PALETTE[1], "width": 2},
        )
    )
    if len(tr_all):
        legs = tr_all.assign(total_km=tr_all["total_m"] / 1000.0, layer="traverse")
        data.append(
            _series(
                legs,
                "sol",
                "total_km",
                "odometry · traverse legs (km)",
                PALETTE[3],
                "km",
                view,
                yaxis="y2",
                mode="lines",
                line={"color": PALETTE[3], "width": 2, "dash": "dot"},
            )
        )
    cur = in_range(cur, view)
    if len(cur):
        data.append(
            _current_marker(
                cur.assign(total_km=cur["dist_total_m"] / 1000.0),
                "sol",
                "total_km",
                "odometry",
                "km",
                view,
                True,
                yaxis="y2",
            )
        )
    layout = _layout(
        f"Distance driven ({_range_text(view)})",
        xaxis=_time_axis(view),
        yaxis={"title": {"text": f"Driven per {per} (m)"}, "rangemode": "tozero"},
        yaxis2={
            "title": {"text": "Odometry (km)"},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
        },
        height=400,
        bargap=0.1,
    )
    return _figure(data, layout, per_sol.empty and tr_all.empty)


#: Numeric waypoint fields a chart of one field against another can use: axis title.
FIELDS = {
    "sol": "Sol",
    "site": "Site",
    "drive": "Drive",
    "lat": "Latitude (°N)",
    "lon": "Longitude (°E)",
    "elev_geoid": "Elevation above geoid (m)",
    "elev_radii": "Elevation above the reference radius (m)",
    "radius": "Distance from Mars' centre (m)",
    "easting": "Easting (m)",
    "northing": "Northing (m)",
    "roll": "Roll (°)",
    "pitch": "Pitch (°)",
    "yaw": "Yaw (°)",
    "yaw_rad": "Yaw (rad)",
    "tilt": "Tilt (°)",
    "dist_m": "Distance of the drive (m)",
    "dist_total_m": "Distance driven (m)",
    "sclk_start": "Spacecraft clock at start (s)",
    "sclk_end": "Spacecraft clock at end (s)",
}


def xy(waypoints: pd.DataFrame, view: View, *, xkey: str = "sol", ykey: str = "yaw", **_) -> Figure:
    """Any numeric waypoint field against another (the original tracker's charts)."""
    if xkey not in FIELDS or ykey not in FIELDS:
        raise KeyError(f"unknown field {xkey if xkey not in FIELDS else ykey!r}")
    wp = in_range(waypoints, view)
    if xkey != "sol":
        wp = wp.sort_values(xkey, kind="mergesort")
    xs, ys = wp[xkey].to_numpy(dtype=float), wp[ykey].to_numpy(dtype=float)
    idx = thin_indices(ys, SERIES_BUDGET)
    sols = wp["sol"].to_numpy()[idx]
    trace = {
        "type": _scatter_type(len(idx)),
        "x": arr(xs[idx]),
        "y": arr(ys[idx]),
        "name": ykey,
        "mode": "lines+markers" if xkey == "sol" else "markers",
        "line": {"color": PALETTE[0], "width": 1.5},
        "marker": {"color": PALETTE[0], "size": 4},
        "text": [f"Sol {s} · {d}" for s, d in zip(sols.tolist(), sol_dates(sols).tolist())],
        "hovertemplate": f"%{{text}} (UTC)<br>{xkey}: %{{x}}<br>{ykey}: %{{y}}<extra></extra>",
    }
    name_y, name_x = FIELDS[ykey].split(" (")[0], FIELDS[xkey].split(" (")[0]
    layout = _layout(
        f"{name_y} against {name_x.lower() if xkey != 'sol' else 'sol'} ({_range_text(view)})",
        xaxis={"title": {"text": FIELDS[xkey]}},
        yaxis={"title": {"text": FIELDS[ykey]}},
        height=450,
        showlegend=False,
    )
    return _figure([trace], layout, wp.empty)


#: Chart name -> builder. The names are the ones the page, the API and exports use.
BUILDERS: dict[str, Callable[..., Figure]] = {
    "orientation": orientation,
    "position": position,
    "map": traverse_map,
    "elevation": elevation,
    "elevation_distance": elevation_distance,
    "distance": distance,
}

#: Charts that only exports draw (not on the page): one field against another.
EXPORT_ONLY = {"xy": xy}

TITLES = {
    "orientation": "Orientation",
    "position": "Position",
    "map": "Traverse map",
    "elevation": "Elevation by sol",
    "elevation_distance": "Elevation by distance",
    "distance": "Distance driven",
    "xy": "Field against field",
}


def build(
    chart: str, waypoints: pd.DataFrame, traverse: pd.DataFrame, traverse_points: pd.DataFrame, view: View, **options
) -> Figure:
    """Build one chart by name (KeyError for an unknown name); ``options`` go to the
    builder (``xkey``/``ykey`` for ``xy``)."""
    builder = BUILDERS.get(chart) or EXPORT_ONLY[chart]
    return builder(waypoints, view, traverse=traverse, traverse_points=traverse_points, **options)
