"""The API's schemas, as pydantic models: the requests it reads (query strings and JSON
bodies, one typed definition each, and how a request becomes one of them) and the answers
it gives. Both describe the API in ``/openapi.json`` (``dashboard/api/openapi.py``); the
routes build their answers' JSON directly, pre-serialised and cached (the schemathesis run
in tests/integration/test_api_schema.py checks the two agree).

Numbers are lax as the original tracker's README needs (``"0"`` works), through the one
parser of the app (:func:`dashboard.exports.request.whole` / ``finite``); unknown query
parameters and body fields are refused. Pydantic's own messages never reach a client:
:func:`explain` says each failure in the API's words.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, TypeVar

import orjson
from flask import request
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    create_model,
    field_validator,
)
from pydantic import model_validator as model_check

from dashboard.api.errors import ApiError
from dashboard.data.context_summary import STATUSES
from dashboard.data.ingenuity import FLIGHT_COLUMNS
from dashboard.data.samples import SAMPLE_COLUMNS
from dashboard.data.schema import WAYPOINT_COLUMNS
from dashboard.exports.request import (
    DEFAULT_FPS,
    DEFAULT_FRAMES,
    DEFAULT_VIDEO_SIZE,
    FORMATS,
    MAX_FPS,
    MAX_FRAMES,
    MAX_PX,
    MAX_REPLAY_SECONDS,
    MAX_SCALE,
    MAX_VIDEO_PX,
    MIN_FPS,
    MIN_FRAMES,
    MIN_PX,
    MIN_SCALE,
    MIN_VIDEO_PX,
    VIDEO_FORMATS,
    check_field,
    check_format,
    check_video_format,
    finite,
    whole,
)
from dashboard.figures import FIELDS
from dashboard.http import MAX_BODY, MAX_JSON_DEPTH, within_depth

# === requests =================================================================================

#: characters of an unknown parameter's name, and how many of them, an error repeats
SHOWN_NAME_CHARS, SHOWN_NAMES = 40, 5
#: characters of a Content-Type an error repeats
SHOWN_TYPE_CHARS = 60

_SOL = WithJsonSchema({"type": ["integer", "string"], "description": "a sol: a whole number or a numeric string"})
_QUERY_INT = WithJsonSchema({"type": "integer"})


def _absent(schema: dict[str, Any]) -> None:
    """An optional field whose absence means "the default" but whose schema has no null:
    the document names no ``default`` (``null`` would not fit the schema)."""
    schema.pop("default", None)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: what an unknown name is called in errors ("field", "query parameter")
    kind: ClassVar[str] = "field"

    @classmethod
    def allowed(cls) -> list[str]:
        return [f.alias or name for name, f in cls.model_fields.items()]


# --- query strings --------------------------------------------------------------------------


class NoQuery(_Model):
    """Routes that take no query parameter (a typo must not pass for a cache-busting one)."""

    kind: ClassVar[str] = "query parameter"


class RangeQuery(NoQuery):
    """A sol range: both ends optional, whole numbers (``13.0`` is 13)."""

    sol_min: Annotated[int | None, _QUERY_INT] = Field(
        None, description="first sol to include", json_schema_extra=_absent
    )
    sol_max: Annotated[int | None, _QUERY_INT] = Field(
        None, description="last sol to include", json_schema_extra=_absent
    )

    @field_validator("sol_min", "sol_max", mode="before")
    @classmethod
    def _whole(cls, value: Any, info: ValidationInfo) -> int | None:
        return None if value in (None, "") else whole(str(info.field_name), value)

    @model_check(mode="after")
    def _ordered(self) -> RangeQuery:
        if self.sol_min is not None and self.sol_max is not None and self.sol_min > self.sol_max:
            raise ValueError(f"sol range is reversed: sol_min {self.sol_min} is after sol_max {self.sol_max}")
        return self


class FeaturesQuery(RangeQuery):
    """``/perseverance``: the original's "skip N" (``start``), and a sol range."""

    start: Annotated[int, WithJsonSchema({"type": "integer", "minimum": 0})] = Field(0, description="skip the first N")

    @classmethod
    def allowed(cls) -> list[str]:
        return ["start", *super().allowed()[:-1]]  # as the route's help names them

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, value: Any) -> int:
        start = 0 if value in (None, "") else whole("start", value)
        if start < 0:
            raise ValueError(f"start must be 0 or more, not {start}")
        return start


# --- JSON bodies ----------------------------------------------------------------------------


