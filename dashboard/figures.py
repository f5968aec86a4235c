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
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from .marstime import sol_dates

#: Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000"]
SOL_COLORSCALE = "Viridis"  # perceptually uniform, colour-blind safe
SERIES_BUDGET = 2000  # points per series trace before min/max thinning
MAP_POINT_BUDGET = 4000  # waypoint markers on the map
PATH_BUDGET = 12000  # traverse vertices on the map
GAP_DEGREES = 2e-5  # |dlon| + |dlat| above which two legs do not join (~1 m)
GL_THRESHOLD = 1000  # WebGL traces above this many points
BAR_BUDGET = 1500  # bars in the distance chart before sols are binned

_AXIS = {"gridcolor": "#E5ECF6", "linecolor": "#A2B1C6", "zerolinecolor": "#C8D4E3", "ticks": "outside",
         "tickcolor": "#A2B1C6", "automargin": True}
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
    """What a figure shows: an inclusive sol range and an optional sol selection."""

    sol_min: int
    sol_max: int
    sols: frozenset[int] | None = None  # a map selection narrows the other charts

    @classmethod
    def of(cls, sol_min, sol_max, sols: Iterable[int] | None = None) -> "View":
        lo, hi = int(sol_min), int(sol_max)
        if lo > hi:
            lo, hi = hi, lo
        return cls(lo, hi, frozenset(int(s) for s in sols) if sols is not None else None)


# ---------------------------------------------------------------------------------------
# selecting and thinning


def in_range(frame: pd.DataFrame, view: View, use_selection: bool = True) -> pd.DataFrame:
    sol = frame["sol"]
    mask = (sol >= view.sol_min) & (sol <= view.sol_max)
    if use_selection and view.sols is not None:
        mask &= sol.isin(view.sols)
    return frame[mask.fillna(False).to_numpy(dtype=bool)]


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


def _series(frame: pd.DataFrame, x: str, y: str, name: str, color: str, unit: str, **kw) -> dict:
    xs, ys = frame[x].to_numpy(dtype=float), frame[y].to_numpy(dtype=float)
    idx = thin_indices(ys, SERIES_BUDGET)
    xs, ys = xs[idx], ys[idx]
    sols = frame["sol"].to_numpy()[idx]
    xlabel = "Sol %{x}" if x == "sol" else "%{x:.3f} km"
    trace = {
        "type": _scatter_type(len(xs)),
        "x": arr(xs, "i4" if x == "sol" else "f8"),
        "y": arr(ys),
        "name": name,
        "mode": "lines+markers",
        "line": {"color": color, "width": 1.5},
        "marker": {"color": color, "size": 4},
        "text": sol_dates(sols).tolist(),  # Earth date (UTC) at the start of the sol
        "hovertemplate": f"{xlabel}<br>%{{text}} (UTC)<br>{name}: %{{y:.3f}} {unit}<extra></extra>",
    }
    trace.update(kw)
    return trace


def _layout(title: str, **kw) -> dict:
    layout = {
        "title": {"text": title, "x": 0.01, "xanchor": "left"},
        "template": TEMPLATE,
        "margin": {"l": 70, "r": 30, "t": 70, "b": 50},
        "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
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
            {"text": "No waypoints in this sol range", "showarrow": False, "x": 0.5, "y": 0.5,
             "xref": "paper", "yref": "paper", "font": {"size": 16}}
        ]
    return {"data": data, "layout": layout}


# ---------------------------------------------------------------------------------------
# builders: (waypoints, view, traverse=..., traverse_points=...) -> figure


