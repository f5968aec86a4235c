"""The scheduled refresh: the RQ job the clock (``jobs/clock.py``) queues every
``PTRACKER_REFRESH_SECONDS`` on the ``refresh`` queue, run by a worker (``jobs/worker.py``).

It is the same load as ``python -m dashboard load`` (:func:`dashboard.data.load.load` with
the settings' sources), so the layers' conditional GETs apply: when no layer changed, only
the validators are exchanged (304, or the same sha256 for a server that ignores them) and
no version is written. Its outcome is counted (``ptracker_refresh_total{outcome}``):

- ``loaded``: a new version is current (and its change recorded, :mod:`dashboard.data.changes`);
- ``unchanged``: NASA's layers are as loaded;
- ``busy``: another load holds the store's load lock (a refresh from another clock, the
  CLI, ``POST /load``): this refresh is skipped, not failed;
- ``failed``: a required source failed (NASA down, an error status, a timeout, an HTML
  page or an empty FeatureCollection instead of the layer). The current dataset is kept;
  the load record (``load:last``) says the error and ``failing_since``, the time of the
  first failed attempt since the last success (a success writes a record without it).
  The job fails with :class:`RefreshFailed` (one line in the worker's log, no traceback).
"""

from __future__ import annotations

import logging
import time

import redis
from rq import Queue
from rq.timeouts import JobTimeoutException

from dashboard.data.fetch import iso
from dashboard.data.load import LoadBusy, LoadError, load
from dashboard.data.store import DatasetStore
from dashboard.exports.queue import SERIALIZER
from dashboard.metrics import observe_refresh
from dashboard.redis_conn import session
from dashboard.settings import Settings

#: the queue of refresh jobs (a worker's PTRACKER_WORKER_QUEUES names it)
QUEUE_NAME = "refresh"
#: the job, by dotted name (the clock does not import it)
JOB_FUNCTION = "dashboard.data.refresh.refresh"
#: how long a finished refresh's summary, and a failed one's reason, are kept (seconds)
RESULT_TTL, FAILURE_TTL = 3600, 86400

log = logging.getLogger(__name__)


class RefreshFailed(LoadError):
    """A scheduled refresh failed; the current dataset is kept. The message says why and since when."""


def queue(connection: redis.Redis) -> Queue:
    """The refresh queue, JSON-serialised like the export queue (one worker serves both)."""
    return Queue(QUEUE_NAME, connection=connection, serializer=SERIALIZER)


def job_timeout(settings: Settings) -> int:
    """Seconds one refresh may run: per rover served (refreshed one after the other), each
    of its layers' fetch deadline (the rover's three; Perseverance's context layers too)
    and a minute to parse and save."""
    layers = sum(6 if name == "perseverance" else 4 for name in settings.rovers)
    return int(layers * settings.fetch_deadline) + 60 * len(settings.rovers)


def refresh() -> dict:
    """The job: one refresh of each rover served (``PTRACKER_ROVERS``), with the worker's
    settings (read from its environment). Each rover is loaded on its own: one failing
    never keeps another from being refreshed. Returns Perseverance's outcome (the first
    rover's when it is not served) with every rover's under ``rovers``; raises
    :class:`RefreshFailed` naming each rover that failed, after all were tried."""
    settings = Settings.from_env()
    outcomes: dict[str, dict] = {}
    failed: list[str] = []
    with session(settings) as client:
        for rover in settings.rovers:
            try:
                outcomes[rover] = run_refresh(DatasetStore.of(client, settings, rover), settings.for_rover(rover))
            except RefreshFailed as exc:
                failed.append(f"{rover}: {exc}")
            except JobTimeoutException:
                raise  # the job's own time is up: RQ fails it (the next tick tries again)
            except Exception as exc:  # anything else: said, and the next rover is refreshed all the same
                log.exception("refresh of %s failed", rover)
                failed.append(f"{rover}: {type(exc).__name__}: {exc}")
    if failed:
        raise RefreshFailed("; ".join(failed))
    first = outcomes.get("perseverance") or next(iter(outcomes.values()), {})
    return {**first, "rovers": outcomes}


def run_refresh(store: DatasetStore, settings: Settings) -> dict:
    """Load the settings' sources into ``store``; the outcome and the load's summary.
    Raises :class:`RefreshFailed` when a source failed (the data is kept)."""
    before = store.last_load()
    started = time.monotonic()
    try:
        summary = load(store, settings)
    except LoadBusy as exc:
        observe_refresh("busy")
        log.info("refresh skipped: %s", exc)
        return {"outcome": "busy", "reason": str(exc)}
    except LoadError as exc:
        observe_refresh("failed")
        since = mark_failing(store, before)
        raise RefreshFailed(f"refresh failed (failing since {since}): {exc}") from exc
    except Exception:
        observe_refresh("failed")
        raise
    outcome = "loaded" if summary.get("status") == "loaded" else "unchanged"
    observe_refresh(outcome)
    log.info(
        "refresh %s: version %s in %.3f s",
        outcome,
        summary.get("version"),
        time.monotonic() - started,
        extra={"outcome": outcome, "version": summary.get("version")},
    )
    return {"outcome": outcome, **summary}


def mark_failing(store: DatasetStore, before: dict | None) -> str:
    """Add ``failing_since`` to the failed load's record: kept from the record before it when
    that one failed too (its own ``failing_since``, else its time), else this failure's time."""
    record = store.last_load() or {}
    before = before or {}
    since = None
    if before and not before.get("ok", True):
        since = before.get("failing_since") or before.get("at")
    since = since or record.get("at") or iso(time.time())
    store.record_load({**record, "failing_since": since})
    return since
