"""Traces shared by the charts over time: a thinned line with gaps, the traverse's dotted
line, the current position's star, and the marks over long stretches without data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.data.timeline import LAYER_LABELS
from dashboard.figures.common import (
    CURRENT_COLOR,
    GAP_SOLS,
    MARKER_BUDGET,
    SERIES_BUDGET,
    View,
    arr,
    layer_of,
    scatter_type,
    thin_indices,
    time_x,
)


def hover(sols: np.ndarray, layer: str, x: str, view: View) -> tuple[list[str], str]:
    """(text per point, the hover's first lines). A trace holds one layer's points, so the
    layer is said once, in the template; per point only short text travels (it compresses
    far better than a second binary array): the Earth date when x is the sol, the sol
    when x is the Earth date, both when x is a distance."""
    sols = np.asarray(sols, dtype=float)
    ok = np.isfinite(sols).tolist()
    label = f"from the {LAYER_LABELS.get(layer, layer)}<br>"
    if x == "sol" and view.time_axis == "date":
        text = [str(int(s)) if good else "" for s, good in zip(sols.tolist(), ok, strict=True)]
        return text, "Sol %{text} · %{x|%Y-%m-%d} (UTC)<br>" + label
    dates = view.calendar.sol_dates(np.nan_to_num(sols)).tolist()
    if x == "sol":
        return [d if good else "" for d, good in zip(dates, ok, strict=True)], "Sol %{x} · %{text} (UTC)<br>" + label
    text = [f"{int(s)} · {d}" if good else "" for s, d, good in zip(sols.tolist(), dates, ok, strict=True)]
    return text, "Sol %{text} (UTC)<br>" + label


def series(
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
    more than GAP_SOLS sols, and (``wrap``: yaw) where the angle wraps at ±180°; at most
    MARKER_BUDGET of its markers drawn at once (all of them when zoomed in enough)."""
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
    text, head = hover(sols, layer_of(frame), x, view)
    trace: dict = {
        "type": scatter_type(len(idx)),  # the points drawn (a break is no point)
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
    if trace["type"] == "scatter" and len(xs) > MARKER_BUDGET:
        trace["marker"] = {**trace["marker"], "maxdisplayed": MARKER_BUDGET}
    return trace


def current_marker(frame: pd.DataFrame, x: str, y: str, name: str, unit: str, view: View, show: bool, **kw) -> dict:
    """The current-position layer's point, drawn apart (a star) so the legend names it."""
    sols = frame["sol"].to_numpy(dtype=float)
    xs = frame[x].to_numpy(dtype=float)
    xlabel = "" if x == "sol" else "%{x:.3f} km<br>"
    text, head = hover(sols, layer_of(frame), x, view)
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


def traverse_series(
    frame: pd.DataFrame, x: str, y: str, name: str, color: str, unit: str, view: View, scale: float = 1.0, **kw
) -> dict:
    """A series from the traverse layer (sols without waypoints): dashed, named so."""
    shown = frame.assign(**{y: frame[y] * scale}) if scale != 1.0 else frame
    shown = shown.assign(layer="traverse")
    return series(
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
    for a, b in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        if b - a > GAP_SOLS:
            out.append((a, b))
    return out


def gap_marks(gaps: list[tuple[int, int]], view: View, what: str, why: str) -> tuple[list, list]:
    """A shaded band and words over each gap, so a long stretch without data reads as one."""
    shapes, notes = [], []
    for a, b in gaps:
        x0, x1 = (a, b) if view.time_axis != "date" else tuple(view.calendar.sol_instants([a, b]))
        mid = (a + b) / 2 if view.time_axis != "date" else view.calendar.sol_instants([(a + b) / 2])[0]
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
