"""Terrain under the maps: the shaded relief as a layout image, a scale bar, and the
regional view (the whole terrain crop with the rover's track and where it is now).

The relief PNG (:mod:`.relief`) is an equirectangular raster: its pixels are equal steps of
longitude and latitude, so stretched over its bbox on lon/lat axes it lies exactly under
the track. The page points ``source`` at an immutable URL named by the PNG's fingerprint;
an exported image has no server to ask, so it embeds the PNG (:func:`data_uri`). A map
keeps equal ground distance per pixel on both axes (``scaleratio`` = 1 / cos(latitude)),
which the scale bar assumes. Plain-dict figures with typed arrays, like the other maps.
"""

from __future__ import annotations

import base64
import math

import numpy as np

from dashboard.data.megdr import BBox
from dashboard.data.terrain import MARS_RADIUS_M
from dashboard.data.timeline import traverse_by_sol
from dashboard.figures.common import (
    CURRENT_COLOR,
    PALETTE,
    ChartData,
    Figure,
    View,
    arr,
    chart_layout,
    context_layer,
    in_range,
    range_text,
)
from dashboard.figures.layers import flight_traces, sample_traces
from dashboard.figures.map import path_xy
from dashboard.figures.relief import RAMP, Relief, relief

#: vertices of the track drawn on the regional view (it spans ~2 degrees: ~460 m a pixel)
TRACK_BUDGET = 4000
TRACK_COLOR = PALETTE[5]  # sky blue: stands out on the brown ramp
ATTRIBUTION = "Terrain: MGS MOLA MEGDR, 463 m/pixel, heights above the areoid (NASA/JPL/GSFC)"
SHORT_ATTRIBUTION = "MGS MOLA (NASA/JPL/GSFC)"
#: the relief's ramp as a plotly colorscale (plotly.js knows no "turbid_r" by name: only
#: plotly.py expands that name, and these figures are plain dicts)
COLORSCALE = [[round(k / (len(RAMP) - 1), 4), "rgb({},{},{})".format(*map(int, c))] for k, c in enumerate(RAMP)]
#: a horizontal colour bar under the plot (a narrow figure has no room beside it)
UNDER = {"orientation": "h", "y": -0.12, "yanchor": "top", "len": 0.9, "thickness": 10}
_BAR_STEPS = (1.0, 2.0, 5.0)


#: where the web side serves a relief PNG, by its fingerprint (immutable: a new terrain or
#: light makes a new fingerprint, so a new URL)
RELIEF_URL = "/terrain/{fingerprint}.png"
#: the regional view's height on the page (px) and in an export
REGIONAL_HEIGHT = 620


def data_uri(png: bytes) -> str:
    """The PNG inline, for a figure drawn without a server (exports)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def relief_url(shaded: Relief) -> str:
    """The relief's immutable URL on this app's server."""
    return RELIEF_URL.format(fingerprint=shaded.fingerprint)


def relief_source(shaded: Relief, inline: bool = False) -> str:
    """Where a figure's layout image takes the relief from: the one place that chooses.
    The page asks the server for the fingerprinted URL (cached for good after the first
    visit); an exported file has no server to ask, so ``inline`` embeds the PNG."""
    return data_uri(shaded.png) if inline else relief_url(shaded)


def terrain_image(bbox: BBox, source: str, opacity: float = 1.0) -> dict:
    """A layout ``images`` entry laying the relief over its bbox, under every trace."""
    return {
        "source": source,
        "xref": "x",
        "yref": "y",
        "x": bbox.min_lon,
        "y": bbox.max_lat,
        "sizex": bbox.max_lon - bbox.min_lon,
        "sizey": bbox.max_lat - bbox.min_lat,
        "xanchor": "left",
        "yanchor": "top",
        "sizing": "stretch",
        "layer": "below",
        "opacity": opacity,
    }


def nice_length(km: float) -> float:
    """The largest 1, 2 or 5 x 10^n km not above ``km``."""
    if not km > 0 or not math.isfinite(km):
        raise ValueError(f"no scale bar for a span of {km} km")
    power = 10.0 ** math.floor(math.log10(km))
    return max(step * power for step in _BAR_STEPS if step * power <= km * (1 + 1e-9))


def scale_bar(lon_range, lat_range, lat: float | None = None, fraction: float = 0.2, color: str = "#1f2a36") -> dict:
    """Layout ``shapes`` and ``annotations`` of a scale bar about ``fraction`` of the map's
    width long, in its lower left corner; ground distance along latitude ``lat`` (by
    default the middle of ``lat_range``)."""
    (lon0, lon1), (lat0, lat1) = sorted(lon_range), sorted(lat_range)
    at = (lat0 + lat1) / 2 if lat is None else lat
    metres_per_degree = MARS_RADIUS_M * math.radians(1.0) * math.cos(math.radians(at))
    km = nice_length((lon1 - lon0) * metres_per_degree / 1000 * fraction)
    x0 = lon0 + 0.05 * (lon1 - lon0)
    x1 = x0 + km * 1000 / metres_per_degree
    y = lat0 + 0.06 * (lat1 - lat0)
    tick = 0.012 * (lat1 - lat0)
    line = {"color": color, "width": 2}
    shapes = [
        {"type": "line", "xref": "x", "yref": "y", "x0": x0, "x1": x1, "y0": y, "y1": y, "line": {**line, "width": 3}},
        {"type": "line", "xref": "x", "yref": "y", "x0": x0, "x1": x0, "y0": y - tick, "y1": y + tick, "line": line},
        {"type": "line", "xref": "x", "yref": "y", "x0": x1, "x1": x1, "y0": y - tick, "y1": y + tick, "line": line},
    ]
    text = f"{km:g} km" if km >= 1 else f"{km * 1000:g} m"
    annotation = {
        "text": text,
        "x": (x0 + x1) / 2,
        "y": y + tick,
        "xref": "x",
        "yref": "y",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"color": color, "size": 12},
        "bgcolor": "rgba(255,255,255,0.6)",
    }
    return {"shapes": shapes, "annotations": [annotation]}


def thin_track(lon, lat, budget: int = TRACK_BUDGET) -> tuple[np.ndarray, np.ndarray]:
    """At most about ``budget`` vertices (every k-th), keeping both ends, NaN breaks and
    the vertices beside them."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if len(lon) <= budget:
        return lon, lat
    gap = np.isnan(lon) | np.isnan(lat)
    keep = np.arange(len(lon)) % math.ceil(len(lon) / budget) == 0
    keep |= gap | np.roll(gap, 1) | np.roll(gap, -1)
    keep[[0, -1]] = True
    return lon[keep], lat[keep]


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


def regional(dataset: ChartData, view: View, inline_image: bool = False, compact: bool = False) -> Figure:
    """The regional view for a range: the whole terrain crop, the drive path of the range,
    Ingenuity's flights and the sample sites of the range (when loaded), and where the
    rover was at the range's end. Without terrain, a figure that says so. ``compact``:
    for a narrow column (see :func:`regional_map`)."""
    terrain = context_layer(dataset, "terrain")
    title = f"Around the rover ({range_text(view)})"
    if terrain is None:
        return no_terrain(title)
    shaded = relief(terrain, dataset.memo)
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
        relief_source(shaded, inline_image),
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
