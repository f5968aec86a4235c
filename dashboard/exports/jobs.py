"""Queueing an export and reporting on it: submit, describe, status, download.

The web process never renders (and never imports kaleido): it enqueues the job by its
dotted name (:data:`dashboard.exports.queue.JOB_FUNCTION`) with plain arguments. The same
request on the same dataset version gets the same job id, so a repeat returns the
existing job (and its file when finished) instead of rendering again.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from rq import Retry
from rq.job import Job, JobStatus

from dashboard.exports.queue import JOB_FUNCTION, UNREADABLE, fetch, file_key, forget, queue, unreadable
from dashboard.exports.request import FORMATS, ExportError, ExportRequest
from dashboard.logs import request_id_var
from dashboard.settings import Settings

#: seconds the claim on a job id lasts while one request queues it
CLAIM_SECONDS = 10
#: how long (CLAIM_WAITS x CLAIM_POLL s) a second identical request waits for the first
CLAIM_WAITS, CLAIM_POLL = 40, 0.05
#: characters of a failure's last line shown to the user
MAX_REASON = 300


@dataclass(frozen=True)
class ExportSettings:
    """What the job side needs of :class:`~dashboard.settings.Settings`; the defaults are
    Settings' own (one definition each)."""

    job_timeout: int = Settings.export_timeout  # seconds one render may take
    result_ttl: int = Settings.export_ttl  # how long a finished export (and its file) is kept
    failure_ttl: int = 86400  # how long a failed export is kept, with its reason
    retries: int = 1  # an abandoned (worker killed) or failed render is tried once more
    max_bytes: int = Settings.export_max_bytes  # the largest file one export may produce
    budget: int = Settings.export_budget  # bytes all finished exports may hold in Redis
    client_budget: int = Settings.export_client_budget  # bytes one client's finished exports may hold


def export_settings(settings: Settings) -> ExportSettings:
    """The export settings of a :class:`dashboard.settings.Settings`."""
    return ExportSettings(
        job_timeout=settings.export_timeout,
        result_ttl=settings.export_ttl,
        max_bytes=settings.export_max_bytes,
        budget=settings.export_budget,
        client_budget=settings.export_client_budget,
    )


class ExportConflict(ExportError):
    """The same export is being queued by another request right now (try again)."""


_RETRYABLE = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)


def _live(job: Job | None) -> bool:
    """A job to hand back as is: waiting, running or finished, and readable."""
    return job is not None and job.get_status() not in _RETRYABLE and not unreadable(job)


def submit(
    connection: redis.Redis,
    prefix: str,
    version: str,
    request: ExportRequest,
    settings: ExportSettings = ExportSettings(),
    client: str = "unknown",
) -> Job:
    """Queue the export, or return the existing job for the same request and dataset.

    A failed (or stopped) export asked for again is put back on the queue under the same
    id. A short Redis claim keeps two identical requests from queueing it twice."""
    job_id = request.job_id(version)
    existing = fetch(connection, job_id)
    if existing is not None and _live(existing):
        return existing
    claim = f"{prefix}export:claim:{job_id}"
    if not connection.set(claim, "1", nx=True, ex=CLAIM_SECONDS):
        for _ in range(CLAIM_WAITS):  # an identical request is queueing it right now
            time.sleep(CLAIM_POLL)
            existing = fetch(connection, job_id)
            if existing is not None and _live(existing):
                return existing
        raise ExportConflict("the same export is being queued by another request; try again")
    try:
        existing = fetch(connection, job_id)
        if existing is not None:
            if _live(existing):
                return existing
            again = _requeue(existing)
            if again is not None:
                return again
            forget(connection, existing)
        return _enqueue(connection, prefix, version, request, settings, client)
    finally:
        connection.delete(claim)


def _requeue(job: Job) -> Job | None:
    """A failed (readable) job put back on the queue under its id, or None. A job queued
    under another function name (an older release's, before an upgrade renamed it) is not
    requeued: it would fail again; it is forgotten and queued afresh instead."""
    if job.get_status() != JobStatus.FAILED or unreadable(job) or job.func_name != JOB_FUNCTION:
        return None
    try:
        again = job.requeue()
    except Exception:  # no longer in the failed registry: queue it afresh
        return None
    again.meta.update(stage="queued", progress=0)
    again.save_meta()
    return again


def _enqueue(
    connection: redis.Redis, prefix: str, version: str, request: ExportRequest, settings: ExportSettings, client: str
) -> Job:
    return queue(connection).enqueue(
        JOB_FUNCTION,
        kwargs={
            **request.kwargs(),
            "version": version,
            "prefix": prefix,
            "result_ttl": settings.result_ttl,
            "client": client,
            "max_bytes": settings.max_bytes,
            "budget": settings.budget,
            "client_budget": settings.client_budget,
        },
        job_id=request.job_id(version),
        job_timeout=settings.job_timeout,
        result_ttl=settings.result_ttl,
        failure_ttl=settings.failure_ttl,
        retry=Retry(max=settings.retries) if settings.retries else None,
        description=f"{request.title} {request.fmt.upper()}, sols {request.sol_min}-{request.sol_max}",
        meta={
            "chart": request.chart,
            "params": request.public(),
            "version": version,
            "stage": "queued",
            "progress": 0,
            "filename": request.filename,
            "request_id": request_id_var.get(),  # the worker logs it with the job
        },
    )


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


_EXC_PREFIX = re.compile(r"^(?:[\w.]+\.)?(?:ExportError|ExportFailed): ")


def explain_failure(job: Job) -> str:
    """The reason a job failed, in words (no traceback)."""
    text = ""
    try:
        result = job.latest_result()
    except Exception:  # a result the JSON serializer cannot read
        result = None
    if result is not None and result.exc_string:
        text = result.exc_string
    text = text or (job.exc_info or "")
    if "AbandonedJobError" in text:
        return "the worker rendering this export stopped (killed or crashed) before finishing"
    if "JobTimeoutException" in text:
        return f"rendering took longer than {job.timeout} s and was stopped"
    if "DeserializationError" in text:
        return UNREADABLE
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return _EXC_PREFIX.sub("", lines[-1])[:MAX_REASON] if lines else "failed for an unknown reason"


def _describe_unreadable(job: Job) -> dict:
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


def describe(job: Job) -> dict:
    """A job's public status: what the page and the API show (no client, no selection)."""
    if unreadable(job):
        return _describe_unreadable(job)
    status = job.get_status()
    meta = job.get_meta()
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
        out["error"] = explain_failure(job)
    if status == JobStatus.FINISHED:
        out["progress"] = 100
        out["stage"] = "done"
    return out


def status(connection: redis.Redis, job_id: str) -> dict | None:
    job = fetch(connection, job_id)
    return describe(job) if job is not None else None


def download(connection: redis.Redis, prefix: str, job_id: str) -> tuple[bytes, str, str] | None:
    """(bytes, content type, file name) of a finished export, or None when it has none.
    The file is its own key (bytes, with the job's TTL); the job result holds only
    metadata, so nothing binary ever passes through the JSON serializer."""
    job = fetch(connection, job_id)
    if job is None or unreadable(job) or job.get_status() != JobStatus.FINISHED:
        return None
    body = connection.get(file_key(prefix, job_id))
    if not isinstance(body, bytes):  # expired (None), or not a file this app wrote
        return None
    params = job.get_meta().get("params") or {}
    fmt = str(params.get("fmt", "png"))
    filename = str(job.get_meta().get("filename") or f"{job_id}.{fmt}")
    return body, FORMATS.get(fmt, "application/octet-stream"), filename