class ExportBody(_Model):
    """An image export of a chart: the sols (``start``/``end``, the original tracker's names;
    absent: the whole dataset), the format and the size (absent or null: the chart's own)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"start": "0", "end": "400"}]})

    fmt: Annotated[str, WithJsonSchema({"type": "string", "enum": list(FORMATS), "default": "png"})] = Field(
        "png", alias="format"
    )
    sol_min: Annotated[int | None, _SOL] = Field(
        None, alias="start", description="first sol (absent: the data's first)", json_schema_extra=_absent
    )
    sol_max: Annotated[int | None, _SOL] = Field(
        None, alias="end", description="last sol (absent: the data's last)", json_schema_extra=_absent
    )
    width: Annotated[
        int | None,
        WithJsonSchema(
            {
                "type": ["integer", "null"],
                "minimum": MIN_PX,
                "maximum": MAX_PX,
                "description": "pixels; null or absent: the chart's default",
            }
        ),
    ] = None
    height: Annotated[
        int | None, WithJsonSchema({"type": ["integer", "null"], "minimum": MIN_PX, "maximum": MAX_PX})
    ] = None
    scale: Annotated[
        float | None,
        WithJsonSchema({"type": ["number", "null"], "minimum": MIN_SCALE, "maximum": MAX_SCALE, "default": 1}),
    ] = None

    @field_validator("fmt", mode="before")
    @classmethod
    def _format(cls, value: Any) -> str:
        return check_format(value)

    @field_validator("sol_min", "sol_max", mode="before")
    @classmethod
    def _sol(cls, value: Any, info: ValidationInfo) -> int:
        name = str(info.field_name)
        return whole(cls.model_fields[name].alias or name, value)  # an explicit null is not a sol

    @field_validator("width", "height", mode="before")
    @classmethod
    def _pixels(cls, value: Any, info: ValidationInfo) -> int | None:
        return None if value in (None, "") else whole(str(info.field_name), value)

    @field_validator("scale", mode="before")
    @classmethod
    def _scale(cls, value: Any) -> float | None:
        return None if value in (None, "") else finite("scale", value)


class JobBody(ExportBody):
    """An image of any numeric waypoint field against another (``type`` "way")."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"type": "way", "xkey": "lon", "ykey": "yaw", "start": 0, "end": 400}]}
    )

    type: Annotated[str, WithJsonSchema({"type": "string", "enum": ["way"], "default": "way"})] = "way"
    xkey: Annotated[str, WithJsonSchema({"type": "string", "enum": list(FIELDS)})]
    ykey: Annotated[str, WithJsonSchema({"type": "string", "enum": list(FIELDS)})]

    @classmethod
    def allowed(cls) -> list[str]:
        return ExportBody.allowed()  # type, xkey and ykey are named in their own errors

    @model_check(mode="before")
    @classmethod
    def _kind_first(cls, body: Any) -> Any:
        kind = body.get("type", "way") if isinstance(body, dict) else "way"
        if kind != "way":
            raise ValueError(f"unknown type {kind!r}; allowed: way (waypoint fields)")
        for name in ("xkey", "ykey"):
            if isinstance(body, dict) and name not in body:
                raise ValueError(f"{name} is required; allowed: {', '.join(FIELDS)}")
        return body

    @field_validator("xkey", "ykey", mode="before")
    @classmethod
    def _field(cls, value: Any, info: ValidationInfo) -> str:
        return check_field(str(info.field_name), value)


# --- reading a request ----------------------------------------------------------------------

M = TypeVar("M", bound=_Model)


def explain(exc: ValidationError, model: type[_Model] | None = None) -> str:
    """One failure of ``exc`` in the API's words: unknown names first (all of them), then
    the first field's own message (the app's number and format checks say it in words)."""
    errors = exc.errors()
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden" and e["loc"])
    if unknown:
        return _unknown(unknown, model)
    first = errors[0]
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, Exception):
        return str(cause)
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def _unknown(names: list[str], model: type[_Model] | None) -> str:
    if model is None:
        return f"unknown field(s) {', '.join(n[:SHOWN_NAME_CHARS] for n in names[:SHOWN_NAMES])}"
    if model.kind == "field":
        return f"unknown field(s) {', '.join(names)}; allowed: {', '.join(sorted(model.allowed()))}"
    shown = ", ".join(n[:SHOWN_NAME_CHARS] for n in names[:SHOWN_NAMES])
    return f"unknown {model.kind}(s) {shown}; allowed: {', '.join(model.allowed()) or 'none'}"


