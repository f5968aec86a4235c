"""The context layers' answers (``dashboard/api/context_routes.py``): Ingenuity's flights,
the sample tubes and the terrain. (A layer's freshness in "now", ``ContextLayerNow``, is
part of :mod:`dashboard.api.schemas`.)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from dashboard.api.schemas import column_field
from dashboard.data.context_summary import STATUSES
from dashboard.data.ingenuity import FLIGHT_COLUMNS
from dashboard.data.samples import SAMPLE_COLUMNS


def _context_column(dtype: str) -> tuple[Any, Any]:
    if dtype == "datetime64[s]":
        return str | None, Field(None, json_schema_extra={"format": "date"})
    if dtype == "Int64":
        return int | None, None
    return column_field(dtype)


_FLIGHT_FIELDS: dict[str, Any] = {name: _context_column(dtype) for name, dtype in FLIGHT_COLUMNS.items()}
_TUBE_FIELDS: dict[str, Any] = {name: _context_column(dtype) for name, dtype in SAMPLE_COLUMNS.items()}
#: one flight (flight 0: the deployment point), as /ingenuity/flights answers it
Flight = create_model("Flight", **_FLIGHT_FIELDS)
#: one sample tube (a site where two were filled is two rows), as /perseverance/samples answers it
SampleTube = create_model("SampleTube", **_TUBE_FIELDS)


class TerrainImage(BaseModel):
    url: str = Field(description="the shaded relief PNG; its name is its fingerprint, so it never changes")
    fingerprint: str
    width: int
    height: int
    colorscale: str = Field(description="plotly's name of the colour ramp, from height_min_m to height_max_m")
    exaggeration: float = Field(description="how much the heights are exaggerated in the hillshade")


class TerrainScale(BaseModel):
    km_per_degree_lon: float = Field(description="at the crop's middle latitude")
    km_per_degree_lat: float
    width_km: float
    height_km: float
    metres_per_pixel: float = Field(description="north-south")


class Terrain(BaseModel):
    dataset_version: str
    terrain_version: str = Field(description="fingerprint of the heights and where they lie")
    status: Literal[STATUSES]  # type: ignore[valid-type]
    source: str | None = None
    source_tile: str | None = None
    bbox: dict[str, float] = Field(description="outer edges: minLon, minLat, maxLon, maxLat (degrees)")
    pixels_per_degree: int
    width: int
    height: int
    height_min_m: float = Field(description="metres above the MOLA areoid")
    height_max_m: float
    image: TerrainImage
    scale: TerrainScale
    attribution: str
