"""The REST API's routes: the original tracker's, plus health, exports and the document.

How a route is registered and answers errors: ``blueprint.py``; its requests:
``models.py``; its bodies: ``render.py``; the document and /help: ``docs.py``; what the
server does around the routes (404s, limits, headers): ``server.py``.
"""

from __future__ import annotations

import hmac
import re

import orjson
import redis
from flask import Flask, Response, request

from dashboard import exports
from dashboard.api import answers, render
from dashboard.api.blueprint import ALL_METHODS, api, dataset, route, settings, store
from dashboard.api.docs import REDIS_AWAY, Answers, data_answers, document, export_answers, help_text
from dashboard.api.models import MAX_BODY as MAX_BODY  # re-exported: tests/deploy/test_static.py reads it here
from dashboard.api.models import ExportBody, FeaturesQuery, JobBody, NoQuery, RangeQuery, parse_body, parse_query
from dashboard.api.responses import ApiError, error, json_response, retry_later
from dashboard.data.load import LoadError, load
from dashboard.data.store import Dataset, StoreError
from dashboard.data.timeline import now
from dashboard.marstime import sol_date

JOB_ID = re.compile(r"^export-[a-z_]{1,32}-[0-9a-f]{20}$")
#: seconds a client should wait when the same export is being queued by another request
RETRY_CONFLICT = 2
EXPORT_ROUTES = {
    "/perseverance/orientation/yaw": ("xy", "sol", "yaw", "queue an image of yaw by sol"),
    "/perseverance/orientation/pitch": ("xy", "sol", "pitch", "queue an image of pitch by sol"),
    "/perseverance/orientation/roll": ("xy", "sol", "roll", "queue an image of roll by sol"),
    "/perseverance/position/longitude": ("xy", "sol", "lon", "queue an image of longitude by sol"),
    "/perseverance/position/latitude": ("xy", "sol", "lat", "queue an image of latitude by sol"),
    "/perseverance/position/map": ("map", None, None, "queue an image of the traverse map"),
}
TEXT = {"text/plain": {"type": "string"}}
NO_REDIS = (answers.Error, REDIS_AWAY)


@route("/help", "GET", resp=Answers(content={"HTTP_200": TEXT}))
def help_route():
    """plain-text table of the routes"""
    return Response(help_text(), content_type="text/plain; charset=utf-8")


@route("/healthz", "GET", resp=Answers(HTTP_200=(answers.Health, "alive")))
def healthz():
    """liveness: the process is not stuck

    Touches nothing outside the process (not Redis, not the dataset): 200 whenever the
    process answers, so a Redis outage or an empty store never gets a pod restarted."""
    return json_response({"status": "ok", "checks": {"process": "ok"}})


@route("/readyz", "GET", resp=Answers(HTTP_200=(answers.Readiness, "ready")))
def readyz():
    """readiness: this process can serve requests

    200 once the app has booted. Redis and the dataset are reported in `checks`, not
    required: the page and the API answer a Redis outage or an empty store in words, and
    Redis is shared, so failing readiness on it would take every web pod out of service
    at once. Neither probe depends on a dataset being loaded."""
    checks = {"app": "ok"}
    try:
        store().redis.ping()
        checks["redis"] = "ok"
        version = store().current_version()
        checks["dataset"] = f"version {version}" if version is not None else "none loaded"
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
    HTTP_200=(answers.LoadSummary, "loaded, or unchanged"),
    HTTP_401=(answers.Error, "the admin token is required and was missing or wrong"),
    HTTP_409=(answers.Error, "a load is already running"),
    HTTP_502=(answers.Error, "a source failed; the previous dataset stays current"),
    HTTP_503=NO_REDIS,
)


@route("/load", "POST", resp=LOAD_ANSWERS, security=[{}, {"admin": []}])
def load_route():
    """reload the layers (waypoints, traverse, current position) from their sources

    When PTRACKER_ADMIN_TOKEN is set: Authorization: Bearer <token>."""
    _require_admin()
    try:
        summary = load(store(), settings())
    except LoadError as exc:
        if "already running" in str(exc):
            return error(409, str(exc))
        current = store().current_version()
        detail = "the previous dataset stays current" if current else "no dataset is loaded"
        return error(502, str(exc), current_version=current, detail=detail)
    return json_response(summary)


