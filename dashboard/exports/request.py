"""What an export is: the request, checked and normalised before anything is queued.

:class:`ExportRequest` is the whole contract between the web side and the worker: made by
:func:`validate` once, stored as the job's JSON (:meth:`ExportRequest.to_json`) and read
back by the job (:meth:`ExportRequest.from_json`).

Numbers are parsed here once (:func:`whole`, :func:`finite`) for the whole app: the
export parameters, the REST bodies and query strings (``dashboard/api/*schemas.py``) all
accept JSON numbers and numeric strings (``"0"``), and refuse the rest in the same words.

A map selection is stored once, as a bitmask over the waypoints of the dataset version it
refers to (:func:`encode_selection`), after every name has been checked against that
version.

A replay of the drive (chart :data:`REPLAY`: an MP4, GIF or WebM of the traverse map
drawn sol by sol) is an export too: the same request with its ``frames`` and ``fps``,
checked by the same :func:`validate` against its own limits (:func:`check_replay`).
"""

from __future__ import annotations

import base64
import hashlib
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import orjson

from dashboard.exports.errors import ExportError
from dashboard.figures import BUILDERS, EXPORT_ONLY, FIELDS, MAP_POINT_BUDGET, TITLES
from dashboard.rovers import DEFAULT_ROVER, ROVERS

FORMATS = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
DEFAULT_SIZE = {"map": (1000, 800), "orientation": (1200, 700), "position": (1200, 650)}
FALLBACK_SIZE = (1200, 600)
MIN_PX, MAX_PX = 300, 4000  # below ~250 px a chart's titles, legend and margins leave no plot (kaleido: "axis scaling")
MIN_SCALE, MAX_SCALE = 0.25, 4.0
MAX_OUTPUT_PIXELS = 36_000_000  # width*scale x height*scale
MAX_SELECTION = MAP_POINT_BUDGET  # the map shows (and so can select) at most this many waypoints
#: digits a scale keeps (the job id hashes it: 1.00001 and 1 are one export)
SCALE_DIGITS = 4
#: characters of a job id's hash
JOB_ID_HASH_CHARS = 20
CHARTS = [*BUILDERS, *EXPORT_ONLY]

#: the replay of the drive: an animation of the traverse map, sol by sol
REPLAY = "replay"
VIDEO_FORMATS = {"mp4": "video/mp4", "gif": "image/gif", "webm": "video/webm"}
#: formats whose frames are yuv420p: width and height are rounded down to even numbers
EVEN_SIZE_FORMATS = ("mp4", "webm")
#: what a file of each format is served as (GET /download)
CONTENT_TYPES = {**FORMATS, **VIDEO_FORMATS}
MIN_FRAMES, MAX_FRAMES, DEFAULT_FRAMES = 2, 600, 120
MIN_FPS, MAX_FPS, DEFAULT_FPS = 1, 30, 12
#: the longest replay (frames / fps), in seconds
MAX_REPLAY_SECONDS = 60
MIN_VIDEO_PX, MAX_VIDEO_PX = 300, 1920
DEFAULT_VIDEO_SIZE = (1280, 720)
#: a replay counts against the export rate limit as one export per this many frames
#: (rounded up: 120 frames count as 4): drawing a frame costs about what drawing a chart does
FRAMES_PER_RATE_HIT = 30
#: fields only a replay has; a chart's request leaves them out of its JSON (and so of its id)
REPLAY_FIELDS = ("frames", "fps")
#: fields left out of the JSON (and so of the job id) when None: the replay's, and the
#: rover (None: Perseverance, whose requests keep the ids they always had)
OPTIONAL_FIELDS = (*REPLAY_FIELDS, "rover")


# ---------------------------------------------------------------------------------------
# numbers: JSON numbers or numeric strings, in one set of words


def _float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ExportError(f"{name} must be a number, not {value!r}")
    if isinstance(value, str):
        value = value.strip()
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ExportError(f"{name} must be a number, not {value!r}") from None


def whole(name: str, value: Any) -> int:
    """``value`` as an int: a whole JSON number or numeric string ("13", "13.0", "1e3");
    ExportError (a ValueError) naming ``name`` otherwise."""
    number = _float(name, value)
    if not math.isfinite(number) or number != int(number):
        shown = value.strip() if isinstance(value, str) else value
        raise ExportError(f"{name} must be a whole number, not {shown!r}")
    return int(number)


