"""The export worker: ``python -m jobs.worker`` (the Procfile's ``worker:`` line).

An RQ ``SimpleWorker`` (no fork per job: the warm browser lives in this process) on the
``exports`` queue of the Redis at ``REDIS_URL`` (or of the primary the ``REDIS_SENTINELS``
name: a failover is waited out, see :meth:`ExportWorker.execute_job`), and on the
``refresh`` queue of the clock's scheduled refreshes (:mod:`dashboard.data.refresh`; exports are taken first):
``PTRACKER_WORKER_QUEUES`` names the queues, e.g. ``exports`` alone for export workers that
must not reach NASA (Kubernetes runs the refreshes in the clock's pod), ``refresh`` alone
(no browser is started) for that pod's worker. Both queues hold JSON
only (one serializer). Configured by :class:`Settings` (read once from the environment, as
the web side's) and connected through :mod:`dashboard.redis_conn`; tuned so that a killed
worker's job is retried or failed within about two minutes instead of RQ's ~13:

- a job's heartbeat lasts its timeout plus ``PTRACKER_HEARTBEAT_GRACE`` (RQ adds 60 s);
- registries are cleaned every ``PTRACKER_MAINTENANCE_INTERVAL`` seconds (RQ: 600);
- the worker's own key lives ``PTRACKER_WORKER_TTL`` seconds (RQ: 420).

With the defaults (60 s job timeout, 15 s grace, 30 s maintenance) an abandoned job is
noticed at most ~105 s after it started. The browser is started when the worker starts,
after any fork, so the first export does not pay for it.
"""

from __future__ import annotations

import logging
import signal
import sys
import time

import redis
from rq import SimpleWorker
from rq.exceptions import DeserializationError, StopRequested

from dashboard import logs
from dashboard.data import refresh
from dashboard.exports import browser
from dashboard.exports.budget import JOB_OVERHEAD, Budgets
from dashboard.exports.errors import ExportFailed
from dashboard.exports.job import worker_settings
from dashboard.exports.queue import FAILURE_TTL, QUEUE_NAME, SERIALIZER, UNREADABLE, queue, unreadable
from dashboard.metrics import observe_export, serve_worker_metrics
from dashboard.redis_conn import from_url
from dashboard.settings import DEFAULT_EXPORT_TIMEOUT, Settings, SettingsError

#: Longest an idle worker waits in Redis before it looks at signals and its heartbeat.
DEQUEUE_POLL_SECONDS = 2
#: While Redis is away (a failover), how often the worker tries it again: at most this many
#: seconds apart (RQ doubles its wait between tries up to 60 s).
REDIS_RETRY_SECONDS = 2.0
#: Loggers that say a dozen INFO lines per browser start and stop: WARNING and above only.
CHATTY_LOGGERS = ("kaleido", "choreographer")
#: The longest a chart or format name is written into a log line or a metric label.
CHART_LABEL_CHARS, FORMAT_LABEL_CHARS = 32, 8
#: The queues a worker may take jobs from (PTRACKER_WORKER_QUEUES), by name: each opened
#: with the one JSON serializer.
QUEUES = {QUEUE_NAME: queue, refresh.QUEUE_NAME: refresh.queue}


