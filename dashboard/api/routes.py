"""The REST API's routes: the original tracker's data routes, loading, health, /help and
the document (the export routes: ``export_routes.py``).

How a route is registered and answers errors: ``blueprint.py`` and ``errors.py``; its
requests and answers: ``schemas.py``; its bodies: ``serialize.py``; the document and
/help: ``openapi.py``; what the server does around the routes (404s, limits, headers):
``server.py``.
"""

from __future__ import annotations

import hmac

import orjson
import redis
from flask import Response, request

from dashboard.api import schemas, serialize
from dashboard.api.blueprint import ALL_METHODS, dataset, route, serve_rover, settings, store, stores
from dashboard.api.errors import ApiError
from dashboard.api.openapi import DATA, NO_DATA, NO_REDIS, SERVICE, Answers, data_answers, document, help_text
from dashboard.api.schemas import FeaturesQuery, LoadQuery, NoQuery, RangeQuery, parse_query
from dashboard.data.load import LoadBusy, LoadError, load
from dashboard.data.store import Dataset, StoreError
from dashboard.data.timeline import now
from dashboard.http import json_response
from dashboard.rovers import default_of

TEXT = {"text/plain": {"type": "string"}}


@route("/help", "GET", tags=SERVICE, resp=Answers(content={"HTTP_200": TEXT}))
def help_route():
    """plain-text table of the routes"""
    return Response(help_text(), content_type="text/plain; charset=utf-8")


@route("/healthz", "GET", tags=SERVICE, resp=Answers(HTTP_200=(schemas.Health, "alive")))
def healthz():
    """liveness: the process is not stuck

    Touches nothing outside the process (not Redis, not the dataset): 200 whenever the
    process answers, so a Redis outage or an empty store never gets a pod restarted."""
    return json_response({"status": "ok", "checks": {"process": "ok"}})


@route("/readyz", "GET", tags=SERVICE, resp=Answers(HTTP_200=(schemas.Readiness, "ready")))
def readyz():
    """readiness: this process can serve requests

    200 once the app has booted. Redis and the dataset are reported in `checks`, not
    required: the page and the API answer a Redis outage or an empty store in words, and
    Redis is shared, so failing readiness on it would take every web pod out of service
    at once. Neither probe depends on a dataset being loaded."""
    checks: dict = {"app": "ok"}
    served = settings().rovers
    watch = stores()[default_of(served)].watch
    if watch is not None:
        checks["version_watch"] = watch.state
    try:
        stores()[default_of(served)].redis.ping()
        checks["redis"] = "ok"
        datasets = {}
        for name in served:
            version = stores()[name].current_version()
            datasets[name] = f"version {version}" if version is not None else "none loaded"
        checks["dataset"], checks["datasets"] = datasets[default_of(served)], datasets
    except (redis.RedisError, StoreError):
        checks["redis"] = "unreachable"
        checks["dataset"] = "unknown (Redis unreachable)"
    return json_response({"status": "ready", "checks": checks})


def _require_admin() -> None:
    token = settings().admin_token
    if not token:
        return
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
        raise ApiError(401, "this route needs the admin token: Authorization: Bearer <token>")


LOAD_ANSWERS = Answers(
    HTTP_200=(schemas.LoadSummary, "loaded, or unchanged"),
    HTTP_400=(schemas.Error, "an unknown rover, or another query parameter"),
    HTTP_401=(schemas.Error, "the admin token is required and was missing or wrong"),
    HTTP_404=(schemas.Error, "that rover is not served here (the answer names those that are)"),
    HTTP_409=(schemas.Error, "a load is already running"),
    HTTP_502=(schemas.Error, "a source failed; the previous dataset stays current"),
    HTTP_503=NO_REDIS,
)


@route("/load", "POST", tags=DATA, query=LoadQuery, resp=LOAD_ANSWERS, security=[{}, {"admin": []}])
def load_route():
    """reload the layers (waypoints, traverse, current position) from their sources

    One rover's (?rover=curiosity; default Perseverance). When PTRACKER_ADMIN_TOKEN is
    set: Authorization: Bearer <token>."""
    _require_admin()
    name = serve_rover(parse_query(LoadQuery).rover)  # store() is this rover's
    try:
        summary = load(store(), settings().for_rover(name))
    except LoadBusy:
        raise
    except LoadError as exc:
        current = store().current_version()
        detail = "the previous dataset stays current" if current else "no dataset is loaded"
        raise ApiError.of(exc, current_version=current, detail=detail) from None
    return json_response(summary)