def _cached(found: Dataset, key: tuple, build, content_type: str, headers: dict | None = None) -> Response:
    """A pre-serialised answer, built once per dataset version (``Dataset.memo``)."""
    return Response(found.memo(key, build), content_type=content_type, headers=headers)


@route("/perseverance", "GET", query=FeaturesQuery, resp=data_answers(list[answers.Feature]))
def perseverance():
    """waypoints as GeoJSON features (?start=N skips N; ?sol_min=&sol_max=)"""
    query = parse_query(FeaturesQuery)
    found = dataset()
    start = min(query.start, len(found.waypoints))
    key = ("features", start, *render.range_key(found, query))
    return _cached(
        found, key, lambda: orjson.dumps(render.features(render.filtered(found, query))[start:]), "application/json"
    )


@route("/perseverance/sol", "GET", resp=data_answers(answers.Sol, content=TEXT))
def latest_sol():
    """ "Most recent data waypoint is at Sol-N" (JSON with Accept: application/json)"""
    parse_query(NoQuery)
    sol = int(dataset().waypoints["sol"].max())
    # */* (curl) and text/plain get the original's text; JSON only when asked for first
    if request.accept_mimetypes.best_match(["text/plain", "application/json"]) == "application/json":
        return json_response({"sol": sol, "earth_date": sol_date(sol).isoformat()})
    return Response(f"Most recent data waypoint is at Sol-{sol}", content_type="text/plain; charset=utf-8")


@route("/perseverance/current", "GET", resp=data_answers(answers.Now))
def current_position():
    """where the rover is now (newest sol of any layer) and each layer's freshness

    The newest sol of any layer (waypoints, current position, traverse) with its Earth
    date, position, elevation and odometry, and the layer they come from; per layer, the
    last sol it covers. The dashboard's "now" card says the same."""
    return json_response(now(dataset()))


def _columns(columns: list[str], key: str) -> Response:
    query = parse_query(RangeQuery)
    found = dataset()
    build = lambda: render.columns_json(render.filtered(found, query), columns)  # noqa: E731
    return _cached(found, (key, *render.range_key(found, query)), build, "application/json")


@route("/perseverance/orientation", "GET", query=RangeQuery, resp=data_answers(list[answers.Orientation]))
def orientation():
    """[{"sol", "yaw_rad", "pitch", "roll"}] (yaw in radians)"""
    return _columns(["sol", "yaw_rad", "pitch", "roll"], "orientation")


@route("/perseverance/position", "GET", query=RangeQuery, resp=data_answers(list[answers.Position]))
def position():
    """[{"sol", "lon", "lat"}]"""
    return _columns(["sol", "lon", "lat"], "position")


@route(
    "/perseverance/waypoints.csv", "GET", query=RangeQuery, resp=data_answers(content={"text/csv": {"type": "string"}})
)
def waypoints_csv():
    """the (filtered) waypoints as CSV"""
    query = parse_query(RangeQuery)
    found = dataset()
    frame = render.filtered(found, query)
    headers = render.attachment(render.data_filename(frame, "csv"))
    key = ("csv", *render.range_key(found, query))
    return _cached(found, key, lambda: render.csv_bytes(frame), "text/csv; charset=utf-8", headers)


@route(
    "/perseverance/waypoints.geojson",
    "GET",
    query=RangeQuery,
    resp=data_answers(content={"application/geo+json": {"type": "object"}}),
)
def waypoints_geojson():
    """the (filtered) waypoints as a GeoJSON FeatureCollection"""
    query = parse_query(RangeQuery)
    found = dataset()
    frame = render.filtered(found, query)
    headers = render.attachment(render.data_filename(frame, "geojson"))
    key = ("geojson", *render.range_key(found, query))
    return _cached(found, key, lambda: render.geojson_bytes(frame, found.version), "application/geo+json", headers)


