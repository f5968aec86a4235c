"""The export-only chart: any numeric waypoint field against another."""

from __future__ import annotations

from dashboard.figures.common import (
    PALETTE,
    SERIES_BUDGET,
    ChartData,
    Figure,
    View,
    arr,
    chart_layout,
    figure_of,
    in_range,
    range_text,
    scatter_type,
    thin_indices,
)

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


def xy(dataset: ChartData, view: View, *, xkey: str = "sol", ykey: str = "yaw") -> Figure:
    waypoints = dataset.waypoints
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
        "type": scatter_type(len(idx)),
        "x": arr(xs[idx]),
        "y": arr(ys[idx]),
        "name": ykey,
        "mode": "lines+markers" if xkey == "sol" else "markers",
        "line": {"color": PALETTE[0], "width": 1.5},
        "marker": {"color": PALETTE[0], "size": 4},
        "text": [f"Sol {s} · {d}" for s, d in zip(sols.tolist(), view.calendar.sol_dates(sols).tolist(), strict=True)],
        "hovertemplate": f"%{{text}} (UTC)<br>{xkey}: %{{x}}<br>{ykey}: %{{y}}<extra></extra>",
    }
    name_y, name_x = FIELDS[ykey].split(" (")[0], FIELDS[xkey].split(" (")[0]
    layout = chart_layout(
        f"{name_y} against {name_x.lower() if xkey != 'sol' else 'sol'} ({range_text(view)})",
        xaxis={"title": {"text": FIELDS[xkey]}},
        yaxis={"title": {"text": FIELDS[ykey]}},
        height=450,
        showlegend=False,
    )
    return figure_of([trace], layout, wp.empty)
