"""Charts over time: orientation, position, elevation by sol and by distance driven.
Each draws the waypoints, the traverse on sols without waypoints (dotted) and the current
position (a star). With the sample layer loaded, the charts by sol mark the sols a tube
was filled on; with the terrain loaded, the elevation by distance has the ground's profile
under the track; junk elevations are left out of both elevation charts (:mod:`.profile`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.data.timeline import traverse_only
from dashboard.figures.common import (
    PALETTE,
    ChartData,
    Figure,
    View,
    chart_layout,
    context_layer,
    figure_of,
    in_range,
    range_text,
    split_current,
    time_axis,
)
from dashboard.figures.layers import SAMPLE_GROUP, sample_sol_marks
from dashboard.figures.profile import climb, climb_annotation, profile_traces, typical_elevation, without_junk
from dashboard.figures.series import current_marker, data_gaps, gap_marks, series, traverse_series

#: the legend's name of the sample sols' marks
SAMPLE_MARK_NAME = "sample tube filled"
#: the rows of the elevation charts without junk elevations, in a dataset version's memo
ELEVATIONS_MEMO_KEY = ("figures", "elevations_without_junk")


def with_sample_marks(layout: dict, dataset: ChartData, view: View) -> dict:
    """``layout`` with a dotted line at each sol a tube was filled on in the view (when the
    sample layer is loaded); the first one names them all in the legend, where one click
    shows or hides them."""
    samples = context_layer(dataset, "samples")
    if samples is None:
        return layout
    marks = [
        {**m, "legendgroup": SAMPLE_GROUP, "showlegend": False, "opacity": 0.7} for m in sample_sol_marks(samples, view)
    ]
    if marks:
        marks[0] = {**marks[0], "showlegend": True, "name": SAMPLE_MARK_NAME}
        layout["shapes"] = [*layout.get("shapes", []), *marks]
        layout["showlegend"] = True
    return layout


def orientation(dataset: ChartData, view: View) -> Figure:
    waypoints = dataset.waypoints
    """Yaw, pitch, roll and tilt at each waypoint. Orientation exists only at waypoints:
    a long stretch without them is a visible gap with words saying why."""
    wp_all = in_range(waypoints, view)
    wp, cur = split_current(wp_all)
    data = [series(wp, "sol", "yaw", "yaw", PALETTE[0], "°", view, wrap=True)]
    for i, name in enumerate(("pitch", "roll", "tilt"), start=1):
        data.append(series(wp, "sol", name, name, PALETTE[i], "°", view, yaxis="y2"))
    if len(cur):
        data.append(current_marker(cur, "sol", "yaw", "yaw", "°", view, True))
        for name in ("pitch", "roll", "tilt"):
            data.append(current_marker(cur, "sol", name, name, "°", view, False, yaxis="y2"))
    layout = chart_layout(
        f"Rover orientation ({range_text(view)})",
        xaxis=time_axis(view, anchor="y2"),
        yaxis={"title": {"text": "Yaw (°)"}, "domain": [0.56, 1.0], "range": [-185, 185], "dtick": 90},
        yaxis2={"title": {"text": "Pitch / roll / tilt (°)"}, "domain": [0.0, 0.46]},
        height=520,
    )
    if not wp_all.empty:
        gaps = data_gaps(wp_all["sol"].to_numpy(), view)
        layout["shapes"], layout["annotations"] = gap_marks(
            gaps, view, "orientation", "NASA measures it only<br>at waypoints, and there<br>are none here"
        )
        if gaps:  # the view's range, so the words do not widen the axis (autorange fits annotations)
            ends = [
                view.sol_min - 0.02 * (view.sol_max - view.sol_min + 1),
                view.sol_max + 0.02 * (view.sol_max - view.sol_min + 1),
            ]
            layout["xaxis"]["range"] = ends if view.time_axis != "date" else view.calendar.sol_instants(ends)
    return figure_of(data, with_sample_marks(layout, dataset, view), wp_all.empty)


def position(dataset: ChartData, view: View) -> Figure:
    """Latitude and longitude at the waypoints; on sols without waypoints, where the
    traverse's last leg of the sol ended."""
    waypoints, traverse, traverse_points, memo = (
        dataset.waypoints,
        dataset.traverse,
        dataset.traverse_points,
        dataset.memo,
    )
    wp_all = in_range(waypoints, view)
    wp, cur = split_current(wp_all)
    tr = in_range(traverse_only(waypoints, traverse, traverse_points, memo), view)
    data = [
        series(wp, "sol", "lat", "latitude", PALETTE[0], "°N", view),
        series(wp, "sol", "lon", "longitude", PALETTE[1], "°E", view, yaxis="y2"),
    ]
    if len(tr):
        data += [
            traverse_series(tr, "sol", "lat", "latitude", PALETTE[5], "°N", view),
            traverse_series(tr, "sol", "lon", "longitude", PALETTE[3], "°E", view, yaxis="y2"),
        ]
    if len(cur):
        data += [
            current_marker(cur, "sol", "lat", "latitude", "°N", view, True),
            current_marker(cur, "sol", "lon", "longitude", "°E", view, False, yaxis="y2"),
        ]
    layout = chart_layout(
        f"Rover position ({range_text(view)})",
        xaxis=time_axis(view, anchor="y2"),
        yaxis={"title": {"text": "Latitude (°N)"}, "domain": [0.54, 1.0], "tickformat": ".4f"},
        yaxis2={"title": {"text": "Longitude (°E)"}, "domain": [0.0, 0.46], "tickformat": ".4f"},
        height=480,
    )
    return figure_of(data, with_sample_marks(layout, dataset, view), wp_all.empty and tr.empty)


