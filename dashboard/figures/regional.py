"""The regional view: the whole terrain crop (about 2 degrees around the rover) with its
shaded relief, the rover's track and where it is now, so "on the western rim of Jezero" is
visible at a glance. Plain-dict figures with typed arrays, like the other maps; the relief
and the scale bar come from :mod:`.terrain`, the track's path from :mod:`.map`.
"""

from __future__ import annotations

import math

import numpy as np

from dashboard.data.timeline import traverse_by_sol
from dashboard.figures.common import (
    CURRENT_COLOR,
    ChartData,
    Figure,
    View,
    arr,
    chart_layout,
    context_layer,
    in_range,
    range_text,
    rover_of,
)
from dashboard.figures.layers import flight_traces, sample_traces
from dashboard.figures.map import path_xy
from dashboard.figures.relief import Relief
from dashboard.figures.terrain import (
    ATTRIBUTION,
    COLORSCALE,
    IMAGE_URL,
    REGIONAL_HEIGHT,
    SHORT_ATTRIBUTION,
    TRACK_COLOR,
    UNDER,
    relief_source,
    scale_bar,
    terrain_image,
    thin_track,
)


def regional_map(
    relief: Relief,
    image_source: str,
    *,
    track_lon=(),
    track_lat=(),
    position: tuple[float, float] | None = None,
    position_label: str = "now",
    layers: list[dict] | None = None,
    title: str = "Around the rover",
    compact: bool = False,
) -> Figure:
    """The whole terrain crop with the track as a line, ``layers`` (flights, samples...)
    over it and the current position marked; a colour bar gives the relief's heights.
    ``compact``: for a narrow column (no axis titles, the colour bar under the map, the
    credit shortened into its title)."""
    xs, ys = thin_track(track_lon, track_lat)
    data: list[dict] = [_height_scale(relief, compact)]
    if len(xs):
        data.append(
            {
                "type": "scatter",
                "x": arr(xs, "f4"),
                "y": arr(ys, "f4"),
                "mode": "lines",
                "name": "drive path",
                "line": {"color": TRACK_COLOR, "width": 2},
                "hoverinfo": "skip",
                "connectgaps": False,
            }
        )
    data.extend(layers or [])
    if position is not None:
        data.append(_position_trace(position, position_label))
    return {"data": data, "layout": _regional_layout(relief, image_source, title, compact)}


def _regional_layout(relief: Relief, image_source: str, title: str, compact: bool) -> dict:
    box = relief.bbox
    lat0 = (box.min_lat + box.max_lat) / 2
    bar = scale_bar((box.min_lon, box.max_lon), (box.min_lat, box.max_lat))
    credit = {"text": ATTRIBUTION, "xref": "paper", "yref": "paper", "x": 1, "y": 1, "xanchor": "right"}
    credit.update(yanchor="bottom", showarrow=False, font={"size": 10, "color": "#5b6b7c"})
    grid = {"gridcolor": "rgba(255,255,255,0.3)", "constrain": "domain"}
    titles = ({}, {}) if compact else ({"text": "Longitude (°E)"}, {"text": "Latitude (°N)"})
    layout = chart_layout(
        title,
        xaxis={"title": titles[0], "range": [box.min_lon, box.max_lon], **grid},
        yaxis={
            "title": titles[1],
            "range": [box.min_lat, box.max_lat],
            **grid,
            "scaleanchor": "x",
            "scaleratio": 1.0 / math.cos(math.radians(lat0)),
        },
        images=[terrain_image(box, image_source)],
        shapes=bar["shapes"],
        annotations=bar["annotations"] + ([] if compact else [credit]),
        height=REGIONAL_HEIGHT,
        showlegend=True,
        dragmode="pan",
    )
    if compact:
        layout["margin"] = {"l": 40, "r": 10, "t": 40, "b": 10}
    return layout


