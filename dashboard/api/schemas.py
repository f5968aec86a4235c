"""The API's schemas, as pydantic models: the requests it reads (query strings and JSON
bodies, one typed definition each, and how a request becomes one of them) and the answers
it gives. Both describe the API in ``/openapi.json`` (``dashboard/api/openapi.py``); the
routes build their answers' JSON directly, pre-serialised and cached (the schemathesis run
in tests/integration/test_api_schema.py checks the two agree).

Numbers are lax as the original tracker's README needs (``"0"`` works), through the one
parser of the app (:func:`dashboard.exports.request.whole` / ``finite``); unknown query
parameters and body fields are refused. Pydantic's own messages never reach a client:
:func:`explain` says each failure in the API's words.

This module holds what every route shares (the request models' base and reading, the data
answers, health, "now"); each feature's own schemas live beside it:
:mod:`~dashboard.api.export_schemas` (exports and replays),
:mod:`~dashboard.api.changes_schemas` (the changes and the live page's version) and
:mod:`~dashboard.api.context_schemas` (flights, sample tubes, terrain).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, TypeVar

import orjson
from flask import request
from pydantic import (
    BaseModel,
    BeforeValidator,
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
from dashboard.data.schema import WAYPOINT_COLUMNS
from dashboard.exports.request import (
    whole,
)
from dashboard.http import MAX_BODY, MAX_JSON_DEPTH, within_depth
from dashboard.rovers import ROVERS

# === requests =================================================================================

#: characters of an unknown parameter's name, and how many of them, an error repeats
SHOWN_NAME_CHARS, SHOWN_NAMES = 40, 5
#: characters of a Content-Type an error repeats
SHOWN_TYPE_CHARS = 60

SOL_SCHEMA = WithJsonSchema({"type": ["integer", "string"], "description": "a sol: a whole number or a numeric string"})
_QUERY_INT = WithJsonSchema({"type": "integer"})


def not_required(schema: dict[str, Any]) -> None:
    """An optional field whose absence means "the default" but whose schema has no null:
    the document names no ``default`` (``null`` would not fit the schema)."""
    schema.pop("default", None)


class RequestModel(BaseModel):
    """A request the API reads (a query string or a JSON body): unknown names are refused."""

    model_config = ConfigDict(extra="forbid")
    #: what an unknown name is called in errors ("field", "query parameter")
    kind: ClassVar[str] = "field"

    @classmethod
    def allowed(cls) -> list[str]:
        return [f.alias or name for name, f in cls.model_fields.items()]


# --- query strings --------------------------------------------------------------------------


class NoQuery(RequestModel):
    """Routes that take no query parameter (a typo must not pass for a cache-busting one)."""

    kind: ClassVar[str] = "query parameter"


def _rover_name(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().lower() in ROVERS:
        return value.strip().lower()
    raise ValueError(f"unknown rover {value!r}; the rovers are {', '.join(ROVERS)}")


#: a rover's name (``dashboard.rovers``), refused in the API's words; absent: Perseverance
RoverName = Annotated[
    str | None, BeforeValidator(_rover_name), WithJsonSchema({"type": "string", "enum": list(ROVERS)})
]


class LoadQuery(NoQuery):
    """POST /load: which rover's layers (default Perseverance)."""

    rover: RoverName = Field(
        None, description="the rover whose layers to load (default: perseverance)", json_schema_extra=not_required
    )


class RangeQuery(NoQuery):
    """A sol range: both ends optional, whole numbers (``13.0`` is 13)."""

    sol_min: Annotated[int | None, _QUERY_INT] = Field(
        None, description="first sol to include", json_schema_extra=not_required
    )
    sol_max: Annotated[int | None, _QUERY_INT] = Field(
        None, description="last sol to include", json_schema_extra=not_required
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


# --- reading a request ----------------------------------------------------------------------

M = TypeVar("M", bound=RequestModel)


def explain(exc: ValidationError, model: type[RequestModel] | None = None) -> str:
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


def _unknown(names: list[str], model: type[RequestModel] | None) -> str:
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
    dataset: str = Field(
        description="Perseverance's (or the first rover served): 'version N', 'none loaded', "
        "or unknown while Redis is unreachable"
    )
    datasets: dict[str, str] | None = Field(None, description="each served rover's, by name")
    version_watch: str | None = Field(
        None,
        description="'live' while this process hears of new dataset versions from Redis (and reads the "
        "current version from memory), else why not (it then reads Redis on every request)",
    )


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
def column_field(dtype: str) -> tuple[Any, Any]:
    """(type, default): never-missing columns (ints, flags) are required, the rest nullable."""
    kind = _column_type(dtype)
    return (kind, ...) if kind in (int, bool) else (kind, None)


_COLUMNS: dict[str, Any] = {name: column_field(dtype) for name, dtype in WAYPOINT_COLUMNS.items()}
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


class Document(BaseModel):
    """An OpenAPI 3 document."""

    model_config = ConfigDict(extra="allow")
    openapi: str


# --- the context layers: Ingenuity's flights, the sample tubes, the terrain ----------------


class ContextLayerNow(BaseModel):
    """A context layer's freshness: ok (read at the last load), stale (the last load could
    not read it: the previous copy is served), missing (none), off (not configured)."""

    status: Literal[STATUSES]  # type: ignore[valid-type]
    source: str | None = None
    sol_max: int | None = Field(None, description="the last sol it covers (flights, samples)")
    problem: str | None = Field(None, description="why the last load could not read it")
    text: str = Field(description="its state in words")
