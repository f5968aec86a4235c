"""The clock's refresh job, and the parts of RQ's cron scheduler it relies on.

jobs/clock.py copies RQ 3.0.0's ``CronJob.enqueue`` to queue the job JSON-serialised,
adds jobs to ``CronScheduler``'s list of jobs (``_cron_jobs``, the list ``register``
appends to and ``enqueue_jobs`` reads) and replaces its signal handler (``_request_stop``)
and its sleep (``calculate_sleep_interval``).
If an RQ upgrade changes any of these, these tests fail first: re-read RQ's cron.py and
bring the copy in line (then record the new fingerprint). The enqueue itself, against a
real Redis: tests/integration/test_refresh.py.
"""

from __future__ import annotations

import hashlib
import inspect

import pytest
import rq
from rq.cron import CronJob, CronScheduler

from dashboard.data import refresh
from dashboard.settings import Settings, SettingsError
from jobs.clock import JsonCronJob, RefreshClock, refresh_job

#: sha256 of the source of RQ's CronJob.enqueue that JsonCronJob.enqueue copies (RQ 3.0.0)
RQ_ENQUEUE_SHA256 = "7d695e184914aa756e9319fa916d36c6740307ea61b2dd67731b093eff6501e9"


def test_rq_cron_enqueue_is_still_the_one_we_copied():
    source = inspect.getsource(CronJob.enqueue)
    assert hashlib.sha256(source.encode()).hexdigest() == RQ_ENQUEUE_SHA256, (
        f"RQ {rq.__version__} changed CronJob.enqueue: compare it with JsonCronJob.enqueue (jobs/clock.py)"
    )
    # what the copy keeps from it, and the one thing it changes: the queue's serializer
    assert "queue = Queue(self.queue_name, connection=connection)" in source  # pickle, by default
    assert "cron_job_registry.add(self.name, pipeline" in source
    assert "JsonCronJob" in JsonCronJob.enqueue.__qualname__


def test_the_scheduler_still_keeps_its_jobs_in_the_list_we_add_to():
    scheduler = CronScheduler(connection=None)  # type: ignore[arg-type]  # no Redis call until start()
    job = scheduler.register(print, "q", interval=5)
    assert scheduler.get_jobs() is scheduler._cron_jobs and scheduler._cron_jobs == [job]
    assert "job.enqueue(self.connection)" in inspect.getsource(CronScheduler.enqueue_jobs)
    clock = RefreshClock(None, Settings())  # type: ignore[arg-type]
    ours = clock.add(refresh_job(Settings()))
    assert clock.get_jobs() == [ours] and isinstance(ours, JsonCronJob)


def test_the_scheduler_still_stops_through_the_handler_and_sleep_we_replace():
    # RefreshClock._request_stop only notes the signal; its calculate_sleep_interval sleeps
    # on the wakeup fd and raises StopRequested, and returns 0 so RQ does not sleep again.
    # If an RQ upgrade stops installing this handler or changes how start() sleeps and
    # stops, a Ctrl-C could leave the clock asleep again.
    assert "self._request_stop" in inspect.getsource(CronScheduler._install_signal_handlers)
    start = inspect.getsource(CronScheduler.start)
    assert "sleep_time = self.calculate_sleep_interval()" in start
    assert "if sleep_time > 0:" in start and "except StopRequested:" in start
    assert {"_request_stop", "calculate_sleep_interval"} <= set(RefreshClock.__dict__)


def test_the_refresh_job_runs_within_its_timeout_and_expires_unclaimed():
    settings = Settings(refresh_seconds=900, fetch_deadline=60.0, key_prefix="pt:")
    job = refresh_job(settings)
    assert (job.queue_name, job.func_name, job.func) == ("refresh", "dashboard.data.refresh.refresh", None)
    assert job.name == "pt:refresh" and job.interval == 900
    assert job.job_options == {
        # both rovers, one after the other: each layer's fetch deadline (Perseverance's six,
        # Curiosity's four) and a minute a rover to parse and save
        "job_timeout": 10 * 60 + 2 * 60,
        "result_ttl": refresh.RESULT_TTL,
        "failure_ttl": refresh.FAILURE_TTL,
        "ttl": 900,  # a refresh no worker took before the next one is dropped
    }
    short = refresh_job(settings.replace(refresh_seconds=2, fetch_deadline=2.0))
    assert short.job_options["ttl"] == short.job_options["job_timeout"] == 10 * 2 + 120  # never expires mid-run
    alone = refresh_job(settings.replace(rovers=("perseverance",)))
    assert alone.job_options["job_timeout"] == 6 * 60 + 60


@pytest.mark.parametrize(("raw", "seconds"), [(None, 900), ("", 900), ("0", 0), ("2", 2), ("3600", 3600), ("90.7", 90)])
def test_refresh_seconds_from_the_environment(raw, seconds):
    env = {} if raw is None else {"PTRACKER_REFRESH_SECONDS": raw}
    assert Settings.from_env(env).refresh_seconds == seconds


@pytest.mark.parametrize("raw", ["-1", "soon", "nan"])
def test_bad_refresh_seconds_are_refused_in_words(raw):
    with pytest.raises(SettingsError, match="PTRACKER_REFRESH_SECONDS"):
        Settings.from_env({"PTRACKER_REFRESH_SECONDS": raw})


@pytest.mark.parametrize(
    ("raw", "queues"),
    [
        (None, ("exports", "refresh")),
        ("", ("exports", "refresh")),
        ("exports", ("exports",)),
        (" refresh , exports ,", ("refresh", "exports")),
    ],
)
def test_worker_queues_from_the_environment(raw, queues):
    env = {} if raw is None else {"PTRACKER_WORKER_QUEUES": raw}
    assert Settings.from_env(env).worker_queues == queues
