"""The context layers' routes: Ingenuity's flights, the sample tubes and the terrain.

``/ingenuity/flights`` and ``/perseverance/samples`` answer like the waypoints: JSON rows,
``.csv`` and ``.geojson`` variants, a sol range (``sol_min``/``sol_max``, the same query
and errors), ETag and 304 (``dashboard/api/http_cache.py``). A flight is a row (flight 0
is where the rover set the helicopter down); a tube is a row with its own sol (a site
where two tubes were filled is two rows). ``/terrain`` describes the terrain under the
track, and ``/terrain/<fingerprint>.png`` is its shaded relief: the same bytes under the
same name for ever (``immutable``), so an old fingerprint is a 404, never another image.

Without a dataset: 503; without the layer: 404 saying which layer is missing and why.
"""

from __future__ import annotations

import csv
import io
import math

import orjson
import pandas as pd
from flask import Response, request

from dashboard.api import schemas
from dashboard.api.blueprint import dataset, perseverance_served, route
from dashboard.api.context_schemas import Flight, SampleTube, Terrain
from dashboard.api.errors import ApiError
from dashboard.api.openapi import DATA, NOT_MODIFIED, Answers, data_answers
from dashboard.api.schemas import NoQuery, RangeQuery, parse_query
from dashboard.api.serialize import FORMULA_START, attachment
from dashboard.data.context import between_sols
from dashboard.data.context_summary import CONTEXT_LABELS, offered_layers
from dashboard.data.megdr import PPD
from dashboard.data.schema import source_label
from dashboard.data.store import Dataset
from dashboard.data.terrain import MARS_RADIUS_M
from dashboard.figures.relief import EXAGGERATION, RAMP_NAME, relief
from dashboard.figures.terrain import ATTRIBUTION, relief_url
from dashboard.http import json_response
from dashboard.rovers import ROVERS

#: the relief never changes under its name
IMMUTABLE = "public, max-age=31536000, immutable"
#: (Dataset field, file stem, GeoJSON name, elevation column) of the two point layers
FLIGHTS = ("flights", "ingenuity-flights", "ingenuity_flights", "elev_geoid")
SAMPLES = ("samples", "perseverance-samples", "perseverance_samples", "elev")
_LAYER_OF = {"flights": "ingenuity", "samples": "samples", "terrain": "terrain"}


def _layer(found: Dataset, name: str):
    """The dataset's copy of a context layer; ApiError 404 naming it (and why) when absent."""
    value = getattr(found, name)
    if value is not None:
        return value
    layer = _LAYER_OF[name]
    rover = ROVERS[found.rover]
    if layer not in offered_layers(rover.name):  # Curiosity: no Ingenuity, no sample tubes
        raise ApiError(404, f"{rover.label} has no {CONTEXT_LABELS[layer]} layer", layer=layer, status="off")
    info = (found.meta.get("layers") or {}).get(layer) or {}
    status = info.get("status") or "off"
    why = {
        "off": "no source is configured",
        "missing": f"the last load could not read it: {info.get('problem') or 'see POST /load'}",
    }.get(status, "it was not loaded")
    raise ApiError(404, f"the {CONTEXT_LABELS[layer]} layer is not loaded ({why})", layer=layer, status=status)


# --- rows ------------------------------------------------------------------------------------


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows as JSON-ready Python values: dates as ISO dates, missing values None."""
    out = frame.astype(object).where(frame.notna(), None)
    for name in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[name]):
            out[name] = [None if pd.isna(v) else v.date().isoformat() for v in frame[name]]
    return out


def _records(frame: pd.DataFrame) -> list[dict]:
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in _plain(frame).to_dict("records")
    ]


def _features(frame: pd.DataFrame, elev: str) -> list[dict]:
    out = []
    for props in _records(frame):
        coords = [props["lon"], props["lat"]] + ([props[elev]] if props[elev] is not None else [])
        out.append({"type": "Feature", "properties": props, "geometry": {"type": "Point", "coordinates": coords}})
    return out


def _csv(frame: pd.DataFrame) -> bytes:
    """CSV with text cells that start like a spreadsheet formula made inert (a leading ')."""
    plain = _plain(frame)
    for name in frame.columns:
        if pd.api.types.is_string_dtype(frame[name]) and not pd.api.types.is_datetime64_any_dtype(frame[name]):
            plain[name] = [("'" + v) if isinstance(v, str) and v.startswith(FORMULA_START) else v for v in plain[name]]
    buf = io.StringIO()
    plain.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL)
    return buf.getvalue().encode()