def parse_query(model: type[M]) -> M:
    """The request's query string as ``model`` (ApiError 400 in words when it does not fit)."""
    try:
        return model.model_validate({name: request.args.get(name) for name in request.args})
    except ValidationError as exc:
        raise ApiError(400, explain(exc, model)) from None


def json_object() -> dict:
    """The request's JSON object. Only ``Content-Type: application/json`` is read (415
    otherwise): a cross-site HTML form can send text/plain, form or multipart bodies
    without a preflight, but not JSON. An empty body is an empty object."""
    if request.mimetype != "application/json":
        shown = (request.mimetype or "none")[:SHOWN_TYPE_CHARS]
        raise ApiError(415, f"send the body as JSON with Content-Type: application/json, not {shown!r}")
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY:
        raise ApiError(413, f"request body is over {MAX_BODY:,} bytes")
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"body is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"body must be a JSON object, not a JSON {type(body).__name__}")
    if not within_depth(body):
        raise ApiError(400, f"body nests deeper than {MAX_JSON_DEPTH} levels")
    return body


def parse_body(model: type[M]) -> M:
    """The request's JSON body as ``model`` (ApiError 415/413/400 in words otherwise)."""
    try:
        return model.model_validate(json_object())
    except ValidationError as exc:
        raise ApiError(400, explain(exc, model)) from None


# === answers ==================================================================================

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


_CONTEXT_SUMMARY = (
    "the optional {} layer: status (ok, stale: the previous copy kept, missing, off), source, rows, sols; "
    "error and problem when it could not be read"
)


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
    ingenuity: dict[str, Any] | None = Field(None, description=_CONTEXT_SUMMARY.format("Ingenuity flight"))
    samples: dict[str, Any] | None = Field(None, description=_CONTEXT_SUMMARY.format("sample-tube"))
    terrain: dict[str, Any] | None = Field(None, description=_CONTEXT_SUMMARY.format("terrain"))


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
    # the optional context layers (models at the end of this module)
    ingenuity: ContextLayerNow | None = None
    samples: ContextLayerNow | None = None
    terrain: ContextLayerNow | None = None


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


# --- what changed (dashboard/api/feed_routes.py) ------------------------------------------------

#: how many changes /perseverance/changes lists by default, and at most
CHANGES_DEFAULT, CHANGES_MAX = 20, 100


class ChangesQuery(NoQuery):
    """``/perseverance/changes``: how many of the newest changes."""

    limit: Annotated[int, WithJsonSchema({"type": "integer", "minimum": 1, "maximum": CHANGES_MAX})] = Field(
        CHANGES_DEFAULT, description=f"how many changes, newest first (1..{CHANGES_MAX}; default {CHANGES_DEFAULT})"
    )

    @field_validator("limit", mode="before")
    @classmethod
    def _limit(cls, value: Any) -> int:
        limit = CHANGES_DEFAULT if value in (None, "") else whole("limit", value)
        if not 1 <= limit <= CHANGES_MAX:
            raise ValueError(f"limit must be 1..{CHANGES_MAX}, not {limit}")
        return limit


class ChangePosition(BaseModel):
    sol: int = Field(description="the newest sol of any layer")
    earth_date: str | None = None
    lon: float
    lat: float
    elev_geoid_m: float | None = None
    layer: Layer | None = Field(None, description="the layer the position comes from")
    rmc: str | None = None


class Change(BaseModel):
    """What one dataset version changed on the rover's track."""

    version: str = Field(description="the dataset version that brought the change")
    previous_version: str | None = Field(None, description="the version before it (null: the first version)")
    first: bool = Field(description="the first version loaded: everything is new, nothing is compared")
    sol_min: int = Field(description="first sol the change is about (the page shows /?sol_min=&sol_max=)")
    sol_max: int = Field(description="last sol the change is about")
    new_sols: int = Field(description="sols of any layer that were not in the previous version")
    new_waypoints: int
    new_legs: int = Field(description="new traverse legs")
    distance_m: float | None = Field(
        None, description="metres driven since the previous version: the new legs' length, else the odometry's growth"
    )
    elevation_change_m: float | None = Field(None, description="the newest position's elevation change (m)")
    newest: ChangePosition
    layers_changed: list[Layer] = Field(description="the layers whose content changed")
    data_changed_at: str | None = Field(
        None, description="when NASA's data changed: the changed layers' Last-Modified, else when they were fetched"
    )
    loaded_at: str | None = None


