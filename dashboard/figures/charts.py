"""Charts over time: orientation, position, elevation by sol and by distance driven.
Each draws the waypoints, the traverse on sols without waypoints (dotted) and the current
position (a star)."""

from __future__ import annotations

from dashboard.data.timeline import traverse_only
from dashboard.figures.common import (
    PALETTE,
    ChartData,
    Figure,
    View,
    chart_layout,
    figure_of,
    in_range,
    range_text,
    split_current,
    time_axis,
)
from dashboard.figures.series import current_marker, data_gaps, gap_marks, series, traverse_series
from dashboard.marstime import sol_instants


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
            layout["xaxis"]["range"] = ends if view.time_axis != "date" else sol_instants(ends)
    return figure_of(data, layout, wp_all.empty)


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
    return figure_of(data, layout, wp_all.empty and tr.empty)


def elevation(dataset: ChartData, view: View) -> Figure:
    waypoints, traverse, traverse_points, memo = (
        dataset.waypoints,
        dataset.traverse,
        dataset.traverse_points,
        dataset.memo,
    )
    wp_all = in_range(waypoints, view)
    wp, cur = split_current(wp_all)
    tr = in_range(traverse_only(waypoints, traverse, traverse_points, memo), view)
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
    return figure_of(data, layout, wp_all.empty and tr.empty)


def elevation_distance(dataset: ChartData, view: View) -> Figure:
    """Elevation against odometry: the waypoints' odometry; on sols without waypoints the
    traverse legs' cumulative length (a different measure, named so in the legend)."""
    waypoints, traverse, traverse_points, memo = (
        dataset.waypoints,
        dataset.traverse,
        dataset.traverse_points,
        dataset.memo,
    )
    wp_all = in_range(waypoints, view).assign(dist_km=lambda f: f["dist_total_m"] / 1000.0)
    wp, cur = split_current(wp_all)
    tr = in_range(traverse_only(waypoints, traverse, traverse_points, memo), view)
    tr = tr.assign(dist_km=tr["total_m"] / 1000.0)
    data = [series(wp, "dist_km", "elev_geoid", "elevation", PALETTE[3], "m", view)]
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
    return figure_of(data, layout, wp_all.empty and tr.empty)
