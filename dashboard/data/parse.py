"""Parse NASA's MMGIS GeoJSON layers and normalise them into pandas DataFrames.

Pure code: bytes in, frames out. Every shape NASA has published (see
``shared/data/PROVENANCE.md``) maps onto one schema (DESIGN.md, "The normalised data
model"); what cannot be understood raises :class:`DataError` naming the source and the
problem. A single bad feature among good ones is skipped and counted, never fatal.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import orjson
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
_ALIASES = {
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

_WAYPOINT_NUMERIC = [
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

_TRUE = {"y", "yes", "true", "t", "1", "final", "end"}
_FALSE = {"m", "n", "no", "false", "f", "0", "mid"}


class DataError(ValueError):
    """A layer that cannot be understood. The message names the source and the problem."""

    def __init__(self, source: str, problem: str):
        super().__init__(f"{source}: {problem}")
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


def _to_int(value) -> int | None:
    number = to_number(value)
    if math.isnan(number) or number != int(number):
        return None
    return int(number)


def _to_text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _to_final(value, note: str | None) -> bool:
    text = (_to_text(value) or "").lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    # Unknown or missing: NASA marks mid-drive localizations in the note as well.
    return not (note and "mid-drive" in note.lower())


def _normalise_keys(props: dict) -> dict:
    out: dict = {}
    aliased: dict = {}
    for key, value in props.items():
        name = str(key).strip().lower()
        if name in _ALIASES:
            aliased.setdefault(_ALIASES[name], value)
        else:
            out[name] = value
    for name, value in aliased.items():
        out.setdefault(name, value)
    return out


# ---------------------------------------------------------------------------------------
# documents


def _decode(body: bytes, source: str) -> tuple[str | None, list]:
    """Bytes -> (the FeatureCollection's name, its feature list), or DataError."""
    if body is None or len(body) == 0:
        raise DataError(source, "empty response (0 bytes), not JSON")
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<"):
        kind = (
            "an HTML page"
            if (b"<html" in head or b"<!doctype html" in head or b"<head" in head or b"<body" in head)
            else "XML/HTML markup"
        )
        snippet = body[:80].decode("utf-8", "replace").strip().replace("\n", " ")
        raise DataError(source, f"got {kind}, not JSON (starts {snippet!r}); is the URL right?")
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DataError(source, f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise DataError(source, f"JSON {type(doc).__name__} is not a GeoJSON FeatureCollection")
    kind = doc.get("type")
    if kind != "FeatureCollection":
        found = f"type {kind!r}" if kind is not None else "no 'type'"
        raise DataError(source, f"not a GeoJSON FeatureCollection (JSON object with {found})")
    features = doc.get("features")
    if not isinstance(features, list):
        raise DataError(source, "FeatureCollection has no 'features' list")
    if not features:
        raise DataError(source, "FeatureCollection is empty: no features")
    return doc.get("name") if isinstance(doc.get("name"), str) else None, features


def _feature_parts(feature) -> tuple[dict, dict | None] | None:
    if not isinstance(feature, dict):
        return None
    props = feature.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, dict):
        return None
    geometry = feature.get("geometry")
    return _normalise_keys(props), geometry if isinstance(geometry, dict) else None


def _point(geometry: dict | None) -> tuple[float, float, float] | None:
    if not geometry or geometry.get("type") != "Point":
        return None
    coords = geometry.get("coordinates")
    if not isinstance(coords, (list, tuple)) or len(coords) < 2:
        return None
    lon, lat = to_number(coords[0]), to_number(coords[1])
    elev = to_number(coords[2]) if len(coords) > 2 else math.nan
    return lon, lat, elev


def _valid_lonlat(lon: float, lat: float) -> bool:
    return -90.0 <= lat <= 90.0 and -180.0 <= lon <= 360.0


# ---------------------------------------------------------------------------------------
# waypoints


def parse_waypoints(body: bytes, source: str = "waypoints", layer: str = "waypoints") -> Layer:
    """Parse ``M20_waypoints.json`` (any published shape) into the normalised frame.

    ``layer`` names the NASA layer in the ``layer`` column: the current-position layer
    (``M20_waypoints_current.json``) has the same schema and is parsed here too."""
    name, features = _decode(body, source)
    rows: list[dict] = []
    skipped: Counter = Counter()
    seen_fields: set[str] = set()
    for feature in features:
        parts = _feature_parts(feature)
        if parts is None:
            skipped["not a GeoJSON Feature object"] += 1
            continue
        props, geometry = parts
        seen_fields.update(props)
        point = _point(geometry)
        if point is not None:
            seen_fields.update(("lon", "lat"))
        sol = _to_int(props.get("sol"))
        if sol is None or sol < 0:
            skipped["no usable sol"] += 1
            continue
        site, drive = _to_int(props.get("site")), _to_int(props.get("drive"))
        rmc = _to_text(props.get("rmc"))
        if (site is None or drive is None) and rmc and "_" in rmc:
            site_text, _, drive_text = rmc.partition("_")
            site = site if site is not None else _to_int(site_text)
            drive = drive if drive is not None else _to_int(drive_text)
        if site is None or drive is None:
            skipped["no usable site/drive"] += 1
            continue
        lon, lat = to_number(props.get("lon")), to_number(props.get("lat"))
        elev = to_number(props.get("elev_geoid"))
        if point is not None:
            if math.isnan(lon) or math.isnan(lat):
                lon, lat = point[0], point[1]
            if math.isnan(elev):
                elev = point[2]
        if math.isnan(lon) or math.isnan(lat) or not _valid_lonlat(lon, lat):
            skipped["no usable lon/lat"] += 1
            continue
        note = _to_text(props.get("note"))
        images = props.get("images")
        image_url = None
        if isinstance(images, list) and images and isinstance(images[0], dict):
            image_url = _to_text(images[0].get("url"))
        row = {name: to_number(props.get(name)) for name in _WAYPOINT_NUMERIC}
        row.update(
            sol=sol,
            site=site,
            drive=drive,
            rmc=f"{site}_{drive}",
            lon=lon,
            lat=lat,
            elev_geoid=elev,
            final=_to_final(props.get("final"), note),
            note=note,
            sclk_start=to_number(props.get("sclk_start")),
            sclk_end=to_number(props.get("sclk_end")),
            image_url=image_url,
            layer=layer,
        )
        rows.append(row)

    if not rows and not seen_fields:  # not one feature had properties to look at
        raise DataError(source, f"no usable features: {_describe(skipped, len(features))}")
    for required, label in (("sol", "'sol'"), ("lon", "'lon'/'lat' (or a Point geometry)")):
        if required not in seen_fields:
            raise DataError(source, f"required field {label} is missing in every feature")
    if not ({"site", "drive"} <= seen_fields or "rmc" in seen_fields):
        raise DataError(source, "required fields 'site'/'drive' (or 'RMC') are missing in every feature")
    if not rows:
        raise DataError(source, f"no usable features: {_describe(skipped, len(features))}")

    frame = pd.DataFrame.from_records(rows)
    frame = frame.sort_values(["sol", "site", "drive"], kind="mergesort")
    duplicated = frame.duplicated("rmc", keep="last")
    if duplicated.any():
        skipped["duplicate site_drive (kept the later one)"] += int(duplicated.sum())
        frame = frame[~duplicated]
    frame = frame.reset_index(drop=True)
    frame["yaw_rad"] = np.radians(frame["yaw"])
    _fix_odometry(frame)
    return Layer(name=name, features=len(features), frame=_typed(frame, WAYPOINT_COLUMNS), skipped=dict(skipped))


def _fix_odometry(frame: pd.DataFrame) -> None:
    """Cumulative distance never decreases; mid-drive zeros mean 'unknown', not 0."""
    mid = ~frame["final"].astype(bool)
    frame["dist_m"] = frame["dist_m"].mask(mid & (frame["dist_m"] == 0))
    total = frame["dist_total_m"].mask(mid & (frame["dist_total_m"] == 0))
    if total.isna().all() and frame["dist_m"].notna().any():
        total = frame["dist_m"].fillna(0.0).cumsum()  # a shape with per-drive distances only
    frame["dist_total_m"] = total.cummax().ffill().fillna(0.0)


# ---------------------------------------------------------------------------------------
# traverse


def parse_traverse(body: bytes, source: str = "traverse") -> Layer:
    """Parse ``M20_traverse.json`` into one row per leg plus one row per vertex."""
    name, features = _decode(body, source)
    legs: list[dict] = []
    seg_ids: list[np.ndarray] = []
    part_ids: list[np.ndarray] = []
    coords_all: list[np.ndarray] = []
    skipped: Counter = Counter()
    for feature in features:
        parts = _feature_parts(feature)
        if parts is None:
            skipped["not a GeoJSON Feature object"] += 1
            continue
        props, geometry = parts
        lines = _lines(geometry)
        if lines is None:
            skipped["no LineString/MultiLineString geometry"] += 1
            continue
        seg = len(legs)
        n_points = 0
        for part, line in enumerate(lines):
            seg_ids.append(np.full(len(line), seg, dtype=np.int64))
            part_ids.append(np.full(len(line), part, dtype=np.int64))
            coords_all.append(line)
            n_points += len(line)
        sol = _to_int(props.get("sol"))
        legs.append(
            {
                "seg": seg,
                "sol": sol if sol is not None and sol >= 0 else None,
                "from_rmc": _to_text(props.get("from_rmc")),
                "to_rmc": _to_text(props.get("to_rmc")),
                "length_m": to_number(props.get("length_m")),
                "sclk_start": to_number(props.get("sclk_start")),
                "sclk_end": to_number(props.get("sclk_end")),
                "n_points": n_points,
            }
        )
    if not legs:
        raise DataError(source, f"no usable features: {_describe(skipped, len(features))}")
    frame = pd.DataFrame.from_records(legs, columns=list(TRAVERSE_COLUMNS))
    xyz = np.concatenate(coords_all)
    points = pd.DataFrame(
        {
            "seg": np.concatenate(seg_ids),
            "part": np.concatenate(part_ids),
            "lon": xyz[:, 0],
            "lat": xyz[:, 1],
            "elev": xyz[:, 2],
        }
    )
    return Layer(
        name=name,
        features=len(features),
        frame=_typed(frame, TRAVERSE_COLUMNS),
        points=_typed(points, TRAVERSE_POINT_COLUMNS),
        skipped=dict(skipped),
    )


def _lines(geometry: dict | None) -> list[np.ndarray] | None:
    """The usable vertices of a (Multi)LineString as float arrays of shape (n, 3)."""
    if not geometry:
        return None
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if not isinstance(coords, list):
        return None
    if kind == "LineString":
        raw_lines = [coords]
    elif kind == "MultiLineString":
        raw_lines = coords
    else:
        return None
    lines = []
    for raw in raw_lines:
        line = _vertices(raw)
        if line is not None and len(line):
            lines.append(line)
    return lines or None


def _vertices(raw) -> np.ndarray | None:
    if not isinstance(raw, list):
        return None
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):  # ragged (2-D and 3-D mixed) or junk: go vertex by vertex
        arr = np.array(
            [
                [to_number(v[0]), to_number(v[1]), to_number(v[2]) if len(v) > 2 else math.nan]
                if isinstance(v, (list, tuple)) and len(v) >= 2
                else [math.nan] * 3
                for v in raw
            ],
            dtype=np.float64,
        ).reshape(-1, 3)
    if arr.ndim != 2 or arr.shape[1] < 2:
        return None
    if arr.shape[1] == 2:
        arr = np.column_stack([arr, np.full(len(arr), np.nan)])
    arr = arr[:, :3].copy()
    arr[arr == SENTINEL] = np.nan
    ok = np.isfinite(arr[:, 0]) & np.isfinite(arr[:, 1])
    ok &= (arr[:, 1] >= -90) & (arr[:, 1] <= 90) & (arr[:, 0] >= -180) & (arr[:, 0] <= 360)
    return arr[ok]


# ---------------------------------------------------------------------------------------
# helpers


def _typed(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
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


def _describe(skipped: Counter, total: int) -> str:
    reasons = ", ".join(f"{count} {reason}" for reason, count in skipped.most_common())
    return f"all {total} features were skipped ({reasons})" if reasons else f"{total} features, none usable"
