"""REST API on the dashboard's Flask server: the original tracker's routes, JSON errors.

Every answer is JSON (or the file / text the route promises); errors are
``{"error": "...", ...}`` with the right status, never an HTML page or a traceback.
Dash serves its page for any unknown path; :func:`install` answers those with a JSON 404
and sends ``/`` as plain help text to clients that do not ask for HTML (plain curl).
"""

from __future__ import annotations

import csv
import hmac
import io
import math
import re
import time
from functools import wraps

import orjson
import pandas as pd
import redis
from flask import Blueprint, Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from dashboard import exports
from dashboard.api.http_cache import current_dataset
from dashboard.data.load import LoadError, load
from dashboard.data.parse import WAYPOINT_COLUMNS
from dashboard.data.store import Dataset, StoreError
from dashboard.figures import FIELDS
from dashboard.marstime import sol_date

api = Blueprint("api", __name__)
JOB_ID = re.compile(r"^export-[a-z_]{1,32}-[0-9a-f]{20}$")
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
MAX_BODY = 64 * 1024
RECENT_JOBS = 100
#: Paths that belong to Dash (its page, scripts, callbacks) rather than the API.
DASH_PREFIXES = ("/_dash-", "/assets/", "/_favicon", "/_reload-hash", "/_alive")
EXPORT_ROUTES = {
    "/perseverance/orientation/yaw": ("xy", "sol", "yaw"),
    "/perseverance/orientation/pitch": ("xy", "sol", "pitch"),
    "/perseverance/orientation/roll": ("xy", "sol", "roll"),
    "/perseverance/position/longitude": ("xy", "sol", "lon"),
    "/perseverance/position/latitude": ("xy", "sol", "lat"),
    "/perseverance/position/map": ("map", None, None),
}


class ApiError(Exception):
    def __init__(self, http_status: int, message: str, **extra):
        super().__init__(message)
        self.http_status, self.message, self.extra = http_status, message, extra


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    body = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status=status, content_type="application/json", headers=headers)


def error(http_status: int, message: str, headers: dict | None = None, **extra) -> Response:
    return json_response({"error": message, **extra}, http_status, headers=headers)


def _method_not_allowed(where: str, methods) -> Response:
    allowed = [m for m in methods if m not in ("OPTIONS", "TRACE")] or list(methods)
    resp = error(405, f"{request.method} is not allowed on {where}; use {', '.join(allowed)}", allowed=allowed)
    resp.headers["Allow"] = ", ".join(allowed)
    return resp


def route(rule: str, *methods: str):
    """A route that answers JSON 405 (with Allow) to other methods, instead of letting
    Dash's catch-all page route take them."""

    def decorate(fn):
        @wraps(fn)
        def view(**kwargs):
            # HEAD is GET without the body (werkzeug drops the body of a HEAD answer)
            if request.method not in methods and not (request.method == "HEAD" and "GET" in methods):
                return _method_not_allowed(rule, methods)
            try:
                return fn(**kwargs)
            except ApiError as exc:
                resp = error(exc.http_status, exc.message, **exc.extra)
                if exc.http_status == 401:
                    resp.headers["WWW-Authenticate"] = 'Bearer realm="perseverance-tracker"'
                return resp
            except redis.exceptions.OutOfMemoryError:
                return error(
                    503,
                    "the data store (Redis) is out of memory (its maxmemory is reached): nothing "
                    "was saved; try again later",
                    retry_after=60,
                    headers={"Retry-After": "60"},
                )
            except redis.RedisError:
                return error(503, "the data store (Redis) is not reachable; try again shortly")
            except StoreError as exc:
                return error(503, str(exc))

        api.add_url_rule(rule, fn.__name__, view, methods=ALL_METHODS, provide_automatic_options=False)
        return view

    return decorate


def _store():
    return current_app.config["PTRACKER_STORE"]


def _settings():
    return current_app.config["PTRACKER_SETTINGS"]


def _dataset() -> Dataset:
    failed = g.pop("ptracker_store_error", None)  # this request's read already failed
    if failed is not None:
        raise failed
    dataset = g.get("ptracker_dataset") or current_dataset(_store(), current_app.config.get("PTRACKER_VERSION_TTL", 0))
    if dataset is None:
        raise ApiError(503, "no dataset loaded yet: POST /load to load it")
    return dataset


