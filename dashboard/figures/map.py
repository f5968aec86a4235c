"""The traverse map: the drive path (the traverse layer, thinned by sol range through
precomputed levels of detail) with the waypoints on it, coloured by sol; and, when the
dataset has them, the context layers: the terrain's shaded relief under everything (a
layout image, with a km scale bar and MOLA's credit), Ingenuity's flights and the sample
sites (each layer one legend group: a click on its entry shows or hides it).

The relief is referred to by URL on the page (``/terrain/<fingerprint>.png``, immutable)
and inline as a data URI in exported files, which are drawn without a server: the
caller says which (``image_source``), so the builder stays pure. The page and the export
job draw the map through this one builder, so the file is the figure the page shows."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashboard.data.memo import MemoFn, no_memo
from dashboard.data.terrain import Crop
from dashboard.data.timeline import LAYER_LABELS
from dashboard.figures.common import (
    CURRENT_COLOR,
    GAP_DEGREES,
    MAP_POINT_BUDGET,
    PATH_BUDGET,
    SOL_COLORSCALE,
    ChartData,
    Figure,
    View,
    arr,
    chart_layout,
    figure_of,
    in_range,
    layer_of,
    range_text,
    rover_of,
    scatter_type,
    split_current,
    values,
)
from dashboard.figures.layers import flight_traces, sample_traces
from dashboard.figures.terrain import ATTRIBUTION, IMAGE_URL, relief_source, scale_bar, terrain_image
from dashboard.marstime import SolCalendar

#: the key of the path's levels in a dataset version's memo. Kept because it pays: the map on
#: NASA's whole drive takes 7.6 ms with the levels built, 4.4 ms with them kept (bench/bench_caches.py,
#: 2026-12-06, 2 shared cores), on every slider move.
PATH_MEMO_KEY = ("figures", "path_levels")
#: each coarser level of the path keeps every LEVEL_FACTOR-th vertex; a sol range is drawn
#: from the finest level with at most LEVEL_FACTOR x PATH_BUDGET vertices in it
LEVEL_FACTOR = 4
#: a vertex's (leg, part) as one number: leg x PARTS_PER_LEG + part (parts of a leg: few)
PARTS_PER_LEG = 10_000
#: the map's latitude (Jezero crater, °N) when no waypoint is in range: sets the aspect ratio
DEFAULT_LATITUDE = 18.4
#: the key of a context layer's traces in a dataset version's memo (with the rows drawn)
CONTEXT_MEMO_KEY = "map_context_traces"


def traverse_map(dataset: ChartData, view: View, image_source: str = IMAGE_URL) -> Figure:
    """The drive path with the waypoints on it, coloured by sol, over the context layers the
    dataset has (:func:`map_context`; ``image_source``: how the relief is referred to,
    :data:`IMAGE_URL` or :data:`IMAGE_INLINE`). The map always shows the whole sol range;
    a selection is drawn as selected points, not filtered away. The path's levels are
    built once per dataset version through ``memo`` (see :func:`path_xy`)."""
    waypoints, traverse, traverse_points, memo = (
        dataset.waypoints,
        dataset.traverse,
        dataset.traverse_points,
        dataset.memo,
    )
    wp_all = in_range(waypoints, view, use_selection=False)
    wp, cur = split_current(wp_all)
    data = []
    if traverse is not None and traverse_points is not None and len(traverse):
        xs, ys = path_xy(traverse, traverse_points, view, memo)
        if len(xs):
            data.append(_path_trace(xs, ys))
    data.append(_waypoint_trace(wp, view))
    if len(cur):
        data.append(_current_trace(cur, view.calendar))
    context = map_context(dataset, view, image_source, drawn=data)
    data.extend(context["traces"])
    lat0 = float(wp_all["lat"].mean()) if len(wp_all) else DEFAULT_LATITUDE
    layout = chart_layout(
        f"Traverse map ({range_text(view)})",
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
        **context["layout"],
    )
    return figure_of(data, layout, wp_all.empty and not any(t["name"].startswith("drive path") for t in data))


def map_context(dataset: ChartData, view: View, image_source: str = IMAGE_URL, drawn: list | None = None) -> dict:
    """The context layers the dataset has, for a map of ``view``: ``traces`` (Ingenuity's
    flights and the sample sites with a tube in the sol range, each layer a legend group)
    and ``layout`` entries (the relief image, a km scale bar over the extent of ``drawn``
    and of these traces, MOLA's credit). Empty when the dataset has none of them."""
    crop: Crop | None = getattr(dataset, "terrain", None)
    traces: list[dict] = []
    for name, draw in (("flights", flight_traces), ("samples", sample_traces)):
        traces += _layer_traces(dataset, name, draw, view)
    if crop is None:
        return {"traces": traces, "layout": {}}
    _, source = relief_source(crop, dataset.memo, image_source, rover_of(dataset))
    layout: dict = {"images": [terrain_image(crop.bbox, source)]}
    extent = _extent([*(drawn or []), *traces])
    if extent is not None:
        bar = scale_bar(*extent, color="#1f2a36")
        layout.update(shapes=bar["shapes"], annotations=bar["annotations"])
    credit = {"text": ATTRIBUTION, "xref": "paper", "yref": "paper", "x": 1, "y": 1, "xanchor": "right"}
    credit.update(yanchor="bottom", showarrow=False, font={"size": 10, "color": "#5b6b7c"})
    layout["annotations"] = [*layout.get("annotations", []), credit]
    return {"traces": traces, "layout": layout}


def _layer_traces(
    dataset: ChartData, name: str, draw: Callable[[pd.DataFrame, View], list[dict]], view: View
) -> list[dict]:
    """A context layer's traces for the view (none when it is not loaded or has no row in
    the range), built once per set of rows drawn through the dataset's memo."""
    frame: pd.DataFrame | None = getattr(dataset, name, None)
    if frame is None:
        return []
    shown = ((frame["sol"] >= view.sol_min) & (frame["sol"] <= view.sol_max)).to_numpy(dtype=bool)
    if not shown.any():
        return []
    return dataset.memo((CONTEXT_MEMO_KEY, name, shown.tobytes()), lambda: draw(frame, view))


def _extent(traces: list[dict]) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """(lon range, lat range) of the traces' points; None without a finite one, or for a
    single point (a scale bar needs a width)."""
    xs = [np.asarray(values(t["x"]), dtype=float) for t in traces if "x" in t and "y" in t]
    ys = [np.asarray(values(t["y"]), dtype=float) for t in traces if "x" in t and "y" in t]
    if not xs:
        return None
    x, y = np.concatenate(xs), np.concatenate(ys)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any() or np.ptp(x[ok]) <= 0:
        return None
    return (float(x[ok].min()), float(x[ok].max())), (float(y[ok].min()), float(y[ok].max()))


def _path_trace(xs: np.ndarray, ys: np.ndarray) -> dict:
    return {
        "type": "scatter",  # one SVG path: cheaper to draw than a WebGL context (below)
        "x": arr(xs, "f4"),
        "y": arr(ys, "f4"),
        "mode": "lines",
        "name": "drive path (traverse layer)",
        "line": {"color": "#7f7f7f", "width": 1.5},
        "hoverinfo": "skip",
        "connectgaps": False,
    }


def _waypoint_trace(wp: pd.DataFrame, view: View) -> dict:
    """The waypoint layer's markers (at most MAP_POINT_BUDGET, evenly picked), coloured by
    sol; a selection's points are marked selected."""
    idx = np.arange(len(wp))
    if len(wp) > MAP_POINT_BUDGET:
        idx = np.unique(np.linspace(0, len(wp) - 1, MAP_POINT_BUDGET).astype(int))
    pts = wp.iloc[idx]
    sols = pts["sol"].to_numpy()
    trace = {
        "type": scatter_type(len(pts)),
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
        "text": _map_hover(pts, view.calendar),
        "hovertemplate": _map_template(pts),
    }
    if view.sols is not None:
        trace["selectedpoints"] = [i for i, s in enumerate(sols.tolist()) if s in view.sols]
    return trace


def _current_trace(cur: pd.DataFrame, calendar: SolCalendar) -> dict:
    return {
        "type": "scatter",
        "x": arr(cur["lon"].to_numpy(dtype=float)),
        "y": arr(cur["lat"].to_numpy(dtype=float)),
        "mode": "markers",
        "name": f"current position, sol {int(cur['sol'].max())} (current-position layer)",
        "marker": {"symbol": "star", "size": 16, "color": CURRENT_COLOR, "line": {"width": 1, "color": "#333"}},
        "customdata": cur["rmc"].tolist(),
        "text": _map_hover(cur, calendar),
        "hovertemplate": _map_template(cur),
    }


def _map_hover(pts: pd.DataFrame, calendar: SolCalendar) -> list[str]:
    sols = pts["sol"].to_numpy()
    elev = pts["elev_geoid"].to_numpy(dtype=float)
    return [
        f"Sol {sol}<br>{date} (UTC)<br>site_drive {rmc}<br>elevation "
        + ("unknown" if e != e else f"{e:.1f} m")
        + (f"<br>{note}" if note else "")
        for sol, date, rmc, e, note in zip(
            sols.tolist(),
            calendar.sol_dates(sols).tolist(),
            pts["rmc"].tolist(),
            elev.tolist(),
            pts["note"].fillna("").tolist(),
            strict=True,
        )
    ]


def _map_template(pts: pd.DataFrame) -> str:
    layer = layer_of(pts)
    return f"%{{text}}<br>from the {LAYER_LABELS.get(layer, layer)}<extra></extra>"


@dataclass(frozen=True)
class PathLevel:
    """Path vertices ordered by sol, with a flag for a break before each vertex."""

    sol: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    gap: np.ndarray


def path_levels(traverse: pd.DataFrame, points: pd.DataFrame) -> list[PathLevel]:
    """The full-resolution path plus coarser copies (every 4th vertex, then every 16th...,
    until one is within LEVEL_FACTOR x PATH_BUDGET). Pure: the answer depends on the
    tables' contents only, so a dataset version keeps it in its memo."""
    seg = points["seg"].to_numpy()
    leg_sol = traverse["sol"].to_numpy(dtype=float, na_value=np.nan)
    valid = (seg >= 0) & (seg < len(leg_sol))
    vertex_sol = np.where(valid, leg_sol[np.clip(seg, 0, max(len(leg_sol) - 1, 0))], np.nan)
    order = np.flatnonzero(np.isfinite(vertex_sol))
    order = order[np.argsort(vertex_sol[order], kind="stable")]  # legs in sol order, vertices in file order
    sol, lon, lat = vertex_sol[order], points["lon"].to_numpy()[order], points["lat"].to_numpy()[order]
    key = seg[order] * PARTS_PER_LEG + points["part"].to_numpy()[order]
    step_lon, step_lat = np.diff(lon), np.diff(lat)
    gap = np.concatenate([[True], (key[1:] != key[:-1]) & (np.abs(step_lon) + np.abs(step_lat) > GAP_DEGREES)])
    # drop repeated vertices, but keep each leg's first one so a range starting there has it
    keep = np.concatenate([[True], (step_lon != 0) | (step_lat != 0) | (key[1:] != key[:-1])])
    levels = [PathLevel(sol[keep], lon[keep], lat[keep], gap[keep])]
    while len(levels[-1].sol) > LEVEL_FACTOR * PATH_BUDGET:
        top = levels[-1]
        pick = top.gap.copy()
        pick[:-1] |= top.gap[1:]  # keep both sides of every break
        pick[::LEVEL_FACTOR] = True
        pick[-1] = True
        levels.append(PathLevel(top.sol[pick], top.lon[pick], top.lat[pick], top.gap[pick]))
    return levels


def path_xy(
    traverse: pd.DataFrame, points: pd.DataFrame, view: View, memo: MemoFn = no_memo
) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of the legs driven in the sol range as one polyline, thinned to the budget.

    Consecutive legs share their junction vertex, so they are drawn as one line; a NaN
    breaks it only where a leg (or a MultiLineString part) starts more than ~1 m from
    where the previous one ended (NASA's file has a few such gaps). Repeated vertices
    are dropped. Sent as float32: ~0.3 m on Mars. The levels of the path come from
    ``memo`` (the dataset version's :meth:`Dataset.memo`, whose frames these are) under
    PATH_MEMO_KEY; without a memo they are computed on every call."""
    levels = memo(PATH_MEMO_KEY, lambda: path_levels(traverse, points))
    for level in levels:  # the finest level that is not far over the budget
        i0, i1 = np.searchsorted(level.sol, [view.sol_min, view.sol_max + 0.5])
        if i1 - i0 <= LEVEL_FACTOR * PATH_BUDGET:
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
