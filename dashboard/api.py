"""REST routes on the dashboard's Flask server (a blueprint). JSON errors throughout."""

from __future__ import annotations

import re

import redis
from flask import Blueprint, Response, current_app, jsonify

from . import exports

api = Blueprint("api", __name__)
JOB_ID = re.compile(r"^export-[a-z_]{1,32}-[0-9a-f]{20}$")


def _error(http_status: int, message: str, **extra):
    resp = jsonify({"error": message, **extra})
    resp.status_code = http_status
    return resp


def _store():
    return current_app.config["PTRACKER_STORE"]


@api.get("/download/<path:job_id>")
def download(job_id: str):
    if not JOB_ID.match(job_id):
        return _error(404, f"no export with id {job_id!r}")
    store = _store()
    try:
        info = exports.status(store.redis, job_id)
        if info is None:
            return _error(404, f"no export with id {job_id!r} (unknown, or expired)")
        if info["status"] != "finished":
            return _error(409, f"export {job_id} is {info['status']}, not finished", status=info["status"],
                          detail=info["error"])
        got = exports.download(store.redis, store.prefix, job_id)
    except redis.RedisError:
        return _error(503, "the data store (Redis) is not reachable; try again shortly")
    if got is None:
        return _error(404, f"the file of export {job_id} has expired; export it again")
    body, content_type, filename = got
    return Response(body, content_type=content_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@api.get("/jobs/<path:job_id>")
def job_status(job_id: str):
    if not JOB_ID.match(job_id):
        return _error(404, f"no export with id {job_id!r}")
    try:
        info = exports.status(_store().redis, job_id)
    except redis.RedisError:
        return _error(503, "the data store (Redis) is not reachable; try again shortly")
    if info is None:
        return _error(404, f"no export with id {job_id!r} (unknown, or expired)")
    return jsonify(info)


@api.get("/healthz")
def healthz():
    """Liveness: the process answers."""
    return jsonify({"status": "ok"})


@api.get("/readyz")
def readyz():
    """Readiness: Redis reachable and a dataset loaded."""
    store = _store()
    try:
        store.redis.ping()
        version = store.current_version()
    except redis.RedisError:
        return _error(503, "the data store (Redis) is not reachable", ready=False)
    if version is None:
        return _error(503, "no dataset loaded yet: POST /load (or run 'python -m dashboard load')", ready=False)
    return jsonify({"status": "ready", "dataset_version": version})
