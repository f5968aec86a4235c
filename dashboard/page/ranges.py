"""Sol-range maths of the page: number parsing, clamping, the query string, slider marks.

Pure functions, shared by the layout and the callbacks (and tested without a browser).
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import parse_qs, urlencode

from dashboard.data.timeline import sol_bounds
from dashboard.rovers import DEFAULT_ROVER, default_of

__all__ = [
    "axis_from_query",
    "axis_of",
    "clamp_range",
    "follow_latest",
    "int_or_none",
    "range_from_query",
    "range_query",
    "range_within",
    "rover_from_query",
    "slider_marks",
    "slider_pair",
    "sol_bounds",  # the timeline: the union of the layers' sols (dashboard.data.timeline)
    "waypoints_href",
]

#: Candidate distances between two round slider marks, smallest first; the first one that
#: gives at most MAX_ROUND_MARKS marks over the range is used (else FALLBACK_MARK_STEP).
MARK_STEPS = (1, 2, 5, 10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000)
FALLBACK_MARK_STEP = 100000
MAX_ROUND_MARKS = 5
#: A round mark closer to an end of the slider than this many steps is dropped (its label
#: would collide with the end's on a phone).
MARK_END_GAP = 0.6

#: The REST routes serving the waypoints of a range, by format (see dashboard.api.routes);
#: each rover's under its own name (``/curiosity/waypoints.csv``).
WAYPOINTS_PATHS = {"csv": "/{rover}/waypoints.csv", "geojson": "/{rover}/waypoints.geojson"}


def int_or_none(value) -> int | None:
    """A finite number (int, float or its string) rounded to an int; None for anything else."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    return int(round(number))


def clamp_range(a, b, lo: int, hi: int) -> tuple[int, int]:
    """An ordered range within [lo, hi]; missing ends take the bounds."""
    a, b = int_or_none(a), int_or_none(b)
    a = lo if a is None else min(max(a, lo), hi)
    b = hi if b is None else min(max(b, lo), hi)
    return (a, b) if a <= b else (b, a)


def slider_pair(value, lo: int, hi: int) -> tuple[Any, Any]:
    """The two ends of a range slider's value as sent; the bounds when it is not a pair."""
    if isinstance(value, list) and len(value) == 2:
        return value[0], value[1]
    return lo, hi


def range_within(value, lo: int, hi: int) -> tuple[int, int]:
    """A range slider's value, clamped to [lo, hi] (the whole timeline when not a pair)."""
    return clamp_range(*slider_pair(value, lo, hi), lo, hi)


def follow_latest(chosen: tuple[int, int], slider, shown_max, hi: int) -> tuple[int, int]:
    """The range on a new dataset version: ``chosen`` (the URL's, within the new bounds),
    but ending at the new latest sol ``hi`` when the range shown (``slider``) ended at the
    latest sol shown before (``shown_max``); a range ending earlier is kept."""
    a, b = chosen
    end = int_or_none(slider[1]) if isinstance(slider, list) and len(slider) == 2 else b
    latest = int_or_none(shown_max)
    if latest is not None and end is not None and end >= latest:
        return min(a, hi), hi
    return a, b


def range_from_query(search: str | None, lo: int, hi: int) -> tuple[int, int]:
    query = parse_qs((search or "").lstrip("?"))
    return clamp_range(query.get("sol_min", [None])[0], query.get("sol_max", [None])[0], lo, hi)


def range_query(a: int, b: int, time_axis: str = "sol", rover: str = DEFAULT_ROVER) -> str:
    """The page's query string; ``axis=date`` only when the time axes show Earth dates,
    ``rover=curiosity`` only for a rover other than Perseverance (its links stay as they were)."""
    params: dict[str, int | str] = {"sol_min": a, "sol_max": b}
    if time_axis == "date":
        params["axis"] = "date"
    if rover != DEFAULT_ROVER:
        params["rover"] = rover
    return "?" + urlencode(params)


def rover_from_query(search: str | None, served: tuple[str, ...]) -> str:
    """The rover the page's address names (``rover=``), when this server serves it; else
    Perseverance when served, else the first rover served."""
    name = parse_qs((search or "").lstrip("?")).get("rover", [""])[0].strip().lower()
    return name if name in served else default_of(served)


def axis_of(value) -> str:
    """The time axis a control's value names: "date" or (anything else) "sol"."""
    return "date" if value == "date" else "sol"


def axis_from_query(search: str | None) -> str:
    return axis_of(parse_qs((search or "").lstrip("?")).get("axis", [""])[0])


def waypoints_href(fmt: str, a: int, b: int, rover: str = DEFAULT_ROVER) -> str:
    """The download link of the range's waypoints ("csv" or "geojson") of ``rover``."""
    return WAYPOINTS_PATHS[fmt].format(rover=rover) + range_query(a, b)


def slider_marks(lo: int, hi: int) -> dict:
    """Labels at round sols (at most about five of them) plus both ends; a round mark
    closer to an end than 0.6 steps is dropped, so labels do not collide on a phone."""
    span = max(hi - lo, 1)
    step = next((s for s in MARK_STEPS if span / s <= MAX_ROUND_MARKS), FALLBACK_MARK_STEP)
    marks = {s: str(s) for s in range(math.ceil(lo / step) * step, hi + 1, step)}
    marks.update({lo: str(lo), hi: str(hi)})
    return {k: v for k, v in sorted(marks.items()) if k in (lo, hi) or min(k - lo, hi - k) >= step * MARK_END_GAP}