class ExportWorker(SimpleWorker):
    #: RQ's wait between tries of an unreachable Redis, capped (a failover takes seconds).
    max_connection_wait_time = REDIS_RETRY_SECONDS

    def __init__(self, *args, settings: Settings, early_stop=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.heartbeat_grace = settings.heartbeat_grace
        #: signals received before RQ installed its handlers (see main)
        self.early_stop: list[int] = early_stop if early_stop is not None else []

    @property
    def dequeue_timeout(self) -> int:
        # RQ blocks in BLMOVE for worker_ttl - 15 s (45 s here). A Ctrl-C that the kernel
        # hands to one of kaleido's threads only sets Python's flag; the main thread runs
        # RQ's handler when its BLMOVE returns. Waking every few seconds bounds that wait.
        return DEQUEUE_POLL_SECONDS

    def _install_signal_handlers(self) -> None:
        # RQ's (private) hook, called by work() after bootstrap; tests/unit/test_worker.py
        # fails if an RQ upgrade renames it, since then our early handler would stay.
        super()._install_signal_handlers()
        if self.early_stop:
            self.log.info("stop requested during start-up: not taking any job")
            self._stop_requested = True

    def execute_job(self, job, queue) -> None:
        """RQ's, surviving Redis going away under a job (a primary lost, a failover): RQ
        would quit the worker. The job is left where the new primary has it: still queued
        (drawn again), or started, which RQ's registry clean-up retries (or fails, its
        retries spent) once the job's heartbeat lapses. The worker waits for Redis, then
        goes on taking jobs."""
        try:
            super().execute_job(job, queue)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            self.log.warning("Redis went away while %s ran (%s): waiting for it; RQ retries the job", job.id, exc)
            self.await_redis()

    def await_redis(self) -> None:
        """Return once Redis answers a PING (every :data:`REDIS_RETRY_SECONDS`); StopRequested
        when the worker is asked to stop meanwhile."""
        while True:
            if self._stop_requested:
                raise StopRequested()
            try:
                self.connection.ping()
                self.log.info("Redis is back")
                return
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                time.sleep(REDIS_RETRY_SECONDS)

    def perform_job(self, job, queue, execution) -> bool:
        """RQ's perform_job inside the request id of the request that queued the job (from
        ``job.meta``; its log lines carry it), timed for ``ptracker_export_*``. A refresh
        (not an export) is only run: it counts its own outcome."""
        if queue.name != QUEUE_NAME:
            return super().perform_job(job, queue, execution)
        request_id = (job.meta or {}).get("request_id")  # put there by dashboard.exports.submit
        token = logs.request_id_var.set(request_id)
        try:
            asked = (job.kwargs or {}).get("request") or {}
        except Exception:  # not JSON (an old pickled job): RQ's own handling fails it
            asked = {}
        asked = asked if isinstance(asked, dict) else {}
        chart = str(asked.get("chart", "unknown"))[:CHART_LABEL_CHARS]
        fmt = str(asked.get("fmt", "png"))[:FORMAT_LABEL_CHARS]
        t0 = time.perf_counter()
        ok = False
        try:
            self.log.info("export %s started: %s %s", job.id, chart, fmt)
            ok = super().perform_job(job, queue, execution)
            return ok
        finally:
            seconds = time.perf_counter() - t0
            outcome = "ok" if ok else "failed"
            try:
                observe_export(chart, fmt, outcome, seconds)
            except Exception:  # metrics must never fail a job
                self.log.warning("export metrics not recorded", exc_info=True)
            self.log.info(
                "export %s %s in %.3f s",
                job.id,
                "finished" if ok else "failed",
                seconds,
                extra={
                    "job_id": job.id,
                    "chart": chart,
                    "format": fmt,
                    "outcome": outcome,
                    "duration_s": round(seconds, 4),
                },
            )
            logs.request_id_var.reset(token)

    def handle_exception(self, job, *exc_info):
        # A refused export (too large, dataset dropped) or a job whose data is not JSON
        # is an expected outcome, said in the job's error: one line, not a traceback.
        value = exc_info[1] if len(exc_info) > 1 else None
        if isinstance(value, refresh.RefreshFailed):
            self.log.warning("refresh %s: %s", job.id, value)
            return
        if isinstance(value, ExportFailed | DeserializationError):
            reason = UNREADABLE if isinstance(value, DeserializationError) else str(value)
            self.log.warning("export %s failed: %s", job.id, reason)
            return
        super().handle_exception(job, *exc_info)

    def handle_job_failure(self, job, queue, started_job_registry=None, exc_string="", execution=None):
        super().handle_job_failure(
            job, queue, started_job_registry=started_job_registry, exc_string=exc_string, execution=execution
        )
        # A failed export is kept (with its reason) for its failure TTL: charge it to
        # its client's budget like a finished one, so failures cannot pile up unbounded.
        if queue.name != QUEUE_NAME:  # a failed refresh: kept by RQ, charged to no client
            return
        try:
            if job.get_status() != "failed" or unreadable(job):
                return
            client = str(job.kwargs.get("client", "unknown"))
            budgets = Budgets.of(self.connection, self.settings)
            evicted = budgets.charge(job.id, JOB_OVERHEAD, client, int(job.failure_ttl or FAILURE_TTL))
            budgets.evict([e for e in evicted if e != job.id])
        except Exception:  # bookkeeping only: never let it stop the worker
            self.log.warning("could not account the failed export %s", job.id, exc_info=True)

    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        timeout = job.timeout if job.timeout and job.timeout > 0 else DEFAULT_EXPORT_TIMEOUT
        return int(timeout) + self.heartbeat_grace


def main() -> int:
    # RQ handles SIGINT/SIGTERM only once work() has bootstrapped; until then a Ctrl-C
    # would raise KeyboardInterrupt inside kaleido's or RQ's start-up and could leave the
    # worker (and its Chromium) hung. Remember such a stop and honour it instead.
    early_stop: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: early_stop.append(signum))
    try:
        settings = worker_settings()  # the jobs read the same object
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    logs.configure(settings)  # JSON lines (PTRACKER_LOG_FORMAT=text: plain)
    for chatty in CHATTY_LOGGERS:
        logging.getLogger(chatty).setLevel(logging.WARNING)
    if not settings.redis_external:
        print("error: neither REDIS_URL nor REDIS_SENTINELS is set (make run sets REDIS_URL)", file=sys.stderr)
        return 1
    unknown = [name for name in settings.worker_queues if name not in QUEUES]
    if unknown:
        print(
            f"error: PTRACKER_WORKER_QUEUES: no queue {', '.join(unknown)}; known: {', '.join(QUEUES)}", file=sys.stderr
        )
        return 1
    if settings.worker_metrics_port:
        serve_worker_metrics(settings.worker_metrics_port, settings.worker_metrics_addr)
    worker = build_worker(settings, early_stop)
    draws = QUEUE_NAME in settings.worker_queues  # a refresh-only worker never starts a browser
    if settings.warm_browser and draws:
        browser.start()
        if worker.early_stop:
            browser.stop()
            return 0
    try:
        worker.work(logging_level=settings.log_level)
    finally:
        if draws:
            browser.stop()
    return 0


def build_worker(settings: Settings, early_stop: list[int]) -> ExportWorker:
    """The worker on its queues (``settings.worker_queues``, in that order), with a blocking
    client of the configured Redis (``REDIS_URL``, or the primary the sentinels name)."""
    connection = from_url(settings, blocking=True)
    return ExportWorker(
        [QUEUES[name](connection) for name in settings.worker_queues],
        settings=settings,
        early_stop=early_stop,
        connection=connection,
        serializer=SERIALIZER,
        worker_ttl=settings.worker_ttl,
        maintenance_interval=settings.maintenance_interval,
    )


if __name__ == "__main__":
    sys.exit(main())