def _queue_export(chart: str, xkey: str | None, ykey: str | None, body: ExportBody) -> Response:
    """Submit through :func:`dashboard.exports.request_export` (the page's path too); the
    sols default to, and are narrowed to, the waypoints' range."""
    found = dataset()
    sols = found.waypoints["sol"]
    first, last = int(sols.min()), int(sols.max())
    try:
        job = exports.request_export(
            found,
            chart,
            first if body.sol_min is None else body.sol_min,
            last if body.sol_max is None else body.sol_max,
            body.fmt,
            store=store(),
            settings=settings(),
            address=request.remote_addr,
            width=body.width,
            height=body.height,
            scale=body.scale,
            xkey=xkey,
            ykey=ykey,
            bounds=(first, last),
            listed=True,
        )
    except exports.ExportConflict as exc:
        return retry_later(409, str(exc), RETRY_CONFLICT)
    except exports.ExportError as exc:
        raise ApiError(400, str(exc).replace("sol_min", "start").replace("sol_max", "end")) from None
    except exports.ExportBusy as exc:
        return retry_later(exc.http_status, str(exc), exc.retry_after)
    payload = {
        "id": job.id,
        "status": exports.describe(job)["status"],
        "status_url": f"/jobs/{job.id}",
        "download_url": f"/download/{job.id}",
        "chart": (job.meta or {}).get("chart", chart),
        "params": (job.meta or {}).get("params"),
    }
    return json_response(payload, 202, headers={"Location": f"/jobs/{job.id}"})


def _register_export_routes() -> None:
    for rule, (chart, xkey, ykey, summary) in EXPORT_ROUTES.items():

        def view(chart=chart, xkey=xkey, ykey=ykey):
            return _queue_export(chart, xkey, ykey, parse_body(ExportBody))

        view.__name__ = "export_" + rule.rsplit("/", 1)[1]
        view.__doc__ = summary
        route(rule, "POST", json=ExportBody, resp=export_answers(answers.Accepted))(view)


_register_export_routes()


@route("/jobs", "POST", json=JobBody, resp=export_answers(answers.Accepted))
def jobs_create():
    """queue any field against another {"type": "way", "xkey": "lon", "ykey": "yaw", "start": 0, "end": 400}"""
    body = parse_body(JobBody)
    return _queue_export("xy", body.xkey, body.ykey, body)


@route(
    "/jobs/list",
    "GET",
    resp=Answers(HTTP_200=(list[answers.ListedJob], "exports"), HTTP_503=NO_REDIS),
)
def jobs_list():
    """recent exports with their status"""
    parse_query(NoQuery)
    return json_response(exports.recent(store().redis, store().prefix))


def _known_export(job_id: str) -> dict:
    if not JOB_ID.match(job_id):
        raise ApiError(404, f"no export with id {job_id!r}")
    info = exports.status(store().redis, job_id)
    if info is None:
        raise ApiError(404, f"no export with id {job_id!r} (unknown, or expired)")
    return info


JOB_ANSWERS = Answers(
    HTTP_200=(answers.Job, "status"),
    HTTP_404=(answers.Error, "unknown or expired id"),
    HTTP_422=(answers.Error, "a job whose stored data is not JSON (an old or forged pickled job): refused, never run"),
    HTTP_503=NO_REDIS,
)


@route("/jobs/<path:job_id>", "GET", resp=JOB_ANSWERS)
def job_status(job_id: str):
    """one export's status and progress"""
    info = _known_export(job_id)
    if info["status"] == "unreadable":
        raise ApiError(422, f"export {job_id}: {info['error']}", status="unreadable")
    return json_response(info)


DOWNLOAD_ANSWERS = Answers(
    HTTP_404=(answers.Error, "unknown or expired id"),
    HTTP_409=(answers.Error, "not finished yet (status and error included)"),
    HTTP_503=NO_REDIS,
    content={"HTTP_200": {kind: {"type": "string", "format": "binary"} for kind in exports.FORMATS.values()}},
)


@route("/download/<path:job_id>", "GET", resp=DOWNLOAD_ANSWERS)
def download(job_id: str):
    """the image (409 while not finished)"""
    info = _known_export(job_id)
    if info["status"] != "finished":
        raise ApiError(
            409, f"export {job_id} is {info['status']}, not finished", status=info["status"], detail=info["error"]
        )
    got = exports.download(store().redis, store().prefix, job_id)
    if got is None:
        raise ApiError(404, f"the file of export {job_id} has expired; export it again")
    body, content_type, filename = got
    return Response(body, content_type=content_type, headers=render.attachment(filename))


@route("/openapi.json", "GET", resp=Answers(HTTP_200=(answers.Document, "OpenAPI document")))
def openapi():
    """OpenAPI 3 description of all of the above"""
    return json_response(document())


@route("/perseverance/<path:rest>", *ALL_METHODS, hidden=True)
def perseverance_unknown(rest: str):
    raise ApiError(404, f"no route /perseverance/{rest}; see /help")


def register(server: Flask) -> None:
    """Put the routes on the server."""
    server.register_blueprint(api)
