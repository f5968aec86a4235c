"""Asking for an export, the web side's one path for the page and the REST API alike:
check the request against the dataset, admit the client, queue the job, count it as the
client's.

The web process never renders (and never imports kaleido): it enqueues the job by its
dotted name (:data:`~dashboard.exports.queue.JOB_FUNCTION`, or :data:`REPLAY_FUNCTION` for
a replay of the drive) with the request as JSON. The same request on the same dataset
version gets the same job id, so a repeat returns the existing job (and its file when
finished) instead of rendering again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import redis
from rq import Callback, Retry
from rq.job import Job, JobStatus

from dashboard.data.store import Dataset, DatasetStore
from dashboard.data.timeline import sol_bounds
from dashboard.exports.admission import admit, client_key, note_pending, release
from dashboard.exports.errors import ExportConflict, NotReplicated
from dashboard.exports.queue import (
    FAILURE_CALLBACK,
    FAILURE_TTL,
    JOB_FUNCTION,
    fetch_job,
    forget,
    queue,
    unreadable,
)
from dashboard.exports.request import REPLAY, ExportRequest, selection_names, validate
from dashboard.exports.status import remember
from dashboard.logs import request_id_var
from dashboard.redis_conn import replicated
from dashboard.settings import Settings

#: seconds the claim on a job id lasts while one request queues it
CLAIM_SECONDS = 10
#: how long (CLAIM_WAITS x CLAIM_POLL s) a second identical request waits for the first
CLAIM_WAITS, CLAIM_POLL = 40, 0.05

_RETRYABLE = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)

#: The replay job, by dotted name (the worker side draws it; the web side never imports it).
REPLAY_FUNCTION = "dashboard.exports.job.export_replay"
JOB_FUNCTIONS = (JOB_FUNCTION, REPLAY_FUNCTION)
#: A replay's job timeout: the export timeout (which covers starting its browser and
#: encoder) plus this many seconds a frame. A warm frame takes 0.1-0.3 s on two shared
#: cores; the margin keeps a busy worker from timing out a replay that is progressing.
REPLAY_SECONDS_PER_FRAME = 0.5


def request_export(
    dataset: Dataset,
    fields: Mapping[str, object],
    *,
    store: DatasetStore,
    settings: Settings,
    address: str | None,
    bounds: tuple[int, int] | None = None,
    listed: bool = False,
) -> Job:
    """Validate, admit and queue one export of ``dataset``; return its RQ job.

    ``fields`` are the request as a client sent it (``chart``, ``sol_min``, ``sol_max``,
    and optionally ``fmt``, ``width``, ``height``, ``scale``, ``selection``, ``xkey``,
    ``ykey``, and for the chart "replay" ``frames`` and ``fps``:
    :func:`~dashboard.exports.request.validate`'s parameters). A replay counts against
    the client's rate as several exports (:attr:`ExportRequest.rate_cost`). Raises
    ExportError for a request that cannot be exported, ExportConflict when the same export
    is being queued by another request right now, an ExportBusy when the client or the
    queue is over its limits (NotReplicated when, with sentinels, no replica confirmed the
    job within ``replica_wait``: it is queued but not acknowledged); Redis errors go
    through. ``bounds`` defaults to the dataset's timeline (the union of its layers'
    sols); a ``selection`` names waypoints (``rmc``) of this dataset. ``listed`` puts the job on the recent-exports list
    (``GET /jobs/list``)."""
    names = selection_names(dataset.waypoints) if fields.get("selection") is not None else None
    bounds = bounds if bounds is not None else sol_bounds(dataset)
    request = validate(**fields, bounds=bounds, names=names, rover=dataset.rover)
    client = client_key(address)
    prefix = settings.key_prefix  # one client's limits and exports across the rovers
    slot = admit(
        store.redis,
        prefix,
        client,
        settings.export_rate,
        settings.queue_max,
        settings.queue_client_max,
        cost=request.rate_cost,
    )
    try:
        job = submit(store.redis, dataset.version, request, settings, client)
    finally:
        release(store.redis, prefix, slot)
    note_pending(store.redis, prefix, client, job.id, settings.export_ttl)
    if listed:
        remember(store.redis, prefix, job.id, client, settings.export_ttl)
    if replicated(store.redis, settings) == 0:  # with sentinels only: a 202 must survive a failover
        raise NotReplicated(settings.replica_wait)
    return job


def request_replay(
    dataset: Dataset,
    sol_min: object,
    sol_max: object,
    *,
    store: DatasetStore,
    settings: Settings,
    address: str | None,
    fmt: object = "mp4",
    frames: object = None,
    fps: object = None,
    width: object = None,
    height: object = None,
    listed: bool = False,
) -> Job:
    """:func:`request_export` of a replay of the drive (the page's "Export replay" button and
    ``POST /perseverance/replay``): the traverse map drawn from ``sol_min`` to ``sol_max``
    (narrowed to the dataset's timeline) as ``frames`` frames (default 120) shown at ``fps``
    a second (default 12), ``fmt`` mp4, gif or webm, ``width`` x ``height`` pixels (default
    1280 x 720). Follow it with :func:`dashboard.exports.status.status_of` (its stage reads
    "rendering frame 84 of 120") and fetch it from ``/download/<id>``; the same errors as
    :func:`request_export`."""
    fields = {"chart": REPLAY, "sol_min": sol_min, "sol_max": sol_max, "fmt": fmt, "frames": frames, "fps": fps}
    return request_export(
        dataset,
        {**fields, "width": width, "height": height},
        store=store,
        settings=settings,
        address=address,
        listed=listed,
    )


def _live(job: Job | None) -> bool:
    """A job to hand back as is: waiting, running or finished, and readable."""
    return job is not None and job.get_status() not in _RETRYABLE and not unreadable(job)


def submit(
    connection: redis.Redis, version: str, request: ExportRequest, settings: Settings, client: str = "unknown"
) -> Job:
    """Queue the export, or return the existing job for the same request and dataset.

    A failed (or stopped) export asked for again is put back on the queue under the same
    id. A short Redis claim keeps two identical requests from queueing it twice."""
    job_id = request.job_id(version)
    existing = fetch_job(connection, job_id)
    if existing is not None and _live(existing):
        return existing
    claim = f"{settings.key_prefix}export:claim:{job_id}"
    if not connection.set(claim, "1", nx=True, ex=CLAIM_SECONDS):
        for _ in range(CLAIM_WAITS):  # an identical request is queueing it right now
            time.sleep(CLAIM_POLL)
            existing = fetch_job(connection, job_id)
            if existing is not None and _live(existing):
                return existing
        raise ExportConflict("the same export is being queued by another request; try again")
    try:
        existing = fetch_job(connection, job_id)
        if existing is not None:
            if _live(existing):
                return existing
            again = _requeue(existing)
            if again is not None:
                return again
            forget(connection, existing)
        return _enqueue(connection, version, request, settings, client)
    finally:
        connection.delete(claim)


def _requeue(job: Job) -> Job | None:
    """A failed (readable) job put back on the queue under its id, or None. A job queued
    under another function name (an older release's, before an upgrade renamed it) is not
    requeued: it would fail again; it is forgotten and queued afresh instead."""
    if job.get_status() != JobStatus.FAILED or unreadable(job) or job.func_name not in JOB_FUNCTIONS:
        return None
    try:
        again = job.requeue()
    except Exception:  # no longer in the failed registry: queue it afresh
        return None
    again.meta.update(stage="queued", progress=0, error=None)
    again.save_meta()
    return again


def job_timeout(request: ExportRequest, settings: Settings) -> int:
    """Seconds the job may run: the export timeout, and for a replay its frames' share too."""
    if request.chart == REPLAY and request.frames:
        return settings.export_timeout + math.ceil(request.frames * REPLAY_SECONDS_PER_FRAME)
    return settings.export_timeout


def _description(request: ExportRequest) -> str:
    text = f"{request.title} {request.fmt.upper()}, sols {request.sol_min}-{request.sol_max}"
    return text + (f", {request.frames} frames at {request.fps} fps" if request.chart == REPLAY else "")


def _enqueue(connection: redis.Redis, version: str, request: ExportRequest, settings: Settings, client: str) -> Job:
    return queue(connection).enqueue(
        REPLAY_FUNCTION if request.chart == REPLAY else JOB_FUNCTION,
        kwargs={"request": request.to_json(), "version": version, "client": client},
        job_id=request.job_id(version),
        job_timeout=job_timeout(request, settings),
        result_ttl=settings.export_ttl,
        failure_ttl=FAILURE_TTL,
        retry=Retry(max=settings.export_retries) if settings.export_retries else None,
        on_failure=Callback(FAILURE_CALLBACK),
        description=_description(request),
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
