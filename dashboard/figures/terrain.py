"""Terrain under the maps: the shaded relief as a layout image and a scale bar (the regional
view, the whole terrain crop with the rover's track, is :mod:`.regional`).

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
from dashboard.data.memo import MemoFn
from dashboard.data.terrain import MARS_RADIUS_M, Crop
from dashboard.figures.common import (
    PALETTE,
)
from dashboard.figures.relief import RAMP, Relief, relief
from dashboard.rovers import DEFAULT_ROVER

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
#: how a figure refers to the relief image: by URL (the page, served by the API) or inline
#: as a data URI (exported files: the export browser has no server to fetch it from)
IMAGE_URL, IMAGE_INLINE = "url", "inline"
IMAGE_SOURCES = (IMAGE_URL, IMAGE_INLINE)
#: the key of the relief's data URI in a dataset version's memo (with the PNG's fingerprint)
DATA_URI_MEMO_KEY = "terrain_data_uri"


def data_uri(png: bytes) -> str:
    """The PNG inline, for a figure drawn without a server (exports)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def relief_url(shaded: Relief, rover: str = DEFAULT_ROVER) -> str:
    """The relief's immutable URL on this app's server: Perseverance's at ``/terrain/``
    as it always was, another rover's under its name (``/curiosity/terrain/<fp>.png``)."""
    url = RELIEF_URL.format(fingerprint=shaded.fingerprint)
    return url if rover == DEFAULT_ROVER else f"/{rover}{url}"


def relief_source(crop: Crop, memo: MemoFn, image_source: str, rover: str = DEFAULT_ROVER) -> tuple[Relief, str]:
    """The crop's shaded relief (built once per terrain version through ``memo``) and the
    image source that refers to it: its URL, or its PNG inline. The one place that chooses,
    for the traverse map and the regional view alike."""
    if image_source not in IMAGE_SOURCES:
        raise ValueError(f"image_source is {image_source!r}; allowed: {', '.join(IMAGE_SOURCES)}")
    shaded = relief(crop, memo)
    if image_source == IMAGE_URL:
        return shaded, relief_url(shaded, rover)
    return shaded, memo((DATA_URI_MEMO_KEY, shaded.fingerprint), lambda: data_uri(shaded.png))


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