def finite(name: str, value: Any) -> float:
    """``value`` as a finite float (a JSON number or numeric string)."""
    number = _float(name, value)
    if not math.isfinite(number):
        raise ExportError(f"{name} must be a finite number")
    return number


# ---------------------------------------------------------------------------------------
# the map selection: names checked against a dataset version, stored as a bitmask


def selection_names(waypoints) -> list[str]:
    """The selectable names of a dataset version, in a fixed order (the mask's bits)."""
    return list(dict.fromkeys(str(r) for r in waypoints["rmc"].tolist()))


def _mask_bytes(names: list[str]) -> int:
    return (len(names) + 7) // 8


def encode_selection(picked, names: list[str]) -> str:
    """The picked names as a base64 bitmask over ``names``; ExportError naming the first
    unknown ones if any is not in the dataset."""
    index = {name: i for i, name in enumerate(names)}
    unknown = [p for p in picked if p not in index]
    if unknown:
        shown = ", ".join(repr(u[:40]) for u in unknown[:3])
        raise ExportError(f"selection names {len(unknown):,} waypoint(s) not in this dataset, such as {shown}")
    bits = bytearray(_mask_bytes(names))
    for name in picked:
        i = index[name]
        bits[i // 8] |= 0x80 >> (i % 8)
    return base64.b64encode(bytes(bits)).decode()


def decode_selection(mask: str, names: list[str]) -> list[str]:
    try:
        bits = base64.b64decode(mask.encode(), validate=True)
    except (ValueError, AttributeError):
        raise ExportError("the stored selection is not a valid mask") from None
    if len(bits) != _mask_bytes(names):
        raise ExportError("the stored selection does not fit this dataset version")
    return [name for i, name in enumerate(names) if bits[i // 8] & (0x80 >> (i % 8))]


def selected_count(mask: str | None) -> int:
    if not mask:
        return 0
    return sum(bin(b).count("1") for b in base64.b64decode(mask.encode()))


@dataclass(frozen=True)
class ExportRequest:
    chart: str
    sol_min: int
    sol_max: int
    fmt: str = "png"
    width: int = 1200
    height: int = 600
    scale: float = 1.0
    selection: str | None = None  # the map selection: a bitmask (encode_selection) over the version's names
    xkey: str | None = None  # chart "xy": the fields on x and y
    ykey: str | None = None
    frames: int | None = None  # chart "replay": how many frames, shown at fps frames a second
    fps: int | None = None
    rover: str | None = None  # whose dataset (``dashboard.rovers``); None: Perseverance

    def to_json(self) -> dict:
        """The request as plain JSON values: what the job stores and reads back (a chart's
        without the replay's fields, Perseverance's without the rover, so its job id is the
        one it always had)."""
        return {k: v for k, v in asdict(self).items() if v is not None or k not in OPTIONAL_FIELDS}

    @classmethod
    def from_json(cls, data: object) -> ExportRequest:
        """The request a job stored (:meth:`to_json`); ExportError if it is not one."""
        names = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or not names >= set(data) or not {"chart", "sol_min", "sol_max"} <= set(data):
            raise ExportError("the stored export request is not one this release can read: export it again")
        if data.get("rover") is not None and data["rover"] not in ROVERS:
            raise ExportError(f"the stored export request names no rover this release knows ({data['rover']!r})")
        return cls(**data)

    def public(self) -> dict:
        """What a user needs to see about the request: the selection only as a count."""
        out = self.to_json()
        out["selected"] = selected_count(out.pop("selection"))
        return out

    @property
    def rate_cost(self) -> int:
        """How many exports this one counts as against the client's rate limit."""
        return math.ceil(self.frames / FRAMES_PER_RATE_HIT) if self.chart == REPLAY and self.frames else 1

    def job_id(self, version: str) -> str:
        digest = hashlib.sha256(orjson.dumps({"v": version, **self.to_json()}, option=orjson.OPT_SORT_KEYS))
        return f"export-{self.chart}-{digest.hexdigest()[:JOB_ID_HASH_CHARS]}"

    @property
    def filename(self) -> str:
        name = f"{self.ykey}-vs-{self.xkey}" if self.chart == "xy" else self.chart
        return f"{self.rover or DEFAULT_ROVER}-{name}-sols-{self.sol_min}-{self.sol_max}.{self.fmt}"

    @property
    def title(self) -> str:
        if self.chart == REPLAY:
            return "Replay of the drive"
        return f"{self.ykey} against {self.xkey}" if self.chart == "xy" else TITLES[self.chart]


# ---------------------------------------------------------------------------------------
# validation, one concern a function


def check_chart(chart, xkey, ykey) -> None:
    if not isinstance(chart, str) or chart not in CHARTS:
        raise ExportError(f"unknown chart {chart!r}; choose one of: {', '.join(CHARTS)}")
    if chart == "xy":
        check_field("xkey", xkey)
        check_field("ykey", ykey)
    elif xkey is not None or ykey is not None:
        raise ExportError(f"xkey/ykey apply to the 'xy' chart only, not {chart!r}")


def check_field(name: str, key) -> str:
    """A waypoint field an "xy" chart can draw (``name`` is xkey or ykey)."""
    if not isinstance(key, str) or key not in FIELDS:
        raise ExportError(f"unknown {name} {key!r}; choose one of: {', '.join(FIELDS)}")
    return key


def check_format(fmt) -> str:
    """The format, lower-cased; ExportError unless it is one of :data:`FORMATS`."""
    fmt = fmt.lower().strip() if isinstance(fmt, str) else fmt
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    return fmt


def sol_range(sol_min, sol_max, bounds: tuple[int, int] | None) -> tuple[int, int]:
    lo, hi = whole("sol_min", sol_min), whole("sol_max", sol_max)
    if lo > hi:
        raise ExportError(f"sol range is reversed: sol_min {lo} is after sol_max {hi}")
    if bounds is not None:
        first, last = bounds
        if hi < first or lo > last:
            raise ExportError(f"sols {lo}..{hi} are outside the data, which covers sols {first}..{last}")
        lo, hi = max(lo, first), min(hi, last)
    return lo, hi


def size(chart: str, width, height, scale) -> tuple[int, int, float]:
    """(width, height, scale) within bounds; absent ones (None or "") take the chart's defaults."""
    default_w, default_h = DEFAULT_SIZE.get(chart, FALLBACK_SIZE)
    w = default_w if width in (None, "") else whole("width", width)
    h = default_h if height in (None, "") else whole("height", height)
    for name, value in (("width", w), ("height", h)):
        if not MIN_PX <= value <= MAX_PX:
            raise ExportError(f"{name} {value} is out of bounds: use {MIN_PX}..{MAX_PX} pixels")
    s = finite("scale", 1 if scale in (None, "") else scale)
    if not MIN_SCALE <= s <= MAX_SCALE:
        raise ExportError(f"scale {s:g} is out of bounds: use {MIN_SCALE:g}..{MAX_SCALE:g}")
    if w * s * h * s > MAX_OUTPUT_PIXELS:
        raise ExportError(f"{w}x{h} at scale {s:g} is over {MAX_OUTPUT_PIXELS:,} output pixels")
    return w, h, round(s, SCALE_DIGITS)


def selection_mask(selection, names: list[str] | None) -> str | None:
    if selection is None:
        return None
    if not isinstance(selection, (list, tuple)) or not all(isinstance(r, str) for r in selection):
        raise ExportError('selection must be a list of site_drive names such as "3_110"')
    if len(selection) > MAX_SELECTION:
        raise ExportError(f"selection has {len(selection):,} entries; at most {MAX_SELECTION:,}")
    if names is None:
        raise ExportError("a selection needs the dataset it refers to")
    return encode_selection(sorted(set(selection)), names) if selection else None


def validate(
    chart,
    sol_min,
    sol_max,
    fmt=None,
    width=None,
    height=None,
    scale=1,
    selection=None,
    *,
    xkey=None,
    ykey=None,
    frames=None,
    fps=None,
    bounds: tuple[int, int] | None = None,
    names: list[str] | None = None,
    rover: str | None = None,
) -> ExportRequest:
    """Check every parameter and return a normalised request, or raise ExportError.

    ``bounds`` is the (first, last) sol of the current dataset: a range that misses it
    entirely is refused; one that overlaps it is narrowed to it (the original tracker's
    README asks for sols 0..400, and the data starts at sol 13). A ``selection`` is a
    list of waypoint names; each must be one of ``names`` (the dataset version's, see
    :func:`selection_names`), and the request keeps it as a compact bitmask. ``fmt``
    defaults to png (a replay's to mp4). The chart
    :data:`REPLAY` is checked by :func:`check_replay` (``frames``, ``fps``, a video
    format and size) and takes no selection, fields or scale. ``rover`` names whose dataset
    it is (None or Perseverance: kept as None)."""
    rover = None if rover in (None, DEFAULT_ROVER) else rover
    if chart == REPLAY:
        if selection is not None or xkey is not None or ykey is not None:
            raise ExportError("a replay draws the whole traverse map: it takes no selection, xkey or ykey")
        if scale not in (None, "", 1, 1.0, "1"):
            raise ExportError("scale does not apply to a replay: set its width and height in pixels")
        return replace(check_replay(sol_min, sol_max, fmt, frames, fps, width, height, bounds), rover=rover)
    if frames is not None or fps is not None:
        raise ExportError(f"frames and fps apply to a replay only, not to the {chart!r} chart")
    check_chart(chart, xkey, ykey)
    fmt = check_format("png" if fmt is None else fmt)
    lo, hi = sol_range(sol_min, sol_max, bounds)
    w, h, s = size(chart, width, height, scale)
    picked = selection_mask(selection, names)
    return ExportRequest(chart, lo, hi, fmt, w, h, s, picked, xkey, ykey, rover=rover)


# ---------------------------------------------------------------------------------------
# the replay: frames, frame rate, duration, a video format and size


def _replay_number(name: str, value, default: int, low: int, high: int) -> int:
    number = default if value in (None, "") else whole(name, value)
    if not low <= number <= high:
        raise ExportError(f"{name} {number} is out of bounds: use {low}..{high}")
    return number


def check_video_format(fmt) -> str:
    """A replay's format, lower-cased (absent: mp4); ExportError unless one of :data:`VIDEO_FORMATS`."""
    fmt = "mp4" if fmt in (None, "") else fmt.lower().strip() if isinstance(fmt, str) else fmt
    if not isinstance(fmt, str) or fmt not in VIDEO_FORMATS:
        raise ExportError(f"unknown replay format {fmt!r}; choose one of: {', '.join(VIDEO_FORMATS)}")
    return fmt


def video_size(fmt: str, width, height) -> tuple[int, int]:
    """(width, height) of a replay within bounds; MP4 and WebM round odd ones down to even
    numbers (their yuv420p frames need them), GIF keeps them."""
    default_w, default_h = DEFAULT_VIDEO_SIZE
    w = default_w if width in (None, "") else whole("width", width)
    h = default_h if height in (None, "") else whole("height", height)
    for name, value in (("width", w), ("height", h)):
        if not MIN_VIDEO_PX <= value <= MAX_VIDEO_PX:
            bounds = f"{MIN_VIDEO_PX}..{MAX_VIDEO_PX}"
            raise ExportError(f"{name} {value} is out of bounds for a replay: use {bounds} pixels")
    if fmt in EVEN_SIZE_FORMATS:
        w, h = w - w % 2, h - h % 2
    return w, h


def check_replay(sol_min, sol_max, fmt, frames, fps, width, height, bounds) -> ExportRequest:
    """A replay request: ``frames`` MIN_FRAMES..MAX_FRAMES shown at ``fps``
    MIN_FPS..MAX_FPS frames a second, lasting at most MAX_REPLAY_SECONDS, in a
    :data:`VIDEO_FORMATS` format (default mp4), MIN_VIDEO_PX..MAX_VIDEO_PX pixels a side."""
    fmt = check_video_format(fmt)
    lo, hi = sol_range(sol_min, sol_max, bounds)
    n = _replay_number("frames", frames, DEFAULT_FRAMES, MIN_FRAMES, MAX_FRAMES)
    rate = _replay_number("fps", fps, DEFAULT_FPS, MIN_FPS, MAX_FPS)
    if n / rate > MAX_REPLAY_SECONDS:
        raise ExportError(
            f"{n} frames at {rate} frames a second last {n / rate:g} s; a replay lasts at most "
            f"{MAX_REPLAY_SECONDS} s: ask for fewer frames or more frames a second"
        )
    w, h = video_size(fmt, width, height)
    return ExportRequest(REPLAY, lo, hi, fmt, w, h, 1.0, None, None, None, n, rate)
