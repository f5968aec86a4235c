"""The export queue and its jobs as stored in Redis: JSON only, never pickle.

Job data is JSON (RQ's ``JSONSerializer``, :data:`SERIALIZER`, used by the web side and
the worker alike): a job hash written with pickle is never unpickled, it reads back as
an error (:func:`unreadable`).
"""

from __future__ import annotations

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

QUEUE_NAME = "exports"
#: The job, by dotted name: the web process never imports the worker side (nor kaleido).
JOB_FUNCTION = "dashboard.exports.job.export_chart"
#: Called by RQ when a job fails, in the worker or when its worker was found dead.
FAILURE_CALLBACK = "dashboard.exports.job.on_failure"
#: how long a failed export is kept, with its reason
FAILURE_TTL = 86400


#: The one serializer of the export queue, its jobs and their results (web and worker).
SERIALIZER = JSONSerializer

UNREADABLE = (
    "this export's stored data is not JSON (an old or forged pickled job); "
    "it is refused and will not run: export it again"
)


def queue(connection: redis.Redis) -> Queue:
    """The export queue, JSON-serialised: the only way this app opens it."""
    return Queue(QUEUE_NAME, connection=connection, serializer=SERIALIZER)


def file_key(prefix: str, job_id: str) -> str:
    """The Redis key of a finished export's file (bytes, kept apart from the job)."""
    return f"{prefix}export:file:{job_id}"


def fetch_job(connection: redis.Redis, job_id: str) -> Job | None:
    """The export job of ``job_id``, or None when there is none (any more)."""
    try:
        return Job.fetch(job_id, connection=connection, serializer=SERIALIZER)
    except NoSuchJobError:
        return None


def forget(connection: redis.Redis, job: Job) -> None:
    """Delete a finished-with job so its id can be queued again."""
    try:
        job.delete()
    except Exception:  # RQ may trip over execution records already cleaned up
        connection.delete(job.key)


def unreadable(job: Job) -> bool:
    """A job whose data or meta the JSON serializer cannot read (never unpickled)."""
    if "unserialized" in job.meta:
        return True
    try:
        job.kwargs  # noqa: B018 - decodes the job's data with the JSON serializer
    except Exception:  # DeserializationError, or data of the wrong shape
        return True
    return False
