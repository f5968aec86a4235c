"""The requests the API takes, one typed definition each (pydantic), and how a request's
query string or JSON body becomes one of them.

Numbers are lax as the original tracker's README needs (``"0"`` works), through the one
parser of the app (:func:`dashboard.exports.whole` / :func:`~dashboard.exports.finite`);
unknown query parameters and body fields are refused. Pydantic's own messages never
reach a client: :func:`explain` says each failure in the API's words. The same models
describe the requests in ``/openapi.json`` (``dashboard/api/docs.py``).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, TypeVar

import orjson
from flask import request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, WithJsonSchema, field_validator
from pydantic import model_validator as model_check

from dashboard.api.responses import ApiError
from dashboard.exports import FORMATS, MAX_PX, MAX_SCALE, MIN_PX, MIN_SCALE, check_field, check_format, finite, whole
from dashboard.figures import FIELDS

#: the largest JSON body an API route reads (Dash's callbacks have their own, page/guard.py)
MAX_BODY = 64 * 1024
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
    return body


def parse_body(model: type[M]) -> M:
    """The request's JSON body as ``model`` (ApiError 415/413/400 in words otherwise)."""
    try:
        return model.model_validate(json_object())
    except ValidationError as exc:
        raise ApiError(400, explain(exc, model)) from None
