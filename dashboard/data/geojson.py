"""Reading GeoJSON: a FeatureCollection's bytes into features (or a :class:`DataError`
saying what came instead), a feature's properties and geometry, points and lines."""

from __future__ import annotations

import math

import numpy as np
import orjson

from dashboard.data.schema import SENTINEL, DataError, normalise_keys, to_number

#: plausible planetocentric coordinates (degrees): latitude, and longitude east-positive
#: in either the -180..180 or the 0..360 convention
LAT_RANGE = (-90.0, 90.0)
LON_RANGE = (-180.0, 360.0)
#: bytes looked at to tell an HTML or XML answer from JSON, and quoted from such an answer
SNIFF_BYTES = 512
SNIPPET_BYTES = 80
BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark, which some servers put first


def decode(body: bytes, source: str) -> tuple[str | None, list]:
    """Bytes -> (the FeatureCollection's name, its feature list), or DataError."""
    if body is None or len(body) == 0:
        raise DataError(source, "empty response (0 bytes), not JSON")
    _refuse_markup(body, source)
    if body.startswith(BOM):
        body = body[len(BOM) :]
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DataError(source, f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise DataError(source, f"JSON {type(doc).__name__} is not a GeoJSON FeatureCollection")
    doc_type = doc.get("type")
    if doc_type != "FeatureCollection":
        found = f"type {doc_type!r}" if doc_type is not None else "no 'type'"
        raise DataError(source, f"not a GeoJSON FeatureCollection (JSON object with {found})")
    features = doc.get("features")
    if not isinstance(features, list):
        raise DataError(source, "FeatureCollection has no 'features' list")
    if not features:
        raise DataError(source, "FeatureCollection is empty: no features")
    name = doc.get("name")
    return name if isinstance(name, str) else None, features


def _refuse_markup(body: bytes, source: str) -> None:
    """DataError for an HTML page or XML (a portal's error page, a login wall...)."""
    head = body[:SNIFF_BYTES].lstrip(BOM + b" \t\r\n").lower()
    if head.startswith(b"<"):
        kind = (
            "an HTML page"
            if (b"<html" in head or b"<!doctype html" in head or b"<head" in head or b"<body" in head)
            else "XML/HTML markup"
        )
        snippet = body[:SNIPPET_BYTES].decode("utf-8", "replace").strip().replace("\n", " ")
        raise DataError(source, f"got {kind}, not JSON (starts {snippet!r}); is the URL right?")


def feature_parts(feature) -> tuple[dict, dict | None] | None:
    if not isinstance(feature, dict):
        return None
    props = feature.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, dict):
        return None
    geometry = feature.get("geometry")
    return normalise_keys(props), geometry if isinstance(geometry, dict) else None


def point_of(geometry: dict | None) -> tuple[float, float, float] | None:
    if not geometry or geometry.get("type") != "Point":
        return None
    coords = geometry.get("coordinates")
    if not isinstance(coords, (list, tuple)) or len(coords) < 2:
        return None
    lon, lat = to_number(coords[0]), to_number(coords[1])
    elev = to_number(coords[2]) if len(coords) > 2 else math.nan
    return lon, lat, elev


def valid_lonlat(lon: float, lat: float) -> bool:
    return LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LON_RANGE[0] <= lon <= LON_RANGE[1]


def line_parts(geometry: dict | None) -> list[np.ndarray] | None:
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
        line = vertices(raw)
        if line is not None and len(line):
            lines.append(line)
    return lines or None


def vertices(raw) -> np.ndarray | None:
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
    ok &= (
        (arr[:, 1] >= LAT_RANGE[0])
        & (arr[:, 1] <= LAT_RANGE[1])
        & (arr[:, 0] >= LON_RANGE[0])
        & (arr[:, 0] <= LON_RANGE[1])
    )
    return arr[ok]
