"""Terrain around a rover: a crop of a MOLA MEGDR tile, in the tile's own encoding.

The MEGDRs (Mission Experiment Gridded Data Records) of Mars Global Surveyor's laser
altimeter, at 128 pixels per degree, hold one big-endian signed 16-bit integer per pixel:
the height of the surface in metres above the MOLA areoid. The areoid is the surface of
equal gravitational plus rotational potential whose mean equatorial radius is 3,396,000 m:
"sea level" for Mars, the reference of the rover's own ``elev_geoid`` too (at Jezero the
crop, sampled at the rover's waypoints, agrees with it to a few metres on average; single
points differ by tens of metres, a pixel being ~463 m wide). The heights are not radii:
the planet's radius at a pixel is the areoid's radius there plus the height.

Rows run north to south, columns west to east; latitudes are planetocentric, longitudes
east-positive, 0-360. A pixel is 1/128 degree square; its centre lies half a pixel inside.
:mod:`.megdr` has the tiles' grid: a crop is whole rows of a tile (one HTTP Range request)
of which it keeps its columns (:func:`crop_from_rows`).

A crop on disk is those bytes plus a JSON sidecar: ``source_tile``, ``pixels_per_degree``,
``width``, ``height``, ``encoding`` and ``bbox`` (``minLon``, ``minLat``, ``maxLon``,
``maxLat``: the outer edges of the outer pixels). :func:`parse_crop` checks every one of
them against the bytes and says in words what does not fit. Pure code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import orjson

from dashboard.data.megdr import GRID, PPD, ROW_BYTES, SIDECAR_BBOX, TILE_COLS, BBox, TileRead, tile_read
from dashboard.data.schema import DataError

__all__ = ["Crop", "along_track_m", "crop_from_rows", "parse_crop", "sample"]

#: Mars' mean radius (m), for distances on the ground
MARS_RADIUS_M = 3_389_500.0
#: heights outside this range (m) are not Mars: the Hellas floor is ~ -8,200 m, Olympus Mons ~ +21,200 m
HEIGHT_RANGE = (-9_000, 22_000)


@dataclass(frozen=True, eq=False)
class Crop:
    """Heights (m above the areoid, int16, row 0 at the north edge) and where they lie."""

    heights: np.ndarray
    bbox: BBox
    source_tile: str | None
    sha256: str  # of the crop's bytes as read (the .img file)

    @property
    def version(self) -> str:
        """Fingerprint of the terrain: the bytes' hash and the bbox (which places them)."""
        key = f"{self.sha256}|{self.bbox.min_lon!r},{self.bbox.min_lat!r},{self.bbox.max_lon!r},{self.bbox.max_lat!r}"
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    @property
    def shape(self) -> tuple[int, int]:
        rows, cols = self.heights.shape
        return int(rows), int(cols)

    def lons(self) -> np.ndarray:
        """Longitude of each column's pixel centres."""
        return self.bbox.min_lon + (np.arange(self.shape[1]) + 0.5) / PPD

    def lats(self) -> np.ndarray:
        """Latitude of each row's pixel centres (north to south)."""
        return self.bbox.max_lat - (np.arange(self.shape[0]) + 0.5) / PPD


def crop_from_rows(body: bytes, read: TileRead, source: str = "terrain") -> Crop:
    """A crop from the bytes of the whole rows ``read`` names (what its Range request returns)."""
    expected = (read.row1 - read.row0) * ROW_BYTES
    if body is None or len(body) != expected:
        got = 0 if body is None else len(body)
        raise DataError(source, f"bad row read: {got:,} bytes, expected {expected:,} ({read.row1 - read.row0} rows)")
    rows = np.frombuffer(body, dtype=">i2").reshape(read.row1 - read.row0, TILE_COLS)
    block = np.ascontiguousarray(rows[:, read.col0 : read.col1])
    return _crop(block.astype(">i2").tobytes(), read.bbox, read.tile.name, source)


def parse_crop(body: bytes, sidecar: dict | bytes, source: str = "terrain") -> Crop:
    """A crop from its ``.img`` bytes and its sidecar (a dict, or the ``.json`` bytes)."""
    meta = sidecar if isinstance(sidecar, dict) else _sidecar_json(sidecar, source)
    if not body:
        raise DataError(source, "empty terrain file (0 bytes), not a MOLA crop")
    if body[:64].lstrip().startswith(b"<"):
        raise DataError(source, "got an HTML/XML page, not a MOLA crop; is the URL right?")
    ppd = meta.get("pixels_per_degree", PPD)
    if ppd != PPD:
        raise DataError(source, f"pixels_per_degree is {ppd!r}: only {PPD} px/deg MEGDR crops are read")
    encoding = str(meta.get("encoding", "big-endian int16")).lower()
    if "int16" not in encoding or "big-endian" not in encoding:
        raise DataError(source, f"encoding {meta.get('encoding')!r}: only big-endian int16 is read")
    bbox = _bbox(meta.get("bbox"), source)
    cols, rows = (bbox.max_lon - bbox.min_lon) * PPD, (bbox.max_lat - bbox.min_lat) * PPD
    if min(cols, rows) < 1 or abs(cols - round(cols)) > GRID or abs(rows - round(rows)) > GRID:
        raise DataError(source, f"bbox {bbox.as_sidecar()} is not a whole number of 1/{PPD} degree pixels")
    cols, rows = round(cols), round(rows)
    if (meta.get("width", cols), meta.get("height", rows)) != (cols, rows):
        raise DataError(
            source,
            f"bbox spans {cols} x {rows} pixels at {PPD} px/deg, but the sidecar says "
            f"{meta.get('width')} x {meta.get('height')}",
        )
    if len(body) != rows * cols * 2:
        raise DataError(
            source, f"bad crop size: {len(body):,} bytes, expected {rows} x {cols} x 2 = {rows * cols * 2:,}"
        )
    tile = meta.get("source_tile") if isinstance(meta.get("source_tile"), str) else None
    _placed(bbox, tile, source)
    return _crop(body, bbox, tile, source)


