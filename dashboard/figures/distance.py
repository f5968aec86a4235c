"""The distance chart: distance driven per sol (bars, binned past BAR_BUDGET) and the
odometry (lines), from the waypoints and, on sols without them, from the traverse."""

from __future__ import annotations

import math

import pandas as pd

from dashboard.data.timeline import traverse_by_sol
from dashboard.figures.common import (
    BAR_BUDGET,
    PALETTE,
    ChartData,
    Figure,
    View,
    arr,
    chart_layout,
    figure_of,
    in_range,
    range_text,
    split_current,
    time_axis,
    time_x,
)
from dashboard.figures.series import current_marker, hover, series


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
    text, head = hover(sols, layer, "sol", view)
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


def distance(dataset: ChartData, view: View) -> Figure:
    """Distance driven per sol (bars) and odometry (lines): from the waypoints where they
    exist, from the traverse's legs on the sols without them. The traverse's own odometry
    (its legs' cumulative length) is drawn over its whole span, dotted."""
    waypoints, traverse, traverse_points, memo = (
        dataset.waypoints,
        dataset.traverse,
        dataset.traverse_points,
        dataset.memo,
    )
    layer_wp, cur = split_current(waypoints)
    per_sol = in_range(per_sol_distance(layer_wp), view)
    tr_all = in_range(traverse_by_sol(traverse, traverse_points, memo), view)
    tr = tr_all[~tr_all["sol"].isin(waypoints["sol"].unique())]
    width = 1
    if len(per_sol) + len(tr) > BAR_BUDGET:  # bin sols so the bar count stays bounded
        width = math.ceil((view.sol_max - view.sol_min + 1) / BAR_BUDGET)
    per_sol, tr_bins = _binned(per_sol, view, width), _binned(tr, view, width)
    per = "sol" if width == 1 else f"{width} sols"
    data = [_bars(per_sol, f"driven per {per} (m)", PALETTE[0], "waypoints", view)]
    if len(tr_bins):
        data.append(_bars(tr_bins, f"driven per {per} · traverse (m)", PALETTE[5], "traverse", view))
    data += _odometry(per_sol, tr_all, in_range(cur, view), view)
    layout = chart_layout(
        f"Distance driven ({range_text(view)})",
        xaxis=time_axis(view),
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
    return figure_of(data, layout, per_sol.empty and tr_all.empty)


def _odometry(per_sol: pd.DataFrame, tr_all: pd.DataFrame, cur: pd.DataFrame, view: View) -> list[dict]:
    """The odometry lines (second y axis): the waypoints', the traverse legs' (dotted), and
    the current position's star."""
    odo = per_sol.assign(total_km=per_sol["total_m"] / 1000.0, layer="waypoints")
    solid = {"color": PALETTE[1], "width": 2}
    data = [
        series(odo, "sol", "total_km", "odometry (km)", PALETTE[1], "km", view, yaxis="y2", mode="lines", line=solid)
    ]
    if len(tr_all):
        legs = tr_all.assign(total_km=tr_all["total_m"] / 1000.0, layer="traverse")
        dotted = {"color": PALETTE[3], "width": 2, "dash": "dot"}
        name = "odometry · traverse legs (km)"
        data.append(
            series(legs, "sol", "total_km", name, PALETTE[3], "km", view, yaxis="y2", mode="lines", line=dotted)
        )
    if len(cur):
        at_end = cur.assign(total_km=cur["dist_total_m"] / 1000.0)
        data.append(current_marker(at_end, "sol", "total_km", "odometry", "km", view, True, yaxis="y2"))
    return data
