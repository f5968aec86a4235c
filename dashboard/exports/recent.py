"""The recent-exports list (``GET /jobs/list``): the newest exports queued through the
REST API, each shown by what a user needs to find and fetch theirs."""

from __future__ import annotations

import time

import redis

from dashboard.exports.jobs import status
from dashboard.redis_conn import as_text

#: how many exports the list keeps
RECENT_JOBS = 100
LISTED = ("id", "chart", "status", "stage", "progress", "created_at", "ended_at", "error", "filename")


def _recent_key(prefix: str) -> str:
    return f"{prefix}export:recent"


def remember(connection: redis.Redis, prefix: str, job_id: str) -> None:
    """Put the export at the top of the list (the oldest beyond :data:`RECENT_JOBS` drop off)."""
    key = _recent_key(prefix)
    pipe = connection.pipeline()
    pipe.zadd(key, {job_id: time.time()})
    pipe.zremrangebyrank(key, 0, -(RECENT_JOBS + 1))
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


def recent(connection: redis.Redis, prefix: str) -> list[dict]:
    """The listed exports, newest first; expired ones are dropped from the list here."""
    key = _recent_key(prefix)
    out, gone = [], []
    for raw in connection.zrevrange(key, 0, RECENT_JOBS - 1):
        job_id = as_text(raw)
        info = status(connection, job_id)
        if info is None:
            gone.append(job_id)
        else:
            out.append(listed(info))
    if gone:
        connection.zrem(key, *gone)
    return out