def without_junk_elevations(dataset: ChartData) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(every waypoint, the traverse on sols without waypoints, and that traverse) with
    junk elevations left out (:mod:`.profile`; without terrain the ground's stand-in is the
    median of all the dataset's elevations). Built once per dataset version (its memo)."""
    wp = dataset.waypoints
    tr = traverse_only(wp, dataset.traverse, dataset.traverse_points, dataset.memo)
    terrain = context_layer(dataset, "terrain")
    typical = None if terrain is not None else typical_elevation(wp["elev_geoid"], tr["elev"])
    return without_junk(wp, "elev_geoid", terrain, typical), without_junk(tr, "elev", terrain, typical), tr


def elevation_rows(dataset: ChartData, view: View) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, bool]:
    """(waypoints, traverse on sols without waypoints, current position) in the view,
    junk elevations left out, and whether the range had any row at all."""
    wp_clean, tr_clean, tr_all = dataset.memo(ELEVATIONS_MEMO_KEY, lambda: without_junk_elevations(dataset))
    wp, cur = split_current(in_range(wp_clean, view))
    tr = in_range(tr_clean, view)
    drawn = len(wp) + len(cur) + len(tr) > 0 or not (
        in_range(dataset.waypoints, view).empty and in_range(tr_all, view).empty
    )
    return wp, tr, cur, drawn


def elevation(dataset: ChartData, view: View) -> Figure:
    wp, tr, cur, drawn = elevation_rows(dataset, view)
    data = [series(wp, "sol", "elev_geoid", "elevation", PALETTE[2], "m", view)]
    if len(tr):
        data.append(traverse_series(tr, "sol", "elev", "elevation", PALETTE[5], "m", view))
    if len(cur):
        data.append(current_marker(cur, "sol", "elev_geoid", "elevation", "m", view, True))
    layout = chart_layout(
        f"Elevation by sol ({range_text(view)})",
        xaxis=time_axis(view),
        yaxis={"title": {"text": "Elevation above geoid (m)"}},
        height=380,
        showlegend=len(data) > 1,
    )
    return figure_of(data, with_sample_marks(layout, dataset, view), not drawn)


def elevation_distance(dataset: ChartData, view: View) -> Figure:
    """Elevation against odometry: the waypoints' odometry; on sols without waypoints the
    traverse legs' cumulative length (a different measure, named so in the legend). With
    the terrain loaded, the ground's profile under those points is drawn beneath them
    (MOLA's heights at their positions); the climb over the range is said in words."""
    wp, tr, cur, drawn = elevation_rows(dataset, view)
    wp = wp.assign(dist_km=wp["dist_total_m"] / 1000.0)
    cur = cur.assign(dist_km=cur["dist_total_m"] / 1000.0)
    tr = tr.assign(dist_km=tr["total_m"] / 1000.0)
    terrain = context_layer(dataset, "terrain")
    data: list[dict] = []
    if terrain is not None:
        x, lon, lat = (
            np.concatenate([f[c].to_numpy(dtype=float) for f in (wp, tr, cur)]) for c in ("dist_km", "lon", "lat")
        )
        data += profile_traces(x, lon, lat, terrain)
    data.append(series(wp, "dist_km", "elev_geoid", "elevation", PALETTE[3], "m", view))
    if len(tr):
        data.append(traverse_series(tr, "dist_km", "elev", "elevation (legs' length)", PALETTE[5], "m", view))
    if len(cur):
        data.append(current_marker(cur, "dist_km", "elev_geoid", "elevation", "m", view, True))
    layout = chart_layout(
        f"Elevation by distance driven ({range_text(view)})",
        xaxis={"title": {"text": "Distance driven (km)"}},
        yaxis={"title": {"text": "Elevation above geoid (m)"}},
        height=380,
        showlegend=len(data) > 1,
    )
    sols = np.concatenate([f["sol"].to_numpy(dtype=float) for f in (wp, tr, cur)])
    elevs = np.concatenate(
        [wp["elev_geoid"].to_numpy(float), tr["elev"].to_numpy(float), cur["elev_geoid"].to_numpy(float)]
    )
    words = climb(sols, elevs)
    if words and drawn:
        layout["annotations"] = [climb_annotation(words)]
    return figure_of(data, layout, not drawn)
