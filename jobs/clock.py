"""The clock: ``python -m jobs.clock`` (the Procfile's ``clock:`` line).

RQ's own scheduler (:class:`rq.cron.CronScheduler`) queues the refresh job
(:func:`dashboard.data.refresh.refresh`, by dotted name) on the ``refresh`` queue every
``PTRACKER_REFRESH_SECONDS`` (900 by default); a worker runs it. With
``PTRACKER_REFRESH_SECONDS=0`` there is no scheduled refresh: the clock says so and idles
until it is stopped (exiting would only get it restarted by a platform or stop
``make run``).

Job data is JSON, never pickle. RQ 3.0's ``CronJob.enqueue`` opens its queue with RQ's
default serializer (pickle) and takes no serializer; ``CronScheduler`` has a serializer
attribute that ``enqueue`` does not use. So :class:`JsonCronJob` is a ``CronJob`` whose
``enqueue`` is RQ's own, line for line, except that its queue is opened with the app's
JSON serializer (the export queue's, :data:`dashboard.exports.queue.SERIALIZER`: one worker
serves both queues) and the function is named, not imported; :class:`RefreshClock` is a
``CronScheduler`` that takes such jobs (and stops once on a second signal). Copying 15
lines was preferred to swapping the module's ``Queue`` at run time (global, not
thread-safe) or a serializer set by name in the environment (RQ reads none for this).
tests/unit/test_clock.py fails if RQ's ``CronJob.enqueue``, the scheduler's job list or its
signal handler change, so an RQ upgrade re-reads this copy.

Two clocks (a second replica, a restart overlapping the old process) only mean more
refresh jobs: two refreshes never overlap (the store's load lock: the second one is
``busy``), and a refresh that finds nothing new costs conditional GETs only. A restarted
clock waits for the rest of the interval after the last refresh it (or a predecessor)
queued, so restarts do not send NASA extra requests. A queued refresh that no worker takes
within one interval expires (its successor is on its way), and Redis errors are logged and
retried on the next tick instead of stopping the clock.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import time
from datetime import UTC, datetime

import redis
from rq import Queue, cron_job_registry
from rq.cron import CronJob, CronScheduler
from rq.defaults import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL
from rq.exceptions import StopRequested
from rq.job import Job

from dashboard import logs
from dashboard.data.refresh import FAILURE_TTL, JOB_FUNCTION, QUEUE_NAME, RESULT_TTL, job_timeout
from dashboard.exports.queue import SERIALIZER
from dashboard.redis_conn import from_url
from dashboard.settings import Settings, SettingsError

log = logging.getLogger(__name__)


class JsonCronJob(CronJob):
    """A CronJob whose jobs are JSON-serialised, their function given by name."""

    def enqueue(self, connection: redis.Redis) -> Job:
        # RQ 3.0.0's CronJob.enqueue, with the JSON serializer and the function by name
        json_queue = Queue(self.queue_name, connection=connection, serializer=SERIALIZER)
        with connection.pipeline() as pipeline:
            job = json_queue.enqueue(
                self.func_name,
                args=self.args,
                kwargs=self.kwargs,
                **self.job_options,
                pipeline=pipeline,
            )
            assert job.enqueued_at is not None
            pipeline.zadd(self.job_history_key, {job.id: job.enqueued_at.timestamp()})
            pipeline.zremrangebyrank(self.job_history_key, 0, -(DEFAULT_CRON_JOB_HISTORY_LIMIT + 1))
            pipeline.expire(self.job_history_key, DEFAULT_CRON_JOB_HISTORY_TTL)
            cron_job_registry.add(self.name, pipeline, enqueue_timestamp=job.enqueued_at.timestamp())
            pipeline.execute()
        log.info("queued %s (job %s) on %s", self.func_name, job.id, self.queue_name)
        return job

    def resume(self, connection: redis.Redis) -> None:
        """Start from the last time this job was queued (by any clock), if there was one."""
        newest = connection.zrange(self.job_history_key, -1, -1, withscores=True)
        if newest:
            self.set_enqueue_time(datetime.fromtimestamp(float(newest[0][1]), tz=UTC))


class Wakeup:
    """Sleeps that a stop signal ends at once, whichever thread the kernel hands it to.

    A process-directed signal goes to any thread that does not block it, and numpy's
    OpenBLAS starts one at import. A signal given to that thread runs Python's handler only
    when the main thread next runs Python code, which ``time.sleep(60)`` or
    ``signal.pause()`` may not do for a minute or ever (seen: `make run`'s Ctrl-C followed
    by its SIGTERM left the clock asleep in 9 of 40 tries). Python's wakeup fd is written
    whichever thread took the signal, so a ``select`` on it always returns.
    """

    def __init__(self) -> None:
        """Only in the main thread, around the loop that sleeps (:meth:`close` after it)."""
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._previous = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)

    def close(self) -> None:
        """Give the process its previous wakeup fd back and close the pipe."""
        signal.set_wakeup_fd(self._previous)
        os.close(self._read)
        os.close(self._write)

    def sleep(self, seconds: float | None) -> None:
        """Sleep ``seconds`` (``None``: until a signal), or until a signal arrives."""
        ready, _, _ = select.select([self._read], [], [], seconds)
        if ready:
            try:
                os.read(self._read, 512)
            except BlockingIOError:
                pass


class RefreshClock(CronScheduler):
    """RQ's CronScheduler with the refresh job (:class:`JsonCronJob`); Redis errors are
    logged and the tick retried instead of ending the loop."""

    def __init__(self, connection: redis.Redis, settings: Settings, **kwargs):
        super().__init__(connection, logging_level=settings.log_level, **kwargs)
        self.settings = settings
        self._stop_signal: int | None = None
        self._wakeup: Wakeup | None = None

    def start(self) -> None:
        """RQ's loop, its sleeps on a :class:`Wakeup` made for it (in the main thread)."""
        self._wakeup = Wakeup()
        try:
            super().start()
        finally:
            self._wakeup.close()
            self._wakeup = None

    def add(self, job: CronJob) -> CronJob:
        """Schedule ``job`` (built by the caller, so it may be a :class:`JsonCronJob`)."""
        self._cron_jobs.append(job)  # the list CronScheduler.register appends to
        return job

    def enqueue_jobs(self) -> list[CronJob]:
        try:
            return super().enqueue_jobs()
        except redis.RedisError as exc:
            log.warning("could not queue the refresh (retried on the next tick): %s", exc)
            return []

    def heartbeat(self) -> None:
        try:
            super().heartbeat()
        except redis.RedisError as exc:
            log.warning("clock heartbeat not recorded: %s", exc)

    def save(self, pipeline=None) -> None:
        try:
            super().save(pipeline)
        except redis.RedisError as exc:
            log.warning("clock state not saved: %s", exc)

    def register_death(self, pipeline=None) -> None:
        try:
            super().register_death(pipeline)
        except redis.RedisError as exc:
            log.warning("clock not unregistered (its entry expires): %s", exc)

    def _request_stop(self, signum, frame):
        # RQ's handler raises StopRequested from wherever the signal lands; one that lands
        # in a log call is swallowed by logging's error handling, and the clock then never
        # stops. So the handler only notes the signal; the sleep below ends on it and raises.
        self._stop_signal = signum

    def calculate_sleep_interval(self) -> float:
        # RQ sleeps for the interval this returns: wait here instead, on the wakeup fd, and
        # stop between ticks (never in the middle of queueing a refresh)
        if self._stop_signal is None:
            seconds = super().calculate_sleep_interval()
            if self._wakeup is not None:
                self._wakeup.sleep(seconds)
            else:  # outside start() (a test): nothing to wake it
                time.sleep(seconds)
        if self._stop_signal is not None:
            raise StopRequested()
        return 0


