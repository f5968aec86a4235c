"""Shaded relief of a terrain crop as a PNG: hillshade blended with an elevation colour ramp.

The hillshade is Horn's 3 x 3 gradient lit from azimuth 315 (north-west) at 45 degrees
above the horizon, with the pixel's true size on the ground: 1/128 degree of latitude is
Mars' mean radius (3,389.5 km) x pi / 180 / 128 = 462.2 m north-south everywhere, and
cos(latitude) times that east-west (438.5 m at Jezero, 18.4 N). Heights may be exaggerated
for legibility (MOLA's 463 m pixels smooth the slopes a rover sees).

The colour ramp is cmocean's "turbid" reversed (dark brown low, pale yellow high; plotly
calls it ``turbid_r``): perceptually uniform with lightness rising steadily, so it reads
the same with any colour-vision deficiency and in greyscale. It spans the crop's lowest to
highest height. Flat ground keeps the ramp's colour; slopes facing the light are brighter,
slopes facing away darker.

The PNG (Pillow) is the same bytes for the same terrain and settings, so its sha256 prefix
makes an immutable URL. Build it once per terrain version: :func:`relief` takes the
dataset version's memo. Pure code.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from dashboard.data.megdr import PPD, BBox
from dashboard.data.memo import MemoFn, no_memo
from dashboard.data.terrain import MARS_RADIUS_M, Crop

AZIMUTH_DEG = 315.0
ALTITUDE_DEG = 45.0
EXAGGERATION = 2.0
#: the light a slope facing straight away still gets (a shadowed slope is not black)
AMBIENT = 0.35
#: cmocean "turbid" reversed (plotly.colors.cmocean.turbid, low to high): dark brown to pale yellow
RAMP_NAME = "turbid_r"
RAMP = np.array(
    [
        (34, 30, 27),
        (57, 45, 37),
        (80, 59, 46),
        (104, 72, 53),
        (129, 87, 56),
        (151, 103, 58),
        (170, 121, 60),
        (186, 143, 66),
        (199, 168, 83),
        (209, 193, 107),
        (220, 219, 137),
        (232, 245, 171),
    ],
    dtype=float,
)
#: a Relief in a dataset version's memo: (RELIEF_MEMO_KEY, terrain version, azimuth, altitude, exaggeration)
RELIEF_MEMO_KEY = "terrain_relief"
#: hex digits of the PNG's sha256 kept as its fingerprint
FINGERPRINT_CHARS = 16


@dataclass(frozen=True)
class Relief:
    """A terrain crop's shaded relief: the PNG, its fingerprint, where it lies and the
    heights (m) at the two ends of its colour ramp."""

    png: bytes
    fingerprint: str
    bbox: BBox
    low: float
    high: float
    terrain_version: str


def hillshade(
    heights: np.ndarray, row_lats: np.ndarray, azimuth: float = AZIMUTH_DEG, altitude: float = ALTITUDE_DEG
) -> np.ndarray:
    """Illumination 0..1 of each pixel (row 0 north; ``row_lats`` the rows' latitudes)."""
    z = np.pad(np.asarray(heights, dtype=float), 1, mode="edge")
    dy = MARS_RADIUS_M * np.radians(1.0 / PPD)
    dx = dy * np.cos(np.radians(np.asarray(row_lats, dtype=float)))[:, None]
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]  # the row to the north
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]  # the row to the south
    dz_east = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * dx)
    dz_south = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * dy)
    slope = np.arctan(np.hypot(dz_east, dz_south))
    aspect = np.arctan2(dz_south, -dz_east)
    sun = np.radians(360.0 - azimuth + 90.0)
    zenith = np.radians(90.0 - altitude)
    shade = np.cos(zenith) * np.cos(slope) + np.sin(zenith) * np.sin(slope) * np.cos(sun - aspect)
    return np.clip(shade, 0.0, 1.0)


def ramp_colours(heights: np.ndarray, low: float, high: float) -> np.ndarray:
    """RGB (float, 0..255) of the ramp at each height, linear between its stops."""
    t = np.clip((np.asarray(heights, dtype=float) - low) / max(high - low, 1e-9), 0.0, 1.0)
    stops = np.linspace(0.0, 1.0, len(RAMP))
    return np.stack([np.interp(t, stops, RAMP[:, k]) for k in range(3)], axis=-1)


def shaded_relief(crop: Crop, exaggeration: float = EXAGGERATION, **light) -> np.ndarray:
    """The crop as RGB bytes (rows, cols, 3): the ramp's colour, lit by the hillshade."""
    heights = crop.heights.astype(float)
    shade = hillshade(heights * exaggeration, crop.lats(), **light)
    flat = np.sin(np.radians(light.get("altitude", ALTITUDE_DEG)))  # the light on level ground
    factor = AMBIENT + (1.0 - AMBIENT) * shade / flat
    rgb = ramp_colours(heights, float(heights.min()), float(heights.max())) * factor[..., None]
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    """An RGB array as PNG bytes (the same bytes for the same array)."""
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(out, format="PNG", compress_level=6)
    return out.getvalue()


def relief(
    crop: Crop,
    memo: MemoFn = no_memo,
    *,
    azimuth: float = AZIMUTH_DEG,
    altitude: float = ALTITUDE_DEG,
    exaggeration: float = EXAGGERATION,
) -> Relief:
    """The crop's shaded relief as a PNG, built once per terrain version and light through ``memo``."""

    def build() -> Relief:
        rgb = shaded_relief(crop, exaggeration, azimuth=azimuth, altitude=altitude)
        png = png_bytes(rgb)
        return Relief(
            png=png,
            fingerprint=hashlib.sha256(png).hexdigest()[:FINGERPRINT_CHARS],
            bbox=crop.bbox,
            low=float(crop.heights.min()),
            high=float(crop.heights.max()),
            terrain_version=crop.version,
        )

    return memo((RELIEF_MEMO_KEY, crop.version, azimuth, altitude, exaggeration), build)
