"""The grid of NASA's MOLA MEGDR topography tiles at 128 pixels per degree.

The 128 px/deg tiles are 44 degrees of latitude by 90 of longitude: 5,632 rows x 11,520
columns of big-endian int16, north row first, with no header (PDS keeps each tile's label
in a separate ``.lbl`` file). A tile's name gives its north-west corner: ``megt44n000hb``
starts at 44 N, 0 E and covers 0-44 N, 0-90 E; ``megt00n090hb`` covers 44 S-0, 90-180 E;
``megt44s090hb`` covers 88 S-44 S, 90-180 E. Sixteen tiles cover 88 S to 88 N. Row ``r``
of a tile spans latitudes ``top - (r + 1) / 128`` to ``top - r / 128``; column ``c`` spans
longitudes ``west + c / 128`` to ``west + (c + 1) / 128``. Whole rows are contiguous bytes,
so the rows under a crop are one HTTP Range request (:func:`tile_read`). Pure code.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from dashboard.data.schema import DataError

PPD = 128
TILE_ROWS, TILE_COLS = 44 * PPD, 90 * PPD
ROW_BYTES = TILE_COLS * 2
TILE_BASE_URL = "https://pds-geosciences.wustl.edu/mgs/mgs-m-mola-5-megdr-l3-v1/mgsl_300x/meg128/"
_TILE_NAME = re.compile(r"^megt(\d\d)([ns])(\d\d\d)hb(\.img)?$", re.IGNORECASE)
#: pixels: how far off the 1/128 degree grid an edge may be
GRID = 1e-6
#: a crop sidecar's bbox fields, in BBox's order
SIDECAR_BBOX = ("minLon", "minLat", "maxLon", "maxLat")


@dataclass(frozen=True)
class BBox:
    """Outer edges of a raster, degrees (east-positive longitude, planetocentric latitude)."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def as_sidecar(self) -> dict:
        return dict(zip(SIDECAR_BBOX, (self.min_lon, self.min_lat, self.max_lon, self.max_lat), strict=True))


@dataclass(frozen=True)
class Tile:
    """One 128 px/deg MEGDR topography tile, by its north-west corner."""

    top_lat: int
    west_lon: int

    @property
    def name(self) -> str:
        return f"megt{abs(self.top_lat):02d}{'n' if self.top_lat >= 0 else 's'}{self.west_lon:03d}hb.img"

    @property
    def url(self) -> str:
        return TILE_BASE_URL + self.name

    @property
    def bbox(self) -> BBox:
        return BBox(self.west_lon, self.top_lat - 44, self.west_lon + 90, self.top_lat)


@dataclass(frozen=True)
class TileRead:
    """The whole rows ``row0 <= row < row1`` of a tile, of which columns ``col0..col1`` are kept."""

    tile: Tile
    row0: int
    row1: int
    col0: int
    col1: int

    @property
    def first_byte(self) -> int:
        return self.row0 * ROW_BYTES

    @property
    def last_byte(self) -> int:
        """Inclusive, as in an HTTP Range header."""
        return self.row1 * ROW_BYTES - 1

    @property
    def range_header(self) -> str:
        return f"bytes={self.first_byte}-{self.last_byte}"

    @property
    def bbox(self) -> BBox:
        t = self.tile
        return BBox(
            t.west_lon + self.col0 / PPD,
            t.top_lat - self.row1 / PPD,
            t.west_lon + self.col1 / PPD,
            t.top_lat - self.row0 / PPD,
        )


def tile_named(name: str) -> Tile:
    """The tile of a MEGDR name such as ``megt44n000hb.img``; DataError for another name."""
    match = _TILE_NAME.match(name.strip()) if isinstance(name, str) else None
    if match is None:
        raise DataError(str(name), "not the name of a 128 px/deg MEGDR topography tile (such as megt44n000hb.img)")
    top = int(match[1]) * (1 if match[2].lower() == "n" else -1)
    west = int(match[3])
    if top not in (88, 44, 0, -44) or west not in (0, 90, 180, 270):
        raise DataError(name, "no such 128 px/deg MEGDR tile (corners are 88N/44N/00N/44S and 000/090/180/270 E)")
    return Tile(top, west)


def tile_for(lon: float, lat: float) -> Tile:
    """The 128 px/deg tile holding the point (its north edge belongs to it)."""
    if not (-88.0 < lat <= 88.0):
        raise DataError(f"{lon}, {lat}", "latitude outside the 128 px/deg MEGDR tiles (88 S to 88 N)")
    top = 44 * math.ceil(lat / 44)
    west = 90 * math.floor((lon % 360.0) / 90)
    return Tile(int(top), int(west))


def window_around(lon: float, lat: float, size: int = 256) -> TileRead:
    """A ``size`` x ``size`` crop centred on the pixel corner nearest the point."""
    tile = tile_for(lon, lat)
    col = round(((lon % 360.0) - tile.west_lon) * PPD) - size // 2
    row = round((tile.top_lat - lat) * PPD) - size // 2
    if col < 0 or row < 0 or col + size > TILE_COLS or row + size > TILE_ROWS:
        raise DataError(tile.name, f"a {size}-pixel window around {lon}, {lat} crosses the tile's edge")
    return TileRead(tile, row, row + size, col, col + size)


def tile_read(bbox: BBox, tile: Tile | str | None = None) -> TileRead:
    """The rows and columns of ``tile`` (by default, the one holding the bbox) that a crop
    with these edges is made of; DataError when the edges are off the pixel grid or
    outside the tile."""
    if tile is None:
        tile = tile_for(bbox.min_lon, bbox.max_lat)
    elif isinstance(tile, str):
        tile = tile_named(tile)
    edges = np.array(
        [
            (tile.top_lat - bbox.max_lat) * PPD,
            (tile.top_lat - bbox.min_lat) * PPD,
            (bbox.min_lon - tile.west_lon) * PPD,
            (bbox.max_lon - tile.west_lon) * PPD,
        ]
    )
    if not np.all(np.isfinite(edges)) or np.any(np.abs(edges - np.round(edges)) > GRID):
        raise DataError(tile.name, f"bbox {bbox.as_sidecar()} is not on the 1/{PPD} degree pixel grid")
    row0, row1, col0, col1 = (int(v) for v in np.round(edges))
    if not (0 <= row0 < row1 <= TILE_ROWS and 0 <= col0 < col1 <= TILE_COLS):
        t = tile.bbox
        raise DataError(
            tile.name,
            f"bbox lon {bbox.min_lon}..{bbox.max_lon}, lat {bbox.min_lat}..{bbox.max_lat} lies outside the tile "
            f"(lon {t.min_lon}..{t.max_lon}, lat {t.min_lat}..{t.max_lat})",
        )
    return TileRead(tile, row0, row1, col0, col1)