def orientation(waypoints: pd.DataFrame, view: View, **_) -> Figure:
    wp = in_range(waypoints, view)
    data = [_series(wp, "sol", "yaw", "yaw", PALETTE[0], "°")]
    for i, name in enumerate(("pitch", "roll", "tilt"), start=1):
        data.append(_series(wp, "sol", name, name, PALETTE[i], "°", yaxis="y2"))
    layout = _layout(
        f"Rover orientation ({_range_text(view)})",
        xaxis={"title": {"text": "Sol"}, "anchor": "y2"},
        yaxis={"title": {"text": "Yaw (°)"}, "domain": [0.56, 1.0], "range": [-185, 185], "dtick": 90},
        yaxis2={"title": {"text": "Pitch / roll / tilt (°)"}, "domain": [0.0, 0.46]},
        height=520,
    )
    return _figure(data, layout, wp.empty)


def position(waypoints: pd.DataFrame, view: View, **_) -> Figure:
    wp = in_range(waypoints, view)
    data = [
        _series(wp, "sol", "lat", "latitude", PALETTE[0], "°N"),
        _series(wp, "sol", "lon", "longitude", PALETTE[1], "°E", yaxis="y2"),
    ]
    layout = _layout(
        f"Rover position ({_range_text(view)})",
        xaxis={"title": {"text": "Sol"}, "anchor": "y2"},
        yaxis={"title": {"text": "Latitude (°N)"}, "domain": [0.54, 1.0], "tickformat": ".4f"},
        yaxis2={"title": {"text": "Longitude (°E)"}, "domain": [0.0, 0.46], "tickformat": ".4f"},
        height=480,
    )
    return _figure(data, layout, wp.empty)


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
    wp = in_range(waypoints, view, use_selection=False)
    data = []
    if traverse is not None and traverse_points is not None and len(traverse):
        xs, ys = path_xy(traverse, traverse_points, view)
        if len(xs):
            data.append({
                "type": "scattergl", "x": arr(xs, "f4"), "y": arr(ys, "f4"), "mode": "lines", "name": "drive path",
                "line": {"color": "#7f7f7f", "width": 1.5}, "hoverinfo": "skip", "connectgaps": False,
            })
    idx = np.arange(len(wp))
    if len(wp) > MAP_POINT_BUDGET:
        idx = np.unique(np.linspace(0, len(wp) - 1, MAP_POINT_BUDGET).astype(int))
    pts = wp.iloc[idx]
    sols = pts["sol"].to_numpy()
    elev = pts["elev_geoid"].to_numpy(dtype=float)
    hover = [
        f"Sol {sol}<br>{date} (UTC)<br>site_drive {rmc}<br>elevation "
        + ("unknown" if e != e else f"{e:.1f} m") + (f"<br>{note}" if note else "")
        for sol, date, rmc, e, note in zip(
            sols.tolist(), sol_dates(sols).tolist(), pts["rmc"].tolist(), elev.tolist(), pts["note"].fillna("").tolist()
        )
    ]
    trace = {
        "type": _scatter_type(len(pts)),
        "x": arr(pts["lon"].to_numpy(dtype=float)),
        "y": arr(pts["lat"].to_numpy(dtype=float)),
        "mode": "markers",
        "name": "waypoints",
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
        "text": hover,
        "hovertemplate": "%{text}<extra></extra>",
    }
    if view.sols is not None:
        trace["selectedpoints"] = [i for i, s in enumerate(sols.tolist()) if s in view.sols]
    data.append(trace)
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
    return _figure(data, layout, wp.empty)


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
        step = math.ceil(len(lon) / PATH_BUDGET)
        ends = gap.copy()
        ends[:-1] |= gap[1:]
        ends[[0, -1]] = True
        keep = ends | (np.arange(len(lon)) % step == 0)
        lon, lat, gap = lon[keep], lat[keep], gap[keep]
    breaks = np.flatnonzero(gap[1:]) + 1
    return np.insert(lon, breaks, np.nan), np.insert(lat, breaks, np.nan)


def elevation(waypoints: pd.DataFrame, view: View, **_) -> Figure:
    wp = in_range(waypoints, view)
    layout = _layout(
        f"Elevation by sol ({_range_text(view)})",
        xaxis={"title": {"text": "Sol"}},
        yaxis={"title": {"text": "Elevation above geoid (m)"}},
        height=380,
        showlegend=False,
    )
    return _figure([_series(wp, "sol", "elev_geoid", "elevation", PALETTE[2], "m")], layout, wp.empty)