def _wants_json() -> bool:
    # */* (curl) and text/plain get the original's text; JSON only when asked for first
    return request.accept_mimetypes.best_match(["text/plain", "application/json"]) == "application/json"


def _int_arg(name: str, default=None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        number = float(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a number, not {raw!r}") from None
    if not math.isfinite(number) or number != int(number):
        raise ApiError(400, f"{name} must be a whole number, not {raw!r}")
    return int(number)


#: Query parameters each GET data route knows; any other is answered 400 (a typo should
#: not silently return everything, and junk parameters must not defeat the cache).
RANGE_ARGS = ("sol_min", "sol_max")


def _known_args(*allowed: str) -> None:
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        shown = ", ".join(u[:40] for u in unknown[:5])
        raise ApiError(400, f"unknown query parameter(s) {shown}; allowed: {', '.join(allowed) or 'none'}")


def _range_key(dataset: Dataset) -> tuple:
    """The cache key of a sol range: the two ends clamped to the data, so that every
    spelling of the same rows (13, 13.0, 0 before the first sol) shares one entry."""
    lo, hi = _int_arg("sol_min"), _int_arg("sol_max")
    sols = dataset.waypoints["sol"]
    first, last = int(sols.min()), int(sols.max())
    if lo is not None and hi is not None and lo > hi:
        raise ApiError(400, f"sol range is reversed: sol_min {lo} is after sol_max {hi}")
    lo = first if lo is None else min(max(lo, first), last + 1)
    hi = last if hi is None else max(min(hi, last), first - 1)
    return lo, hi


def _filtered(dataset: Dataset) -> pd.DataFrame:
    lo, hi = _int_arg("sol_min"), _int_arg("sol_max")
    if lo is not None and hi is not None and lo > hi:
        raise ApiError(400, f"sol range is reversed: sol_min {lo} is after sol_max {hi}")
    wp = dataset.waypoints
    if lo is None and hi is None:
        return wp
    sols = wp["sol"]
    mask = pd.Series(True, index=wp.index)
    if lo is not None:
        mask &= sols >= lo
    if hi is not None:
        mask &= sols <= hi
    return wp[mask]


# --- cached, pre-serialised answers per dataset version ----------------------------------

_CACHE: dict[tuple, bytes] = {}
#: bytes the per-process answer cache may hold (a full /perseverance answer is ~240 KB)
CACHE_MAX_BYTES = 32 * 1024 * 1024
_cache_bytes = 0


def _cached(dataset: Dataset, key: tuple, build) -> bytes:
    # keyed by content (the layers' sha256), so two stores in one process never mix
    full = (dataset.meta.get("sha256") or dataset.version, dataset.version, *key)
    global _cache_bytes
    body = _CACHE.get(full)
    if body is None:
        body = build()
        if len(_CACHE) > 256 or _cache_bytes + len(body) > CACHE_MAX_BYTES:
            _CACHE.clear()
            _cache_bytes = 0
        _CACHE[full] = body
        _cache_bytes += len(body)
    return body


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    out = frame[columns].astype(object).where(frame[columns].notna(), None)
    return out.to_dict("records")


def features(frame: pd.DataFrame) -> list[dict]:
    """Waypoints as GeoJSON features: type, properties (the normalised columns, missing
    values null, sol an int), geometry [lon, lat, elev]."""
    props = _records(frame, list(WAYPOINT_COLUMNS))
    out = []
    for p in props:
        p["sol"] = int(p["sol"])
        p["site"], p["drive"] = int(p["site"]), int(p["drive"])
        p["final"] = bool(p["final"])
        coords = [p["lon"], p["lat"]] + ([p["elev_geoid"]] if p["elev_geoid"] is not None else [])
        out.append({"type": "Feature", "properties": p, "geometry": {"type": "Point", "coordinates": coords}})
    return out


# --- routes ---------------------------------------------------------------------------------


@route("/help", "GET")
def help_text():
    return Response(HELP, content_type="text/plain; charset=utf-8")


@route("/healthz", "GET")
def healthz():
    """Liveness: the process is not stuck. It touches nothing outside the process, so a
    Redis outage or an empty store never gets a pod restarted."""
    return json_response({"status": "ok", "checks": {"process": "ok"}})


@route("/readyz", "GET")
def readyz():
    """Readiness: this process can serve requests. Always 200 once the app has booted.
    Redis and the dataset are reported, not required: the page and the API answer a
    Redis outage or an empty store in words (503 JSON, "Load data"), and Redis is shared,
    so failing readiness on it would take every web pod out of the Service at once."""
    checks = {"app": "ok"}
    store = _store()
    try:
        store.redis.ping()
        checks["redis"] = "ok"
        version = store.current_version()
        checks["dataset"] = f"version {version}" if version is not None else "none loaded"
    except (redis.RedisError, StoreError):
        checks["redis"] = "unreachable"
        checks["dataset"] = "unknown (Redis unreachable)"
    return json_response({"status": "ready", "checks": checks})


def _require_admin() -> None:
    token = _settings().admin_token
    if not token:
        return
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
        raise ApiError(401, "this route needs the admin token: Authorization: Bearer <token>")


@route("/load", "POST")
def load_route():
    _require_admin()
    store, settings = _store(), _settings()
    try:
        summary = load(store, settings)
    except LoadError as exc:
        if "already running" in str(exc):
            return error(409, str(exc))
        current = store.current_version()
        return error(
            502,
            str(exc),
            current_version=current,
            detail="the previous dataset stays current" if current else "no dataset is loaded",
        )
    return json_response(summary)


@route("/perseverance", "GET")
def perseverance():
    _known_args("start", *RANGE_ARGS)
    dataset = _dataset()
    start = _int_arg("start", 0)
    if start < 0:
        raise ApiError(400, f"start must be 0 or more, not {start}")
    start = min(start, len(dataset.waypoints))

    def build():
        return orjson.dumps(features(_filtered(dataset))[start:])

    return Response(_cached(dataset, ("features", start, *_range_key(dataset)), build), content_type="application/json")


@route("/perseverance/sol", "GET")
def latest_sol():
    _known_args()
    dataset = _dataset()
    sol = int(dataset.waypoints["sol"].max())
    if _wants_json():
        return json_response({"sol": sol, "earth_date": sol_date(sol).isoformat()})
    return Response(f"Most recent data waypoint is at Sol-{sol}", content_type="text/plain; charset=utf-8")


@route("/perseverance/current", "GET")
def current_position():
    """Where the rover is now: the newest sol of any layer (waypoints, current position,
    traverse), its Earth date, position, elevation and odometry, and each layer's freshness
    (the dashboard's "now" card)."""
    from dashboard.data.timeline import now

    return json_response(now(_dataset()))


def _columns_route(columns: list[str], key: str):
    _known_args(*RANGE_ARGS)
    dataset = _dataset()

    def build():
        rows = _records(_filtered(dataset), columns)
        for row in rows:
            row["sol"] = int(row["sol"])
        return orjson.dumps(rows)

    return Response(_cached(dataset, (key, *_range_key(dataset)), build), content_type="application/json")


@route("/perseverance/orientation", "GET")
def orientation():
    return _columns_route(["sol", "yaw_rad", "pitch", "roll"], "orientation")


@route("/perseverance/position", "GET")
def position():
    return _columns_route(["sol", "lon", "lat"], "position")


@route("/perseverance/waypoints.csv", "GET")
def waypoints_csv():
    _known_args(*RANGE_ARGS)
    dataset = _dataset()
    frame = _filtered(dataset)

    def build():
        buf = io.StringIO()
        defuse_formulas(frame).to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL)
        return buf.getvalue().encode()

    body = _cached(dataset, ("csv", *_range_key(dataset)), build)
    return Response(
        body,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_data_filename(frame, "csv")}"'},
    )


