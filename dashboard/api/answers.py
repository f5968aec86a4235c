"""What the API answers, as pydantic models: they describe the answers in
``/openapi.json`` (the routes build their JSON directly, pre-serialised and cached; the
schemathesis run in tests/integration/test_api_schema.py checks they agree)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model

from dashboard.data.schema import WAYPOINT_COLUMNS

Layer = Literal["waypoints", "current", "traverse"]


class Error(BaseModel):
    """Every error: the reason in words; some carry more (allowed, retry_after, status...)."""

    model_config = ConfigDict(extra="allow")
    error: str


class HealthChecks(BaseModel):
    process: Literal["ok"] = "ok"


class Health(BaseModel):
    status: Literal["ok"]
    checks: HealthChecks


class ReadinessChecks(BaseModel):
    app: Literal["ok"]
    redis: Literal["ok", "unreachable"]
    dataset: str = Field(description="'version N', 'none loaded', or unknown while Redis is unreachable")


class Readiness(BaseModel):
    status: Literal["ready"]
    checks: ReadinessChecks


class LoadSummary(BaseModel):
    status: Literal["loaded", "unchanged"] | None = None
    version: str | None = None
    loaded_at: str | None = None
    sha256: str | None = None
    seconds: float | None = None
    waypoints: dict[str, Any] | None = None
    traverse: dict[str, Any] | None = None
    current: dict[str, Any] | None = Field(
        None,
        description="the optional current-position layer: status (newer, same, older, unavailable, off), sol, rmc, "
        "source; kept: true when a previous position was kept; error when it could not be read",
    )


def _column_type(dtype: str) -> Any:
    if dtype == "int64":
        return int
    if dtype == "bool":
        return bool
    if dtype == "str":
        return str | None
    return float | None


#: a waypoint's properties: the normalised columns (missing values null)
def _column(dtype: str) -> tuple[Any, Any]:
    """(type, default): never-missing columns (ints, flags) are required, the rest nullable."""
    kind = _column_type(dtype)
    return (kind, ...) if kind in (int, bool) else (kind, None)


_COLUMNS: dict[str, Any] = {name: _column(dtype) for name, dtype in WAYPOINT_COLUMNS.items()}
WaypointProperties = create_model("WaypointProperties", **_COLUMNS)


class Point(BaseModel):
    type: Literal["Point"]
    coordinates: list[float] = Field(min_length=2, max_length=3, description="[lon, lat] or [lon, lat, elevation]")


class Feature(BaseModel):
    type: Literal["Feature"]
    properties: Annotated[dict[str, Any], WithJsonSchema(WaypointProperties.model_json_schema())]
    geometry: Point


class Sol(BaseModel):
    sol: int
    earth_date: str


class Orientation(BaseModel):
    sol: int
    yaw_rad: float | None
    pitch: float | None
    roll: float | None


class Position(BaseModel):
    sol: int
    lon: float
    lat: float


class LayerEnd(BaseModel):
    sol_max: int | None = None
    source: str | None = None


class CurrentLayer(BaseModel):
    sol: int | None = None
    source: str | None = None
    status: Literal["newer", "same", "older", "unavailable", "off"] | None = None


class Layers(BaseModel):
    waypoints: LayerEnd | None = None
    traverse: LayerEnd | None = None
    current: CurrentLayer | None = None


class Now(BaseModel):
    sol: int = Field(description="the newest sol of any layer")
    earth_date: str = Field(description="UTC date on which that sol began", json_schema_extra={"format": "date"})
    sol_start_utc: str | None = None
    ago: str | None = Field(None, description="how long ago that sol began, in words")
    layer: Layer = Field(description="the layer the position comes from")
    rmc: str | None = Field(None, description="site_drive (null when from the traverse)")
    lon: float
    lat: float
    elev_geoid_m: float | None = None
    odometry_km: float | None = None
    odometry_m: float | None = None
    odometry_from: Layer | None = Field(None, description="'traverse': the legs' cumulative length")
    layers: Layers
    loaded_at: str | None = None
    dataset_version: str | None = None


class Accepted(BaseModel):
    id: str
    status: str
    status_url: str
    download_url: str
    chart: str | None = None
    params: dict[str, Any] | None = None


class Job(BaseModel):
    id: str
    status: str
    chart: str | None = None
    params: dict[str, Any] | None = None
    stage: str | None = None
    progress: float | None = None
    created_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    error: str | None = None
    filename: str | None = None
    retries_left: int | None = None


class ListedJob(BaseModel):
    """An export as ``/jobs/list`` shows it."""

    id: str
    status: str
    chart: str | None = None
    stage: str | None = None
    progress: float | None = None
    created_at: str | None = None
    ended_at: str | None = None
    error: str | None = None
    filename: str | None = None
    format: str | None = None
    sol_min: int | None = None
    sol_max: int | None = None


class Document(BaseModel):
    """An OpenAPI 3 document."""

    model_config = ConfigDict(extra="allow")
    openapi: str