def elevation_distance(waypoints: pd.DataFrame, view: View, **_) -> Figure:
    wp = in_range(waypoints, view).assign(dist_km=lambda f: f["dist_total_m"] / 1000.0)
    layout = _layout(
        f"Elevation by distance driven ({_range_text(view)})",
        xaxis={"title": {"text": "Distance driven (km)"}},
        yaxis={"title": {"text": "Elevation above geoid (m)"}},
        height=380,
        showlegend=False,
    )
    return _figure([_series(wp, "dist_km", "elev_geoid", "elevation", PALETTE[3], "m")], layout, wp.empty)


def per_sol_distance(waypoints: pd.DataFrame) -> pd.DataFrame:
    """Distance driven on each sol that has a localization (m) and odometry at its end."""
    total = waypoints.groupby("sol", sort=True)["dist_total_m"].max()
    driven = total.diff()
    if len(total):
        driven.iloc[0] = 0.0
    return pd.DataFrame({"sol": total.index.to_numpy(), "driven_m": driven.clip(lower=0).to_numpy(),
                         "total_m": total.to_numpy()})


def distance(waypoints: pd.DataFrame, view: View, **_) -> Figure:
    per_sol = in_range(per_sol_distance(waypoints), view)
    width = 1
    if len(per_sol) > BAR_BUDGET:  # bin sols so the bar count stays bounded
        span = view.sol_max - view.sol_min + 1
        width = math.ceil(span / BAR_BUDGET)
        bins = (per_sol["sol"] - view.sol_min) // width * width + view.sol_min
        per_sol = per_sol.groupby(bins.to_numpy()).agg(driven_m=("driven_m", "sum"), total_m=("total_m", "max"))
        per_sol = per_sol.rename_axis("sol").reset_index()
    sols = per_sol["sol"].to_numpy()
    dates = sol_dates(sols).tolist()
    per = "sol" if width == 1 else f"{width} sols"
    data = [
        {
            "type": "bar", "x": arr(sols, "i4"), "y": arr(per_sol["driven_m"]), "name": f"driven per {per} (m)",
            "marker": {"color": PALETTE[0]}, "text": dates, "textposition": "none",
            "hovertemplate": "Sol %{x}<br>%{text} (UTC)<br>driven %{y:.1f} m<extra></extra>",
        },
        {
            "type": _scatter_type(len(sols)), "x": arr(sols, "i4"), "y": arr(per_sol["total_m"] / 1000.0),
            "name": "odometry (km)", "yaxis": "y2", "mode": "lines", "line": {"color": PALETTE[1], "width": 2},
            "text": dates, "hovertemplate": "Sol %{x}<br>%{text} (UTC)<br>odometry %{y:.3f} km<extra></extra>",
        },
    ]
    layout = _layout(
        f"Distance driven ({_range_text(view)})",
        xaxis={"title": {"text": "Sol"}},
        yaxis={"title": {"text": f"Driven per {per} (m)"}, "rangemode": "tozero"},
        yaxis2={"title": {"text": "Odometry (km)"}, "overlaying": "y", "side": "right", "rangemode": "tozero",
                "showgrid": False},
        height=400,
        bargap=0.1,
    )
    return _figure(data, layout, per_sol.empty)


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


def build(chart: str, waypoints: pd.DataFrame, traverse: pd.DataFrame, traverse_points: pd.DataFrame,
          view: View, **options) -> Figure:
    """Build one chart by name (KeyError for an unknown name); ``options`` go to the
    builder (``xkey``/``ykey`` for ``xy``)."""
    builder = BUILDERS.get(chart) or EXPORT_ONLY[chart]
    return builder(waypoints, view, traverse=traverse, traverse_points=traverse_points, **options)