#: A cell starting with one of these is run as a formula by spreadsheet programs.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """NASA's free-text fields as inert spreadsheet text: a text cell that starts like a
    formula gets a leading single quote. Numeric columns are left alone (-1.5 stays a
    number)."""
    out = None
    for name, dtype in WAYPOINT_COLUMNS.items():
        if dtype != "str" or name not in frame:
            continue
        col = frame[name]
        risky = col.str.startswith(FORMULA_START, na=False)
        if risky.any():
            out = frame.copy() if out is None else out
            out.loc[risky, name] = "'" + col[risky]
    return frame if out is None else out


@route("/perseverance/waypoints.geojson", "GET")
def waypoints_geojson():
    _known_args(*RANGE_ARGS)
    dataset = _dataset()
    frame = _filtered(dataset)

    def build():
        doc = {
            "type": "FeatureCollection",
            "name": "perseverance_waypoints",
            "dataset_version": dataset.version,
            "features": features(frame),
        }
        return orjson.dumps(doc)

    return Response(
        _cached(dataset, ("geojson", *_range_key(dataset)), build),
        content_type="application/geo+json",
        headers={"Content-Disposition": f'attachment; filename="{_data_filename(frame, "geojson")}"'},
    )


def _data_filename(frame: pd.DataFrame, ext: str) -> str:
    if frame.empty:
        return f"perseverance-waypoints.{ext}"
    return f"perseverance-waypoints-sols-{int(frame['sol'].min())}-{int(frame['sol'].max())}.{ext}"


def _json_body() -> dict:
    """The request's JSON object. Only ``Content-Type: application/json`` is read (415
    otherwise): a cross-site HTML form can send text/plain, form or multipart bodies
    without a preflight, but not JSON."""
    if request.mimetype != "application/json":
        raise ApiError(
            415, f"send the body as JSON with Content-Type: application/json, not {(request.mimetype or 'none')[:60]!r}"
        )
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY:
        raise ApiError(413, f"request body is over {MAX_BODY:,} bytes")
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"body is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"body must be a JSON object, not a JSON {type(body).__name__}")
    return body


EXPORT_FIELDS = {"start", "end", "format", "width", "height", "scale"}


def _queue_export(chart: str, xkey, ykey, body: dict, extra_fields=frozenset()) -> Response:
    unknown = sorted(set(body) - EXPORT_FIELDS - set(extra_fields))
    if unknown:
        raise ApiError(
            400,
            f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(EXPORT_FIELDS | set(extra_fields)))}",
        )
    dataset = _dataset()
    sols = dataset.waypoints["sol"]
    first, last = int(sols.min()), int(sols.max())
    try:
        req = exports.validate(
            chart,
            body.get("start", first),
            body.get("end", last),
            body.get("format", "png"),
            body.get("width"),
            body.get("height"),
            body.get("scale", 1),
            xkey=xkey,
            ykey=ykey,
            bounds=(first, last),
        )
    except exports.ExportError as exc:
        raise ApiError(400, str(exc).replace("sol_min", "start").replace("sol_max", "end")) from None
    settings = _settings()
    store = _store()
    client = exports.client_key(request.remote_addr)
    try:
        exports.admit(
            store.redis, store.prefix, client, settings.export_rate, settings.queue_max, settings.queue_client_max
        )
    except exports.ExportBusy as exc:
        resp = error(exc.http_status, str(exc), retry_after=exc.retry_after)
        resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    try:
        job = exports.submit(store.redis, store.prefix, dataset.version, req, exports.export_settings(settings), client)
    except exports.ExportError as exc:  # the same export is being queued by another request
        resp = error(409, str(exc), retry_after=2)
        resp.headers["Retry-After"] = "2"
        return resp
    exports.note_pending(store.redis, store.prefix, client, job.id, settings.export_ttl)
    _remember(store, job.id)
    info = exports.describe(job)
    payload = {
        "id": job.id,
        "status": info["status"],
        "status_url": f"/jobs/{job.id}",
        "download_url": f"/download/{job.id}",
        "chart": req.chart,
        "params": req.public(),
    }
    return json_response(payload, 202, headers={"Location": f"/jobs/{job.id}"})


def _remember(store, job_id: str) -> None:
    key = f"{store.prefix}export:recent"
    pipe = store.redis.pipeline()
    pipe.zadd(key, {job_id: time.time()})
    pipe.zremrangebyrank(key, 0, -(RECENT_JOBS + 1))
    pipe.execute()


def _register_export_routes() -> None:
    for rule, (chart, xkey, ykey) in EXPORT_ROUTES.items():

        def view(chart=chart, xkey=xkey, ykey=ykey):
            return _queue_export(chart, xkey, ykey, _json_body())

        view.__name__ = "export_" + rule.rsplit("/", 1)[1]
        route(rule, "POST")(view)


_register_export_routes()


@route("/jobs", "POST")
def jobs_create():
    body = _json_body()
    kind = body.get("type", "way")
    if kind != "way":
        raise ApiError(400, f"unknown type {kind!r}; allowed: way (waypoint fields)")
    for name in ("xkey", "ykey"):
        if name not in body:
            raise ApiError(400, f"{name} is required; allowed: {', '.join(FIELDS)}")
    fields = {k: v for k, v in body.items() if k not in ("type", "xkey", "ykey")}
    return _queue_export("xy", body["xkey"], body["ykey"], fields)


LISTED = ("id", "chart", "status", "stage", "progress", "created_at", "ended_at", "error", "filename")


def listed(info: dict) -> dict:
    """What /jobs/list shows of an export: what a user needs to find and fetch theirs
    (the chart, format, sols and state), not other clients' full parameters."""
    params = info.get("params") or {}
    return {
        **{k: info.get(k) for k in LISTED},
        "format": params.get("fmt"),
        "sol_min": params.get("sol_min"),
        "sol_max": params.get("sol_max"),
    }


