"""Reporting on exports: one job's public status, its file, and the recent-exports list
(``GET /jobs/list``: each client sees its own). Why a job failed is written in words by the job's failure callback
(``job.meta["error"]``, :func:`dashboard.exports.job.on_failure`); nothing here reads a
traceback."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import redis
from rq.job import Job, JobStatus

from dashboard.exports.queue import SERIALIZER, UNREADABLE, fetch_job, file_key, unreadable
from dashboard.exports.request import CONTENT_TYPES
from dashboard.redis_conn import as_text

#: what a failed job without a recorded reason says (failed by an older release, or by
#: RQ itself without running the job's failure callback)
UNKNOWN_REASON = "failed for an unknown reason"
#: how many exports the recent list keeps
RECENT_JOBS = 100
LISTED = ("id", "chart", "status", "stage", "progress", "created_at", "ended_at", "error", "filename")


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def _unreadable_status(job: Job) -> dict:
    return {
        "id": job.id,
        "chart": None,
        "params": None,
        "status": "unreadable",
        "stage": None,
        "progress": 0,
        "created_at": _iso(job.created_at),
        "started_at": None,
        "ended_at": None,
        "error": UNREADABLE,
        "filename": None,
        "retries_left": 0,
    }


def job_status(job: Job) -> dict:
    """A job's public status: what the page and the API show (no client, no selection)."""
    if unreadable(job):
        return _unreadable_status(job)
    status = job.get_status(refresh=False)  # as fetched: no round trip of its own
    meta = job.meta or {}
    out = {
        "id": job.id,
        "chart": meta.get("chart"),
        "params": meta.get("params"),
        "status": status.value if status else "unknown",
        "stage": meta.get("stage"),
        "progress": meta.get("progress", 0),
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "ended_at": _iso(job.ended_at),
        "error": None,
        "filename": meta.get("filename"),
        "retries_left": job.retries_left,
    }
    if status == JobStatus.FAILED:
        out["error"] = meta.get("error") or UNKNOWN_REASON
    if status == JobStatus.FINISHED:
        out["progress"] = 100
        out["stage"] = "done"
    return out


def status_of(connection: redis.Redis, job_id: str) -> dict | None:
    """:func:`job_status` of ``job_id``, or None when there is no such export (any more)."""
    job = fetch_job(connection, job_id)
    return job_status(job) if job is not None else None


def download(connection: redis.Redis, prefix: str, job_id: str) -> tuple[bytes, str, str] | None:
    """(bytes, content type, file name) of a finished export, or None when it has none.
    The file is its own key (bytes, with the job's TTL); the job result holds only
    metadata, so nothing binary ever passes through the JSON serializer."""
    job = fetch_job(connection, job_id)
    if job is None or unreadable(job) or job.get_status() != JobStatus.FINISHED:
        return None
    body = connection.get(file_key(prefix, job_id))
    if not isinstance(body, bytes):  # expired (None), or not a file this app wrote
        return None
    params = job.get_meta().get("params") or {}
    fmt = str(params.get("fmt", "png"))
    filename = str(job.get_meta().get("filename") or f"{job_id}.{fmt}")
    return body, CONTENT_TYPES.get(fmt, "application/octet-stream"), filename


# --- the recent-exports list ------------------------------------------------------------------


def _recent_key(prefix: str, client: str) -> str:
    return f"{prefix}export:recent:{client}"


def remember(connection: redis.Redis, prefix: str, job_id: str, client: str, ttl: int) -> None:
    """Put the export at the top of its client's recent list (the oldest beyond
    :data:`RECENT_JOBS` drop off; the list goes ``ttl`` seconds after its last export)."""
    key = _recent_key(prefix, client)
    pipe = connection.pipeline()
    pipe.zadd(key, {job_id: time.time()})
    pipe.zremrangebyrank(key, 0, -(RECENT_JOBS + 1))
    pipe.expire(key, ttl)
    pipe.execute()


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


def recent(connection: redis.Redis, prefix: str, client: str) -> list[dict]:
    """The client's listed exports, newest first, in two round trips (the list, then every
    job in one pipeline); expired ones are dropped from the list here."""
    key = _recent_key(prefix, client)
    job_ids = [as_text(raw) for raw in connection.zrevrange(key, 0, RECENT_JOBS - 1)]
    jobs = Job.fetch_many(job_ids, connection=connection, serializer=SERIALIZER) if job_ids else []
    gone = [job_id for job_id, job in zip(job_ids, jobs, strict=True) if job is None]
    if gone:
        connection.zrem(key, *gone)
    return [listed(job_status(job)) for job in jobs if job is not None]
