"""The export routes' schemas (``dashboard/api/export_routes.py``): the JSON bodies of an
image export (``ExportBody``, ``JobBody``) and of a replay video (``ReplayBody``), and the
answers about a queued export (``Accepted``, ``Job``, ``ListedJob``). Read and explained
like every request, through :mod:`dashboard.api.schemas`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, WithJsonSchema, field_validator
from pydantic import model_validator as model_check

from dashboard.api.schemas import SOL_SCHEMA, RequestModel, RoverName, not_required
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

# --- the requests ------------------------------------------------------------------------------


class ExportBody(RequestModel):
    """An image export of a chart: the sols (``start``/``end``, the original tracker's names;
    absent: the whole dataset), the format and the size (absent or null: the chart's own)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"start": "0", "end": "400"}]})

    fmt: Annotated[str, WithJsonSchema({"type": "string", "enum": list(FORMATS), "default": "png"})] = Field(
        "png", alias="format"
    )
    sol_min: Annotated[int | None, SOL_SCHEMA] = Field(
        None, alias="start", description="first sol (absent: the data's first)", json_schema_extra=not_required
    )
    sol_max: Annotated[int | None, SOL_SCHEMA] = Field(
        None, alias="end", description="last sol (absent: the data's last)", json_schema_extra=not_required
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
    rover: RoverName = Field(
        None, description="whose waypoints (default: perseverance)", json_schema_extra=not_required
    )

    @classmethod
    def allowed(cls) -> list[str]:
        return [*ExportBody.allowed(), "rover"]  # type, xkey and ykey are named in their own errors

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


# --- the answers -------------------------------------------------------------------------------


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


# --- the replay of the drive (a request body) --------------------------------------------------

_VIDEO_PX = {"type": ["integer", "null"], "minimum": MIN_VIDEO_PX, "maximum": MAX_VIDEO_PX}


class ReplayBody(RequestModel):
    """A replay of the drive: the traverse map drawn sol by sol as a video. ``start``/``end``
    are the sols (absent: the whole timeline of the layers); ``frames`` are shown at ``fps``
    a second, so the clip lasts frames/fps seconds (at most 60)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"start": 13, "end": 400, "format": "mp4", "frames": 120, "fps": 12}]}
    )

    fmt: Annotated[str, WithJsonSchema({"type": "string", "enum": list(VIDEO_FORMATS), "default": "mp4"})] = Field(
        "mp4", alias="format"
    )
    sol_min: Annotated[int | None, SOL_SCHEMA] = Field(
        None, alias="start", description="first sol (absent: the timeline's first)", json_schema_extra=not_required
    )
    sol_max: Annotated[int | None, SOL_SCHEMA] = Field(
        None, alias="end", description="last sol (absent: the timeline's last)", json_schema_extra=not_required
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