def _waypoints_file(ext: str, content_type: str, body) -> Response:
    """The (filtered) waypoints as a downloadable file: ``body(frame, version)``, cached."""
    query = parse_query(RangeQuery)
    found = dataset()
    frame = serialize.filtered(found, query)
    headers = serialize.attachment(serialize.data_filename(frame, ext, found.rover))
    key = (ext, *serialize.range_key(found, query))
    return _cached(found, key, lambda: body(frame, found.version, found.rover), content_type, headers)


def _cached(found: Dataset, key: tuple, build, content_type: str, headers: dict | None = None) -> Response:
    """A pre-serialised answer, built once per dataset version (``Dataset.answer``)."""
    return Response(found.answer(key, build), content_type=content_type, headers=headers)


@route("/perseverance", "GET", tags=DATA, query=FeaturesQuery, resp=data_answers(list[schemas.Feature]))
def perseverance():
    """waypoints as GeoJSON features (?start=N skips N; ?sol_min=&sol_max=)"""
    query = parse_query(FeaturesQuery)
    found = dataset()
    start = min(query.start, len(found.waypoints))
    key = ("features", start, *serialize.range_key(found, query))
    return _cached(
        found,
        key,
        lambda: orjson.dumps(serialize.features(serialize.filtered(found, query))[start:]),
        "application/json",
    )


@route("/perseverance/sol", "GET", tags=DATA, resp=data_answers(schemas.Sol, content=TEXT))
def latest_sol():
    """ "Most recent data waypoint is at Sol-N" (JSON with Accept: application/json)"""
    parse_query(NoQuery)
    found = dataset()
    sol = int(found.waypoints["sol"].max())
    # */* (curl) and text/plain get the original's text; JSON only when asked for first
    if request.accept_mimetypes.best_match(["text/plain", "application/json"]) == "application/json":
        return json_response({"sol": sol, "earth_date": found.calendar.sol_date(sol).isoformat()})
    return Response(f"Most recent data waypoint is at Sol-{sol}", content_type="text/plain; charset=utf-8")


@route(
    "/perseverance/current", "GET", tags=DATA, resp=Answers(HTTP_200=(schemas.Now, "the rover now"), HTTP_503=NO_DATA)
)
def current_position():
    """where the rover is now (newest sol of any layer) and each layer's freshness

    The newest sol of any layer (waypoints, current position, traverse) with its Earth
    date, position, elevation and odometry, and the layer they come from; per layer, the
    last sol it covers. The dashboard's "now" card says the same."""
    return json_response(now(dataset()))


def _columns(columns: list[str], key: str) -> Response:
    query = parse_query(RangeQuery)
    found = dataset()
    build = lambda: serialize.columns_json(serialize.filtered(found, query), columns)  # noqa: E731
    return _cached(found, (key, *serialize.range_key(found, query)), build, "application/json")


@route("/perseverance/orientation", "GET", tags=DATA, query=RangeQuery, resp=data_answers(list[schemas.Orientation]))
def orientation():
    """[{"sol", "yaw_rad", "pitch", "roll"}] (yaw in radians)"""
    return _columns(["sol", "yaw_rad", "pitch", "roll"], "orientation")


@route("/perseverance/position", "GET", tags=DATA, query=RangeQuery, resp=data_answers(list[schemas.Position]))
def position():
    """[{"sol", "lon", "lat"}]"""
    return _columns(["sol", "lon", "lat"], "position")


@route(
    "/perseverance/waypoints.csv",
    "GET",
    tags=DATA,
    query=RangeQuery,
    resp=data_answers(content={"text/csv": {"type": "string"}}),
)
def waypoints_csv():
    """the (filtered) waypoints as CSV"""
    return _waypoints_file("csv", "text/csv; charset=utf-8", lambda frame, _version, _rover: serialize.csv_bytes(frame))


@route(
    "/perseverance/waypoints.geojson",
    "GET",
    tags=DATA,
    query=RangeQuery,
    resp=data_answers(content={"application/geo+json": {"type": "object"}}),
)
def waypoints_geojson():
    """the (filtered) waypoints as a GeoJSON FeatureCollection"""
    return _waypoints_file("geojson", "application/geo+json", serialize.geojson_bytes)


@route("/openapi.json", "GET", tags=SERVICE, resp=Answers(HTTP_200=(schemas.Document, "OpenAPI document")))
def openapi():
    """OpenAPI 3 description of all of the above"""
    return json_response(document())


@route("/perseverance/<path:rest>", *ALL_METHODS, hidden=True)
def perseverance_unknown(rest: str):
    raise ApiError(404, f"no route {request.path}; see /help")
