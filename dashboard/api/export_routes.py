"""The REST API's export routes: queue an image or a replay of the drive, follow it, fetch
the file.

Both the page and these routes submit through :func:`dashboard.exports.submit.request_export`;
the errors it raises get their status in ``errors.py``.
"""

from __future__ import annotations

import re

from flask import Response, request

from dashboard.api import schemas, serialize
from dashboard.api.blueprint import dataset, route, serve_rover, settings, store
from dashboard.api.errors import ApiError
from dashboard.api.export_schemas import Accepted, ExportBody, Job, JobBody, ListedJob, ReplayBody
from dashboard.api.openapi import EXPORTS, NO_REDIS, Answers, export_answers
from dashboard.api.schemas import NoQuery, parse_body, parse_query
from dashboard.data.store import Dataset
from dashboard.data.timeline import sol_bounds
from dashboard.exports.admission import client_key
from dashboard.exports.errors import ExportError
from dashboard.exports.request import CONTENT_TYPES, REPLAY
from dashboard.exports.status import download as export_file
from dashboard.exports.status import job_status as public_status
from dashboard.exports.status import recent, status_of
from dashboard.exports.submit import request_export
from dashboard.http import json_response

JOB_ID = re.compile(r"^export-[a-z_]{1,32}-[0-9a-f]{20}$")
EXPORT_ROUTES = {
    "/perseverance/orientation/yaw": ("xy", "sol", "yaw", "queue an image of yaw by sol"),
    "/perseverance/orientation/pitch": ("xy", "sol", "pitch", "queue an image of pitch by sol"),
    "/perseverance/orientation/roll": ("xy", "sol", "roll", "queue an image of roll by sol"),
    "/perseverance/position/longitude": ("xy", "sol", "lon", "queue an image of longitude by sol"),
    "/perseverance/position/latitude": ("xy", "sol", "lat", "queue an image of latitude by sol"),
    "/perseverance/position/map": ("map", None, None, "queue an image of the traverse map"),
}


def _queue_export(chart: str, xkey: str | None, ykey: str | None, body: ExportBody) -> Response:
    """Submit through :func:`dashboard.exports.submit.request_export` (the page's path too);
    the sols default to, and are narrowed to, the waypoints' range."""
    found = dataset()
    sols = found.waypoints["sol"]
    first, last = int(sols.min()), int(sols.max())
    fields = {
        "chart": chart,
        "sol_min": first if body.sol_min is None else body.sol_min,
        "sol_max": last if body.sol_max is None else body.sol_max,
        "fmt": body.fmt,
        "width": body.width,
        "height": body.height,
        "scale": body.scale,
        "xkey": xkey,
        "ykey": ykey,
    }
    return _submit(found, fields, (first, last))


def _submit(found: Dataset, fields: dict, bounds: tuple[int, int]) -> Response:
    """The export queued (or the existing one), answered 202 with where to follow it."""
    try:
        job = request_export(
            found,
            fields,
            store=store(),
            settings=settings(),
            address=request.remote_addr,
            bounds=bounds,
            listed=True,
        )
    except ExportError as exc:  # the API's body names the sols start and end
        raise ExportError(str(exc).replace("sol_min", "start").replace("sol_max", "end")) from None
    payload = {
        "id": job.id,
        "status": public_status(job)["status"],
        "status_url": f"/jobs/{job.id}",
        "download_url": f"/download/{job.id}",
        "chart": (job.meta or {}).get("chart", fields["chart"]),
        "params": (job.meta or {}).get("params"),
    }
    return json_response(payload, 202, headers={"Location": f"/jobs/{job.id}"})


def _register_export_routes() -> None:
    for rule, (chart, xkey, ykey, summary) in EXPORT_ROUTES.items():

        def view(chart=chart, xkey=xkey, ykey=ykey):
            return _queue_export(chart, xkey, ykey, parse_body(ExportBody))

        view.__name__ = "export_" + rule.rsplit("/", 1)[1]
        view.__doc__ = summary
        route(rule, "POST", tags=EXPORTS, json=ExportBody, resp=export_answers(Accepted))(view)