def refresh_job(settings: Settings) -> JsonCronJob:
    """The refresh every ``settings.refresh_seconds``: it runs within its timeout, and expires
    if no worker took it before the next one is queued."""
    return JsonCronJob(
        queue_name=QUEUE_NAME,
        func_name=JOB_FUNCTION,
        name=f"{settings.key_prefix}refresh",
        interval=settings.refresh_seconds,
        job_timeout=job_timeout(settings),
        result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL,
        ttl=max(settings.refresh_seconds, job_timeout(settings)),
    )


def idle() -> int:
    """No scheduled refresh: say so, wait for SIGTERM / SIGINT, then exit 0.

    The handler only notes the signal and the :class:`Wakeup` sleep ends on it: no lock is
    taken and nothing raised in a handler. (A handler that set a ``threading.Event``
    deadlocked when make run's SIGTERM landed right after the terminal's SIGINT, which
    left `make run` running after Ctrl-C.)"""
    stopping: list[int] = []
    wakeup = Wakeup()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))
    log.info("scheduled refresh is off (PTRACKER_REFRESH_SECONDS=0): the clock idles until stopped")
    try:
        while not stopping:
            wakeup.sleep(None)
    finally:
        wakeup.close()
    return 0


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    logs.configure(settings)
    if not settings.refresh_seconds:
        return idle()
    if not settings.redis_external:
        print("error: neither REDIS_URL nor REDIS_SENTINELS is set (make run sets REDIS_URL)", file=sys.stderr)
        return 1
    connection = from_url(settings)
    clock = RefreshClock(connection, settings)
    job = refresh_job(settings)
    job.resume(connection)
    clock.add(job)
    clock._install_signal_handlers()  # before the line that says it runs (start() repeats it)
    log.info("refreshing the layers every %d s (queue %s)", settings.refresh_seconds, job.queue_name)
    clock.start()
    return 0


def done() -> None:
    """The clock has stopped: a stop signal that comes late (make run's SIGTERM after the
    terminal's SIGINT) is ignored from now on. Python restores the default handlers as it
    shuts down, and that SIGTERM would otherwise end the process with -15, not 0."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


if __name__ == "__main__":
    code = main()
    done()
    sys.exit(code)