def _height_scale(relief: Relief, compact: bool = False) -> dict:
    """The colour bar of the relief's ramp: an invisible marker carries it (a layout image
    has no colour bar of its own)."""
    box = relief.bbox
    return {
        "type": "scatter",
        "x": arr([box.min_lon]),
        "y": arr([box.min_lat]),
        "mode": "markers",
        "marker": {
            "size": 0.1,
            "opacity": 0,
            "color": arr([relief.low]),
            "colorscale": COLORSCALE,
            "cmin": relief.low,
            "cmax": relief.high,
            "showscale": True,
            "colorbar": {
                "title": {"text": f"Height (m) · {SHORT_ATTRIBUTION}", "side": "top"}
                if compact
                else {"text": "Height (m)"},
                "thickness": 14,
                **(UNDER if compact else {}),
            },
        },
        "hoverinfo": "skip",
        "showlegend": False,
        "name": "terrain heights",
    }


def _position_trace(position: tuple[float, float], label: str) -> dict:
    lon, lat = position
    return {
        "type": "scatter",
        "x": arr([lon]),
        "y": arr([lat]),
        "mode": "markers",
        "name": f"rover ({label})",
        "marker": {"symbol": "star", "size": 16, "color": CURRENT_COLOR, "line": {"width": 1, "color": "#333"}},
        "hovertemplate": f"Rover, {label}<br>%{{x:.5f}}°E, %{{y:.5f}}°N<extra></extra>",
    }


def position_at_end(dataset: ChartData, view: View) -> tuple[float, float, int] | None:
    """(lon, lat, sol) of the rover at the end of the view's range: its last waypoint (any
    layer) or, on a later sol without one, where the traverse's last leg of that sol ended."""
    found: list[tuple[int, float, float]] = []
    for frame in (
        in_range(dataset.waypoints, view, use_selection=False),
        in_range(traverse_by_sol(dataset.traverse, dataset.traverse_points, dataset.memo), view),
    ):
        rows = frame[frame["lon"].notna().to_numpy(dtype=bool) & frame["lat"].notna().to_numpy(dtype=bool)]
        if len(rows):
            found.append((int(rows["sol"].iat[-1]), float(rows["lon"].iat[-1]), float(rows["lat"].iat[-1])))
    if not found:
        return None
    sol, lon, lat = max(found, key=lambda f: f[0])  # a waypoint on the traverse's last sol wins
    return lon, lat, sol


def regional(dataset: ChartData, view: View, image_source: str = IMAGE_URL, compact: bool = False) -> Figure:
    """The regional view for a range: the whole terrain crop, the drive path of the range,
    Ingenuity's flights and the sample sites of the range (when loaded), and where the
    rover was at the range's end. Without terrain, a figure that says so. ``compact``:
    for a narrow column (see :func:`regional_map`)."""
    terrain = context_layer(dataset, "terrain")
    title = f"Around the rover ({range_text(view)})"
    if terrain is None:
        return no_terrain(title)
    shaded, source = relief_source(terrain, dataset.memo, image_source, rover_of(dataset))
    xs, ys = _track(dataset, view)
    layers: list[dict] = []
    flights, samples = context_layer(dataset, "flights"), context_layer(dataset, "samples")
    if flights is not None:
        layers += flight_traces(flights, view, numbers=False)
    if samples is not None:
        layers += sample_traces(samples, view)
    end = position_at_end(dataset, view)
    return regional_map(
        shaded,
        source,
        track_lon=xs,
        track_lat=ys,
        position=None if end is None else end[:2],
        position_label="" if end is None else f"sol {end[2]}",
        layers=layers,
        title=title,
        compact=compact,
    )


def _track(dataset: ChartData, view: View) -> tuple[np.ndarray, np.ndarray]:
    """The drive path of the range (the traverse; the waypoints without one)."""
    if dataset.traverse is not None and dataset.traverse_points is not None and len(dataset.traverse):
        plain = View(view.sol_min, view.sol_max)
        return path_xy(dataset.traverse, dataset.traverse_points, plain, dataset.memo)
    wp = in_range(dataset.waypoints, view, use_selection=False)
    return wp["lon"].to_numpy(dtype=float), wp["lat"].to_numpy(dtype=float)


def no_terrain(title: str) -> Figure:
    """A regional view without terrain: the words instead of a map."""
    words = "No terrain loaded: the regional view needs the MOLA terrain layer"
    note = {"text": words, "showarrow": False, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper"}
    hidden = {"visible": False}
    layout = chart_layout(title, xaxis=hidden, yaxis=hidden, annotations=[note], height=REGIONAL_HEIGHT)
    return {"data": [], "layout": layout}