def _rows(layer: tuple[str, str, str, str], kind: str) -> Response:
    """A point layer's rows in the query's sol range, as ``kind`` (json, csv, geojson),
    built once per dataset version and range (the ends clamped to the layer's sols)."""
    name, stem, title, elev = layer
    query = parse_query(RangeQuery)
    found = dataset()
    frame = _layer(found, name)
    rows = between_sols(frame, query.sol_min, query.sol_max)
    first, last = int(frame["sol"].min()), int(frame["sol"].max())
    lo = first if query.sol_min is None else min(max(query.sol_min, first), last + 1)
    hi = last if query.sol_max is None else max(min(query.sol_max, last), first - 1)
    key = (name, kind, lo, hi)
    if kind == "csv":
        body = found.answer(key, lambda: _csv(rows))
        return Response(body, content_type="text/csv; charset=utf-8", headers=attachment(_filename(stem, rows, kind)))
    if kind == "geojson":
        doc = {"type": "FeatureCollection", "name": title, "dataset_version": found.version}
        body = found.answer(key, lambda: orjson.dumps({**doc, "features": _features(rows, elev)}))
        return Response(body, content_type="application/geo+json", headers=attachment(_filename(stem, rows, kind)))
    return Response(found.answer(key, lambda: orjson.dumps(_records(rows))), content_type="application/json")


def _filename(stem: str, rows: pd.DataFrame, ext: str) -> str:
    if rows.empty:
        return f"{stem}.{ext}"
    return f"{stem}-sols-{int(rows['sol'].min())}-{int(rows['sol'].max())}.{ext}"


def _answers(ok=None, content: dict | None = None) -> Answers:
    return data_answers(ok, content=content, HTTP_404=(schemas.Error, "the layer is not loaded (the error says why)"))


CSV = {"text/csv": {"type": "string"}}
GEOJSON = {"application/geo+json": {"type": "object"}}


@route("/ingenuity/flights", "GET", tags=DATA, query=RangeQuery, resp=_answers(list[Flight]))
def ingenuity_flights():
    """Ingenuity's flights (?sol_min=&sol_max=); flight 0 is the deployment point"""
    perseverance_served()
    return _rows(FLIGHTS, "json")


@route("/ingenuity/flights.csv", "GET", tags=DATA, query=RangeQuery, resp=_answers(content=CSV))
def ingenuity_flights_csv():
    """Ingenuity's (filtered) flights as CSV"""
    perseverance_served()
    return _rows(FLIGHTS, "csv")


@route("/ingenuity/flights.geojson", "GET", tags=DATA, query=RangeQuery, resp=_answers(content=GEOJSON))
def ingenuity_flights_geojson():
    """Ingenuity's (filtered) flights as GeoJSON, a Point where each landed"""
    perseverance_served()
    return _rows(FLIGHTS, "geojson")


@route("/perseverance/samples", "GET", tags=DATA, query=RangeQuery, resp=_answers(list[SampleTube]))
def samples():
    """the sample tubes, one row per tube with its own sol (?sol_min=&sol_max=)"""
    return _rows(SAMPLES, "json")


@route("/perseverance/samples.csv", "GET", tags=DATA, query=RangeQuery, resp=_answers(content=CSV))
def samples_csv():
    """the (filtered) sample tubes as CSV"""
    return _rows(SAMPLES, "csv")


@route("/perseverance/samples.geojson", "GET", tags=DATA, query=RangeQuery, resp=_answers(content=GEOJSON))
def samples_geojson():
    """the (filtered) sample tubes as GeoJSON, a Point per tube at its site"""
    return _rows(SAMPLES, "geojson")


