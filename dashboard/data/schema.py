"""The normalised schema of NASA's layers (docs/data.md, "The normalised data model"): the
columns and their dtypes, the property names NASA has used, the coercion of one JSON
value into a column's type, and how a layer's source is named to people. Pure code."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePath
from urllib.parse import unquote, urlparse

import pandas as pd

SENTINEL = -9999.0

#: Normalised waypoint columns and their dtypes, in order.
WAYPOINT_COLUMNS: dict[str, str] = {
    "sol": "int64",
    "site": "int64",
    "drive": "int64",
    "rmc": "str",
    "lat": "float64",
    "lon": "float64",
    "elev_geoid": "float64",
    "elev_radii": "float64",
    "radius": "float64",
    "easting": "float64",
    "northing": "float64",
    "roll": "float64",
    "pitch": "float64",
    "yaw": "float64",
    "yaw_rad": "float64",
    "tilt": "float64",
    "dist_m": "float64",
    "dist_total_m": "float64",
    "final": "bool",
    "note": "str",
    "sclk_start": "float64",  # spacecraft clock, seconds (fractional in 2022 files)
    "sclk_end": "float64",
    "image_url": "str",
    "layer": "str",  # the NASA layer the row came from: "waypoints" or "current"
}

#: The layers a waypoint-schema row can come from (``layer`` column).
WAYPOINT_LAYERS = ("waypoints", "current")

#: One row per traverse leg.
TRAVERSE_COLUMNS: dict[str, str] = {
    "seg": "int64",
    "sol": "Int64",
    "from_rmc": "str",
    "to_rmc": "str",
    "length_m": "float64",
    "sclk_start": "float64",
    "sclk_end": "float64",
    "n_points": "int64",
}

#: One row per traverse vertex; ``seg`` is the leg's row, ``part`` the line within a
#: MultiLineString.
TRAVERSE_POINT_COLUMNS: dict[str, str] = {
    "seg": "int64",
    "part": "int64",
    "lon": "float64",
    "lat": "float64",
    "elev": "float64",
}

# Property names as NASA has written them (lower-cased) -> normalised name. Names that
# are already normalised are not listed. When both a canonical name and an alias are
# present, the canonical one wins.
ALIASES = {
    "dist_total": "dist_total_m",
    "drive_tota": "dist_total_m",  # shapefile-truncated "drive_total_m"
    "drive__m": "dist_m",
    "drive_to_1": "dist_km",
    "drive_to_2": "dist_mi",
    "final_": "final",
    "fromrmc": "from_rmc",
    "tormc": "to_rmc",
    "length": "length_m",
}

WAYPOINT_NUMERIC = [
    "elev_geoid",
    "elev_radii",
    "radius",
    "easting",
    "northing",
    "roll",
    "pitch",
    "yaw",
    "tilt",
    "dist_m",
    "dist_total_m",
]

TRUE_WORDS = {"y", "yes", "true", "t", "1", "final", "end"}
FALSE_WORDS = {"m", "n", "no", "false", "f", "0", "mid"}


def source_label(source: str | None) -> str | None:
    """A layer's source as a person needs it, never a server's own paths: a URL's host and
    file name (``mars.nasa.gov … M20_waypoints.json``), or ``local file M20_waypoints.json``."""
    if not source:
        return None
    url = urlparse(source)
    if url.scheme.lower() in ("http", "https"):
        name = PurePath(unquote(url.path)).name
        return f"{url.hostname} … {name}" if name else str(url.hostname)
    path = unquote(url.path) if url.scheme.lower() == "file" else source
    return f"local file {PurePath(path).name}"


class DataError(ValueError):
    """A layer that cannot be understood. The message names the source (by its
    :func:`source_label`) and the problem."""

    def __init__(self, source: str, problem: str):
        super().__init__(f"{source_label(source)}: {problem}")
        self.source = source
        self.problem = problem


@dataclass
class Layer:
    """A parsed layer: its frames plus what was skipped and why."""

    name: str | None
    features: int
    frame: pd.DataFrame
    points: pd.DataFrame | None = None  # traverse vertices
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


# ---------------------------------------------------------------------------------------
# values


def to_number(value) -> float:
    """A JSON int, float or numeric string as a float; NaN for missing, sentinel or junk."""
    if value is None or isinstance(value, bool):
        return math.nan
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return math.nan
    else:
        return math.nan
    if not math.isfinite(number) or number == SENTINEL:
        return math.nan
    return number


def to_int(value) -> int | None:
    number = to_number(value)
    if math.isnan(number) or number != int(number):
        return None
    return int(number)


def to_text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def to_final(value, note: str | None) -> bool:
    text = (to_text(value) or "").lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    # Unknown or missing: NASA marks mid-drive localizations in the note as well.
    return not (note and "mid-drive" in note.lower())


def normalise_keys(props: dict) -> dict:
    out: dict = {}
    aliased: dict = {}
    for key, value in props.items():
        name = str(key).strip().lower()
        if name in ALIASES:
            aliased.setdefault(ALIASES[name], value)
        else:
            out[name] = value
    for name, value in aliased.items():
        out.setdefault(name, value)
    return out


def typed(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    out = {}
    for name, dtype in columns.items():
        col = frame[name] if name in frame else pd.Series([None] * len(frame), index=frame.index)
        if dtype == "str":
            out[name] = col.astype("str")  # pandas 3 string dtype: missing stays missing
        elif dtype == "Int64":
            out[name] = pd.array(col.tolist(), dtype="Int64")
        else:
            out[name] = col.astype(dtype)
    return pd.DataFrame(out, index=frame.index)


def skipped_text(skipped: Counter, total: int) -> str:
    reasons = ", ".join(f"{count} {reason}" for reason, count in skipped.most_common())
    return f"all {total} features were skipped ({reasons})" if reasons else f"{total} features, none usable"