_register_export_routes()


@route("/perseverance/replay", "POST", tags=EXPORTS, json=ReplayBody, resp=export_answers(Accepted))
def export_replay():
    """queue a replay of the drive (the traverse map sol by sol) as MP4, GIF or WebM"""
    body = parse_body(ReplayBody)
    found = dataset()
    first, last = sol_bounds(found)  # the timeline of the layers: the traverse goes on past the waypoints
    fields = {
        "chart": REPLAY,
        "sol_min": first if body.sol_min is None else body.sol_min,
        "sol_max": last if body.sol_max is None else body.sol_max,
        "fmt": body.fmt,
        "frames": body.frames,
        "fps": body.fps,
        "width": body.width,
        "height": body.height,
    }
    return _submit(found, fields, (first, last))


@route("/jobs", "POST", tags=EXPORTS, json=JobBody, resp=export_answers(Accepted))
def jobs_create():
    """queue any field against another {"type": "way", "xkey": "lon", "ykey": "yaw", "start": 0, "end": 400}"""
    body = parse_body(JobBody)
    serve_rover(body.rover)  # whose waypoints: its dataset, where it is served
    return _queue_export("xy", body.xkey, body.ykey, body)


@route(
    "/jobs/list",
    "GET",
    tags=EXPORTS,
    resp=Answers(
        HTTP_200=(list[ListedJob], "exports"), HTTP_400=(schemas.Error, "a query parameter"), HTTP_503=NO_REDIS
    ),
)
def jobs_list():
    """your recent exports (this client's, newest first) with their status"""
    parse_query(NoQuery)
    return json_response(recent(store().redis, store().prefix, client_key(request.remote_addr)))


def _known_export(job_id: str) -> dict:
    if not JOB_ID.match(job_id):
        raise ApiError(404, f"no export with id {job_id!r}")
    info = status_of(store().redis, job_id)
    if info is None:
        raise ApiError(404, f"no export with id {job_id!r} (unknown, or expired)")
    return info


JOB_ANSWERS = Answers(
    HTTP_200=(Job, "status"),
    HTTP_404=(schemas.Error, "unknown or expired id"),
    HTTP_422=(schemas.Error, "a job whose stored data is not JSON (an old or forged pickled job): refused, never run"),
    HTTP_503=NO_REDIS,
)


@route("/jobs/<path:job_id>", "GET", tags=EXPORTS, resp=JOB_ANSWERS)
def job_status(job_id: str):
    """one export's status and progress"""
    info = _known_export(job_id)
    if info["status"] == "unreadable":
        raise ApiError(422, f"export {job_id}: {info['error']}", status="unreadable")
    return json_response(info)


DOWNLOAD_ANSWERS = Answers(
    HTTP_404=(schemas.Error, "unknown or expired id"),
    HTTP_409=(schemas.Error, "not finished yet (status and error included)"),
    HTTP_503=NO_REDIS,
    content={"HTTP_200": {kind: {"type": "string", "format": "binary"} for kind in CONTENT_TYPES.values()}},
)


@route("/download/<path:job_id>", "GET", tags=EXPORTS, resp=DOWNLOAD_ANSWERS)
def download(job_id: str):
    """the image or video (409 while not finished)"""
    info = _known_export(job_id)
    if info["status"] != "finished":
        raise ApiError(
            409, f"export {job_id} is {info['status']}, not finished", status=info["status"], detail=info["error"]
        )
    got = export_file(store().redis, store().prefix, job_id)
    if got is None:
        raise ApiError(404, f"the file of export {job_id} has expired; export it again")
    body, content_type, filename = got
    return Response(body, content_type=content_type, headers=serialize.attachment(filename))