# --- terrain ---------------------------------------------------------------------------------


@route("/terrain", "GET", tags=DATA, resp=_answers(Terrain))
def terrain():
    """Perseverance's terrain under the track (as /perseverance/terrain)"""
    perseverance_served()
    return _terrain()


@route("/perseverance/terrain", "GET", tags=DATA, resp=_answers(Terrain))
def rover_terrain():
    """the terrain under the track: where it lies, its heights, its relief image and scale"""
    return _terrain()


def _terrain() -> Response:
    parse_query(NoQuery)
    found = dataset()
    crop = _layer(found, "terrain")
    shaded = relief(crop, found.memo)
    info = (found.meta.get("layers") or {}).get("terrain") or {}
    box, (rows, cols) = crop.bbox, crop.shape
    km_lat = MARS_RADIUS_M * math.radians(1.0) / 1000.0
    km_lon = km_lat * math.cos(math.radians((box.min_lat + box.max_lat) / 2))
    return json_response(
        {
            "dataset_version": found.version,
            "terrain_version": crop.version,
            "status": info.get("status") or "ok",
            "source": source_label(info.get("source")),
            "source_tile": crop.source_tile,
            "bbox": box.as_sidecar(),
            "pixels_per_degree": PPD,
            "width": cols,
            "height": rows,
            "height_min_m": shaded.low,
            "height_max_m": shaded.high,
            "image": {
                "url": relief_url(shaded, found.rover),
                "fingerprint": shaded.fingerprint,
                "width": cols,
                "height": rows,
                "colorscale": RAMP_NAME,
                "exaggeration": EXAGGERATION,
            },
            "scale": {
                "km_per_degree_lon": round(km_lon, 3),
                "km_per_degree_lat": round(km_lat, 3),
                "width_km": round(km_lon * (box.max_lon - box.min_lon), 2),
                "height_km": round(km_lat * (box.max_lat - box.min_lat), 2),
                "metres_per_pixel": round(km_lat * 1000.0 / PPD, 1),
            },
            "attribution": ATTRIBUTION,
        }
    )


PNG_ANSWERS = Answers(
    content={"HTTP_200": {"image/png": {"type": "string", "format": "binary"}}},
    HTTP_304=(None, NOT_MODIFIED),
    HTTP_400=(schemas.Error, "a query parameter (this route takes none)"),
    HTTP_404=(schemas.Error, "no terrain loaded, or not this fingerprint (an old one: ask /terrain for the current)"),
    HTTP_503=(schemas.Error, "no dataset loaded, or Redis unreachable"),
    headers={"HTTP_200": {"ETag": "the fingerprint", "Cache-Control": IMMUTABLE}},
)


@route("/terrain/<fingerprint>.png", "GET", tags=DATA, resp=PNG_ANSWERS)
def terrain_png(fingerprint: str):
    """Perseverance's shaded relief (as /perseverance/terrain/<fingerprint>.png)"""
    perseverance_served()
    return _terrain_png(fingerprint)


@route("/perseverance/terrain/<fingerprint>.png", "GET", tags=DATA, resp=PNG_ANSWERS)
def rover_terrain_png(fingerprint: str):
    """the terrain's shaded relief (PNG; its name is its fingerprint, cached for ever)"""
    return _terrain_png(fingerprint)


def _terrain_png(fingerprint: str) -> Response:
    parse_query(NoQuery)
    found = dataset()
    shaded = relief(_layer(found, "terrain"), found.memo)
    if fingerprint != shaded.fingerprint:
        raise ApiError(
            404,
            f"no relief image {fingerprint[:32]!r}: the current one is {relief_url(shaded, found.rover)}",
            current=shaded.fingerprint,
        )
    headers = {"Cache-Control": IMMUTABLE, "ETag": f'"{shaded.fingerprint}"'}
    if request.if_none_match.contains(shaded.fingerprint):
        return Response(status=304, headers=headers)
    return Response(shaded.png, content_type="image/png", headers=headers)