@route("/jobs/list", "GET")
def jobs_list():
    _known_args()
    store = _store()
    key = f"{store.prefix}export:recent"
    out, gone = [], []
    for raw in store.redis.zrevrange(key, 0, RECENT_JOBS - 1):
        job_id = raw.decode()
        info = exports.status(store.redis, job_id)
        if info is None:
            gone.append(job_id)
        else:
            out.append(listed(info))
    if gone:
        store.redis.zrem(key, *gone)
    return json_response(out)


@route("/jobs/<path:job_id>", "GET")
def job_status(job_id: str):
    if not JOB_ID.match(job_id):
        raise ApiError(404, f"no export with id {job_id!r}")
    info = exports.status(_store().redis, job_id)
    if info is None:
        raise ApiError(404, f"no export with id {job_id!r} (unknown, or expired)")
    if info["status"] == "unreadable":
        raise ApiError(422, f"export {job_id}: {info['error']}", status="unreadable")
    return json_response(info)


@route("/download/<path:job_id>", "GET")
def download(job_id: str):
    if not JOB_ID.match(job_id):
        raise ApiError(404, f"no export with id {job_id!r}")
    store = _store()
    info = exports.status(store.redis, job_id)
    if info is None:
        raise ApiError(404, f"no export with id {job_id!r} (unknown, or expired)")
    if info["status"] != "finished":
        raise ApiError(
            409, f"export {job_id} is {info['status']}, not finished", status=info["status"], detail=info["error"]
        )
    got = exports.download(store.redis, store.prefix, job_id)
    if got is None:
        raise ApiError(404, f"the file of export {job_id} has expired; export it again")
    body, content_type, filename = got
    return Response(
        body, content_type=content_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@route("/openapi.json", "GET")
def openapi():
    from dashboard.api.openapi import document

    return json_response(document())


@route("/perseverance/<path:rest>", *ALL_METHODS)
def perseverance_unknown(rest: str):
    raise ApiError(404, f"no route /perseverance/{rest}; see /help")


# --- installation on the server --------------------------------------------------------------

HELP = """Perseverance Tracker: routes (all on this server's port)

  GET   /                                   the dashboard (plain clients get this help)
  GET   /help                               this help
  POST  /load                               reload the layers (waypoints, traverse, current position) from their sources
  GET   /perseverance                       waypoints as GeoJSON features (?start=N skips N; ?sol_min=&sol_max=)
  GET   /perseverance/sol                   "Most recent data waypoint is at Sol-N" (JSON with Accept: application/json)
  GET   /perseverance/current               where the rover is now (newest sol of any layer) and each layer's freshness
  GET   /perseverance/orientation           [{"sol", "yaw_rad", "pitch", "roll"}]
  GET   /perseverance/position              [{"sol", "lon", "lat"}]
  GET   /perseverance/waypoints.csv         the (filtered) waypoints as CSV
  GET   /perseverance/waypoints.geojson     the (filtered) waypoints as a GeoJSON FeatureCollection
  POST  /perseverance/orientation/yaw       queue an image of yaw by sol     body {"start": 0, "end": 400}
  POST  /perseverance/orientation/pitch     queue an image of pitch by sol   optional: "format" png|svg|pdf,
  POST  /perseverance/orientation/roll      queue an image of roll by sol              "width", "height", "scale"
  POST  /perseverance/position/longitude    queue an image of longitude by sol
  POST  /perseverance/position/latitude     queue an image of latitude by sol
  POST  /perseverance/position/map          queue an image of the traverse map
  POST  /jobs                               queue any field against another {"type": "way", "xkey": "lon", "ykey": "yaw", "start": 0, "end": 400}
  GET   /jobs/list                          recent exports with their status
  GET   /jobs/<id>                          one export's status and progress
  GET   /download/<id>                      the image (409 while not finished)
  GET   /healthz  /readyz                   liveness; readiness (this process serves; Redis and dataset reported)
  GET   /openapi.json                       OpenAPI 3 description of all of the above

Example:
  curl localhost:8050/perseverance/orientation/yaw -X POST -H 'Content-Type: application/json' -d '{"start":"0","end":"400"}'
  curl -OJ localhost:8050/download/<id from the answer>
"""


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def content_security_policy(script_hashes) -> str:
    """A CSP that Dash and plotly.js run under: scripts only from this server plus Dash's
    own inline scripts by hash, and 'unsafe-eval' because plotly's WebGL traces (regl)
    compile their draw calls with ``new Function`` (without it, scattergl charts stop
    responding to selection); inline styles (plotly sets them); images as data/blob URLs
    (plotly's modebar download, WebGL); no framing."""
    scripts = " ".join(["'self'", *script_hashes, "'unsafe-eval'"])
    return (
        "default-src 'self'; "
        f"script-src {scripts}; "
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; "
        "font-src 'self' data:; "
        "connect-src 'self'; "
        "worker-src 'self' blob:; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )


def install(server: Flask, script_hashes=()) -> None:
    """Register the API, its JSON error handling and the security headers on the
    dashboard's Flask server."""
    from dashboard.page.guard import CALLBACK_PATH, MAX_CALLBACK_BODY

    server.config["MAX_CONTENT_LENGTH"] = MAX_CALLBACK_BODY  # the API's own routes allow MAX_BODY
    server.register_blueprint(api)
    csp = content_security_policy(script_hashes)

    @server.after_request
    def _headers(resp: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(name, value)
        resp.headers.setdefault("Content-Security-Policy", csp)
        return resp

    @server.before_request
    def _api_first():
        if request.content_length is not None and request.content_length > MAX_BODY and request.path != CALLBACK_PATH:
            return error(413, f"request body is over {MAX_BODY:,} bytes")
        path = request.path
        if path == "/" and request.method in ("GET", "HEAD"):
            # the page for clients that name text/html (browsers); help for the rest (curl: */*)
            if "text/html" not in request.headers.get("Accept", ""):
                return Response(HELP, content_type="text/plain; charset=utf-8")
            return None
        rule = request.url_rule.rule if request.url_rule is not None else None
        if rule is None and isinstance(request.routing_exception, MethodNotAllowed):
            return _method_not_allowed(path, request.routing_exception.valid_methods or [])
        if rule is None or (rule.startswith("/<path:") and not path.startswith(DASH_PREFIXES)):
            return error(404, f"no route {path}; see /help")
        return None

    @server.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code == 413:
            return error(413, "request body is too large")
        if exc.code == 405:
            return _method_not_allowed(request.path, getattr(exc, "valid_methods", None) or [])
        return error(exc.code or 500, exc.description or exc.name)

    @server.errorhandler(Exception)
    def _unexpected(exc: Exception):
        current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error(500, "internal error; it has been logged")