def _placed(bbox: BBox, tile: str | None, source: str) -> None:
    """DataError unless the edges are on the tiles' pixel grid and, when the sidecar names
    its tile, inside that tile."""
    corner = np.array([bbox.min_lon, bbox.max_lat]) * PPD
    if np.any(np.abs(corner - np.round(corner)) > GRID):
        raise DataError(source, f"bbox {bbox.as_sidecar()} is not on the 1/{PPD} degree pixel grid")
    if tile is not None:
        try:
            tile_read(bbox, tile)
        except DataError as exc:
            raise DataError(source, f"{exc.source}: {exc.problem}") from None


def _crop(body: bytes, bbox: BBox, tile: str | None, source: str) -> Crop:
    rows, cols = round((bbox.max_lat - bbox.min_lat) * PPD), round((bbox.max_lon - bbox.min_lon) * PPD)
    heights = np.frombuffer(body, dtype=">i2").reshape(rows, cols).astype(np.int16)
    low, high = int(heights.min()), int(heights.max())
    if low < HEIGHT_RANGE[0] or high > HEIGHT_RANGE[1]:
        raise DataError(source, f"heights {low}..{high} m are not Mars' (wrong byte order, or not MOLA topography?)")
    heights.setflags(write=False)
    return Crop(heights, bbox, tile, hashlib.sha256(body).hexdigest())


def _sidecar_json(body: bytes, source: str) -> dict:
    if not body:
        raise DataError(source, "empty sidecar (0 bytes), not JSON")
    if body.lstrip()[:1] == b"<":
        raise DataError(source, "sidecar is an HTML/XML page, not JSON")
    try:
        meta = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DataError(source, f"sidecar is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise DataError(source, f"sidecar is a JSON {type(meta).__name__}, not an object")
    return meta


def _bbox(raw: object, source: str) -> BBox:
    names = SIDECAR_BBOX
    if not isinstance(raw, dict) or not all(isinstance(raw.get(n), int | float) for n in names):
        raise DataError(source, f"sidecar has no usable bbox (numbers {', '.join(names)})")
    box = BBox(*(float(raw[n]) for n in names))
    if not (0 <= box.min_lon < box.max_lon <= 360 and -90 <= box.min_lat < box.max_lat <= 90):
        raise DataError(source, f"bbox {box.as_sidecar()} is not a lon 0..360 E, lat -90..90 box (min < max)")
    return box


def sample(crop: Crop, lon, lat) -> np.ndarray:
    """Heights (m) at the points, bilinear between pixel centres (the nearest edge pixels
    within half a pixel of the border); NaN outside the crop or for a missing position."""
    lon = np.mod(np.asarray(lon, dtype=float), 360.0)
    lat = np.asarray(lat, dtype=float)
    rows, cols = crop.shape
    box = crop.bbox
    inside = (lon >= box.min_lon) & (lon <= box.max_lon) & (lat >= box.min_lat) & (lat <= box.max_lat)
    x = np.clip(np.where(inside, (lon - box.min_lon) * PPD - 0.5, 0.0), 0, cols - 1)
    y = np.clip(np.where(inside, (box.max_lat - lat) * PPD - 0.5, 0.0), 0, rows - 1)
    x0, y0 = (
        np.minimum(np.floor(x).astype(int), max(cols - 2, 0)),
        np.minimum(np.floor(y).astype(int), max(rows - 2, 0)),
    )
    x1, y1 = np.minimum(x0 + 1, cols - 1), np.minimum(y0 + 1, rows - 1)
    fx, fy = x - x0, y - y0
    z = crop.heights.astype(float)
    top = z[y0, x0] * (1 - fx) + z[y0, x1] * fx
    bottom = z[y1, x0] * (1 - fx) + z[y1, x1] * fx
    return np.where(inside, top * (1 - fy) + bottom * fy, np.nan)


def along_track_m(lon, lat) -> np.ndarray:
    """Cumulative ground distance (m) along a track of points (a NaN point adds nothing)."""
    lon, lat = np.radians(np.asarray(lon, dtype=float)), np.radians(np.asarray(lat, dtype=float))
    if lon.size < 2:
        return np.zeros(lon.size)
    dx = np.diff(lon) * np.cos((lat[1:] + lat[:-1]) / 2)
    step = MARS_RADIUS_M * np.hypot(dx, np.diff(lat))
    return np.concatenate([[0.0], np.cumsum(np.nan_to_num(step))])