class LiveVersion(BaseModel):
    """``/perseverance/version``: what an open page polls to learn of new data."""

    version: str | None = Field(description="the current dataset version (null: none loaded yet)")
    sol: int | None = Field(description="the newest sol of any layer")
    odometry_m: float | None = Field(description="odometry at that sol (m)")
    loaded_at: str | None = Field(description="when the current version was loaded (UTC)")
    checked_at: str | None = Field(description="the latest load attempt (UTC), whatever its outcome")
    failing_since: str | None = Field(
        description="while loads fail: since when (UTC), when the load record says; else null"
    )
    error: str | None = Field(description="while loads fail: the latest failure in words; else null")


# --- the context layers: Ingenuity's flights, the sample tubes, the terrain ----------------


class ContextLayerNow(BaseModel):
    """A context layer's freshness: ok (read at the last load), stale (the last load could
    not read it: the previous copy is served), missing (none), off (not configured)."""

    status: Literal[STATUSES]  # type: ignore[valid-type]
    source: str | None = None
    sol_max: int | None = Field(None, description="the last sol it covers (flights, samples)")
    problem: str | None = Field(None, description="why the last load could not read it")
    text: str = Field(description="its state in words")


def _context_column(dtype: str) -> tuple[Any, Any]:
    if dtype == "datetime64[s]":
        return str | None, Field(None, json_schema_extra={"format": "date"})
    if dtype == "Int64":
        return int | None, None
    return _column(dtype)


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


# --- the replay of the drive (a request body) --------------------------------------------------

_VIDEO_PX = {"type": ["integer", "null"], "minimum": MIN_VIDEO_PX, "maximum": MAX_VIDEO_PX}


class ReplayBody(_Model):
    """A replay of the drive: the traverse map drawn sol by sol as a video. ``start``/``end``
    are the sols (absent: the whole timeline of the layers); ``frames`` are shown at ``fps``
    a second, so the clip lasts frames/fps seconds (at most 60)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"start": 13, "end": 400, "format": "mp4", "frames": 120, "fps": 12}]}
    )

    fmt: Annotated[str, WithJsonSchema({"type": "string", "enum": list(VIDEO_FORMATS), "default": "mp4"})] = Field(
        "mp4", alias="format"
    )
    sol_min: Annotated[int | None, _SOL] = Field(
        None, alias="start", description="first sol (absent: the timeline's first)", json_schema_extra=_absent
    )
    sol_max: Annotated[int | None, _SOL] = Field(
        None, alias="end", description="last sol (absent: the timeline's last)", json_schema_extra=_absent
    )
    frames: Annotated[
        int,
        WithJsonSchema({"type": "integer", "minimum": MIN_FRAMES, "maximum": MAX_FRAMES, "default": DEFAULT_FRAMES}),
    ] = DEFAULT_FRAMES
    fps: Annotated[
        int,
        WithJsonSchema(
            {
                "type": "integer",
                "minimum": MIN_FPS,
                "maximum": MAX_FPS,
                "default": DEFAULT_FPS,
                "description": f"frames a second; frames/fps is at most {MAX_REPLAY_SECONDS} s",
            }
        ),
    ] = DEFAULT_FPS
    width: Annotated[
        int | None,
        WithJsonSchema(
            {
                **_VIDEO_PX,
                "description": f"pixels; absent: {DEFAULT_VIDEO_SIZE[0]}x{DEFAULT_VIDEO_SIZE[1]}; "
                "MP4 and WebM round an odd size down to even",
            }
        ),
    ] = None
    height: Annotated[int | None, WithJsonSchema(_VIDEO_PX)] = None

    @field_validator("fmt", mode="before")
    @classmethod
    def _format(cls, value: Any) -> str:
        return check_video_format(value)

    @field_validator("sol_min", "sol_max", mode="before")
    @classmethod
    def _sol(cls, value: Any, info: ValidationInfo) -> int:
        name = str(info.field_name)
        return whole(cls.model_fields[name].alias or name, value)

    @field_validator("frames", "fps", mode="before")
    @classmethod
    def _count(cls, value: Any, info: ValidationInfo) -> int:
        return whole(str(info.field_name), value)

    @field_validator("width", "height", mode="before")
    @classmethod
    def _pixels(cls, value: Any, info: ValidationInfo) -> int | None:
        return None if value in (None, "") else whole(str(info.field_name), value)
