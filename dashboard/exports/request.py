"""What an export is: the request, checked and normalised before anything is queued.

:class:`ExportRequest` is the whole contract between the web side and the worker: made by
:func:`validate` once, stored as the job's JSON (:meth:`ExportRequest.to_json`) and read
back by the job (:meth:`ExportRequest.from_json`).

Numbers are parsed here once (:func:`whole`, :func:`finite`) for the whole app: the
export parameters, the REST bodies and query strings (``dashboard/api/schemas.py``) all
accept JSON numbers and numeric strings (``"0"``), and refuse the rest in the same words.

A map selection is stored once, as a bitmask over the waypoints of the dataset version it
refers to (:func:`encode_selection`), after every name has been checked against that
version.
"""

from __future__ import annotations

import base64
import hashlib
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import orjson

from dashboard.exports.errors import ExportError
from dashboard.figures import BUILDERS, EXPORT_ONLY, FIELDS, MAP_POINT_BUDGET, TITLES

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

    def to_json(self) -> dict:
        """The request as plain JSON values: what the job stores and reads back."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: object) -> ExportRequest:
        """The request a job stored (:meth:`to_json`); ExportError if it is not one."""
        names = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or not names >= set(data) or not {"chart", "sol_min", "sol_max"} <= set(data):
            raise ExportError("the stored export request is not one this release can read: export it again")
        return cls(**data)

    def public(self) -> dict:
        """What a user needs to see about the request: the selection only as a count."""
        out = asdict(self)
        out["selected"] = selected_count(out.pop("selection"))
        return out

    def job_id(self, version: str) -> str:
        digest = hashlib.sha256(orjson.dumps({"v": version, **self.to_json()}, option=orjson.OPT_SORT_KEYS))
        return f"export-{self.chart}-{digest.hexdigest()[:JOB_ID_HASH_CHARS]}"

    @property
    def filename(self) -> str:
        name = f"{self.ykey}-vs-{self.xkey}" if self.chart == "xy" else self.chart
        return f"perseverance-{name}-sols-{self.sol_min}-{self.sol_max}.{self.fmt}"

    @property
    def title(self) -> str:
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
    fmt="png",
    width=None,
    height=None,
    scale=1,
    selection=None,
    *,
    xkey=None,
    ykey=None,
    bounds: tuple[int, int] | None = None,
    names: list[str] | None = None,
) -> ExportRequest:
    """Check every parameter and return a normalised request, or raise ExportError.

    ``bounds`` is the (first, last) sol of the current dataset: a range that misses it
    entirely is refused; one that overlaps it is narrowed to it (the original tracker's
    README asks for sols 0..400, and the data starts at sol 13). A ``selection`` is a
    list of waypoint names; each must be one of ``names`` (the dataset version's, see
    :func:`selection_names`), and the request keeps it as a compact bitmask."""
    check_chart(chart, xkey, ykey)
    fmt = check_format(fmt)
    lo, hi = sol_range(sol_min, sol_max, bounds)
    w, h, s = size(chart, width, height, scale)
    picked = selection_mask(selection, names)
    return ExportRequest(chart, lo, hi, fmt, w, h, s, picked, xkey, ykey)
