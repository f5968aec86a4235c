"""The export worker: ``python -m jobs.worker`` (the Procfile's ``worker:`` line).

An RQ ``SimpleWorker`` (no fork per job: the warm browser lives in this process) on the
``exports`` queue of the Redis at ``REDIS_URL``, tuned so that a killed worker's job is
retried or failed within about two minutes instead of RQ's ~13:

- a job's heartbeat lasts its timeout plus ``PTRACKER_HEARTBEAT_GRACE`` (RQ adds 60 s);
- registries are cleaned every ``PTRACKER_MAINTENANCE_INTERVAL`` seconds (RQ: 600);
- the worker's own key lives ``PTRACKER_WORKER_TTL`` seconds (RQ: 420).

With the defaults (60 s job timeout, 15 s grace, 30 s maintenance) an abandoned job is
noticed at most ~105 s after it started. The browser is started when the worker starts,
after any fork, so the first export does not pay for it.
"""

from __future__ import annotations

import logging
import os
import sys

import redis
from rq import Queue, SimpleWorker

from dashboard.exports import QUEUE_NAME

from . import render as renderer


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw.strip() else default
    except ValueError:
        sys.exit(f"error: {name}={raw!r} is not a whole number")


class ExportWorker(SimpleWorker):
    heartbeat_grace = 15

    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        timeout = job.timeout if job.timeout and job.timeout > 0 else 60
        return int(timeout) + self.heartbeat_grace


def main() -> int:
    logging.basicConfig(level=os.environ.get("PTRACKER_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = os.environ.get("REDIS_URL")
    if not url:
        print("error: REDIS_URL is not set (make run sets it for its embedded Redis)", file=sys.stderr)
        return 1
    password = os.environ.get("REDIS_PASSWORD")
    connection = redis.Redis.from_url(url, health_check_interval=15, **({"password": password} if password else {}))
    ExportWorker.heartbeat_grace = _env_int("PTRACKER_HEARTBEAT_GRACE", 15)
    worker = ExportWorker(
        [Queue(QUEUE_NAME, connection=connection)],
        connection=connection,
        worker_ttl=_env_int("PTRACKER_WORKER_TTL", 60),
        maintenance_interval=_env_int("PTRACKER_MAINTENANCE_INTERVAL", 30),
    )
    if os.environ.get("PTRACKER_WARM_BROWSER", "1") != "0":
        renderer.start()
    try:
        worker.work(logging_level=os.environ.get("PTRACKER_LOG_LEVEL", "INFO"))
    finally:
        renderer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
