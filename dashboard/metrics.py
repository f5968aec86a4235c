"""Prometheus metrics: ``GET /metrics`` on the web server, and the export worker's own.

Multiprocess mode: when ``PROMETHEUS_MULTIPROC_DIR`` is set (``deploy/gunicorn.conf.py``
sets a default; ``python -m dashboard run`` shares one directory between gunicorn and the
export worker), every process writes its samples there and ``/metrics`` aggregates them,
so one scrape sees all gunicorn workers (and, with a shared directory, the export worker).
Without it (tests, ``flask run``) the process's default registry is used.

Series (all prefixed ``ptracker_``):

- ``http_requests_total{method,route,status}``: answers by URL rule (``/jobs/<path:job_id>``,
  not the raw path; ``<unmatched>`` for 404s), method and status.
- ``http_request_duration_seconds{method,route,status}``: latency histogram, same labels.
- ``callback_duration_seconds{callback,status}``: Dash callbacks (``/_dash-update-component``)
  by output id.
- ``export_queue_depth``, ``export_jobs{state}``: jobs waiting / started / failed (read from
  Redis at scrape time).
- ``export_duration_seconds{chart,format,outcome}`` and ``exports_total{chart,format,outcome}``:
  written by the export worker per job (outcome ``ok`` / ``failed``).
- ``dataset_version``, ``dataset_loaded_timestamp_seconds``, ``dataset_age_seconds``,
  ``dataset_waypoints``: the current dataset (read at scrape time).
- ``newest_sol_age_seconds``: seconds since the newest sol of any layer of the current
  dataset began (Mars time, :mod:`dashboard.marstime`): how far NASA's data, as loaded,
  lags behind the rover.
- ``refresh_total{outcome}``: scheduled refreshes, written by the worker that runs them
  (``loaded``: a new version; ``unchanged``; ``failed``: a source failed, the data was kept;
  ``busy``: another load was running, this one was skipped).
"""

from __future__ import annotations

import logging
import os
import time

from flask import Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from rq import Queue

from dashboard.exports.queue import QUEUE_NAME
from dashboard.http import CALLBACK_PATH
from dashboard.marstime import parse_utc
from dashboard.rovers import ROVERS
from dashboard.settings import Settings

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
EXPORT_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)

HTTP_REQUESTS = Counter(
    "ptracker_http_requests", "HTTP answers by route (URL rule), method and status", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "ptracker_http_request_duration_seconds",
    "Time to answer, by route, method and status",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
CALLBACK_LATENCY = Histogram(
    "ptracker_callback_duration_seconds",
    "Dash callback time, by output",
    ["callback", "status"],
    buckets=LATENCY_BUCKETS,
)
EXPORTS = Counter(
    "ptracker_exports", "Exports rendered by the worker, by chart, format and outcome", ["chart", "format", "outcome"]
)
EXPORT_DURATION = Histogram(
    "ptracker_export_duration_seconds",
    "Export job time (data + render + store)",
    ["chart", "format", "outcome"],
    buckets=EXPORT_BUCKETS,
)
REFRESHES = Counter("ptracker_refresh", "Scheduled refreshes of the layers, by outcome", ["outcome"])
#: the outcomes of a scheduled refresh (every series exists from the start, at 0)
REFRESH_OUTCOMES = ("loaded", "unchanged", "failed", "busy")
for _outcome in REFRESH_OUTCOMES:
    REFRESHES.labels(_outcome)


def multiprocess_dir() -> str | None:
    """The multiprocess folder, read from the environment on purpose (not from Settings):
    prometheus_client itself takes it from there, and gunicorn's config sets it in the
    master (``on_starting``) after the settings were read."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")
    return path if path and os.path.isdir(path) else None


class StateCollector:
    """Gauges read when scraped: each served rover's dataset (label ``rover``) and the
    export queue (one web process answers each scrape, so these are not per-process series)."""

    def __init__(self, stores: dict):
        self.stores = stores  # the served rovers' DatasetStores, by name

    def describe(self):  # no collect() (and no Redis round trip) when registered
        return []

    def collect(self):
        rover = ["rover"]
        version = GaugeMetricFamily(
            "ptracker_dataset_version", "Current dataset version (0: none loaded)", labels=rover
        )
        loaded = GaugeMetricFamily(
            "ptracker_dataset_loaded_timestamp_seconds", "When the current dataset was loaded", labels=rover
        )
        age = GaugeMetricFamily(
            "ptracker_dataset_age_seconds", "Seconds since the current dataset was loaded", labels=rover
        )
        rows = GaugeMetricFamily("ptracker_dataset_waypoints", "Waypoints in the current dataset", labels=rover)
        newest = GaugeMetricFamily(
            "ptracker_newest_sol_age_seconds", "Seconds since the newest sol of any layer began", labels=rover
        )
        depth = GaugeMetricFamily("ptracker_export_queue_depth", "Export jobs waiting in the queue")
        jobs = GaugeMetricFamily("ptracker_export_jobs", "Export jobs by state (RQ registries)", labels=["state"])
        up = GaugeMetricFamily("ptracker_redis_up", "1 when Redis answered this scrape")
        try:
            for name, store in self.stores.items():
                meta = store.meta()
                if not meta:
                    version.add_metric([name], 0)
                    continue
                version.add_metric([name], float(meta.get("version") or 0))
                when = _parse_time(meta.get("loaded_at"))
                if when is not None:
                    loaded.add_metric([name], when)
                    age.add_metric([name], max(0.0, time.time() - when))
                wp = (meta.get("layers") or {}).get("waypoints") or {}
                if isinstance(wp.get("rows"), (int, float)):
                    rows.add_metric([name], wp["rows"])
                sol = newest_sol(meta)
                if sol is not None:
                    began = ROVERS[name].calendar.sol_start(sol).timestamp()
                    newest.add_metric([name], max(0.0, time.time() - began))
            up.add_metric([], 1)
            queue = Queue(QUEUE_NAME, connection=next(iter(self.stores.values())).redis)
            depth.add_metric([], queue.count)
            jobs.add_metric(["queued"], queue.count)
            jobs.add_metric(["started"], queue.started_job_registry.count)
            jobs.add_metric(["failed"], queue.failed_job_registry.count)
            jobs.add_metric(["finished"], queue.finished_job_registry.count)
        except Exception as exc:  # Redis away: say so, keep the scrape working
            log.warning("metrics: state not readable: %s", exc)
            up.add_metric([], 0)
        yield from (version, loaded, age, rows, newest, depth, jobs, up)


def newest_sol(meta: dict) -> int | None:
    """The newest sol of any layer of a dataset, from its metadata (no frame decoded)."""
    layers = meta.get("layers") or {}
    sols = [
        (layers.get(name) or {}).get(key)
        for name, key in (("waypoints", "sol_max"), ("traverse", "sol_max"), ("current", "sol"))
    ]
    found = [int(s) for s in sols if isinstance(s, (int, float))]
    return max(found) if found else None


def _parse_time(raw) -> float | None:
    when = parse_utc(raw)
    return None if when is None else when.timestamp()


def scrape(extra_collectors=()) -> bytes:
    """The exposition text: all processes' samples (multiprocess) or this process's."""
    path = multiprocess_dir()
    if path:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=path)
    else:
        registry = CollectorRegistry()
        for collector in list(REGISTRY._collector_to_names):  # this process's metrics
            registry.register(collector)
    for collector in extra_collectors:
        registry.register(collector)
    return generate_latest(registry)


def _callback_name(callback_map) -> str:
    try:
        body = request_json()
        output = body.get("output") if isinstance(body, dict) else None
    except Exception:
        output = None
    if isinstance(output, str) and output in callback_map:
        return output[:200]
    return "unknown"


def request_json():
    return request.get_json(silent=True, cache=True)


def install(server, stores: dict, settings: Settings, callback_map=None) -> None:
    """``GET /metrics`` and per-request counters/histograms on the Flask server (``stores``:
    the served rovers' DatasetStores, by name)."""
    state = StateCollector(stores)

    @server.before_request
    def _start():
        g.ptracker_metrics_t0 = time.perf_counter()

    @server.after_request
    def _observe(resp):
        t0 = g.get("ptracker_metrics_t0")
        if t0 is None:
            return resp
        elapsed = time.perf_counter() - t0
        rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        if rule.startswith("/<path:") and not resp.status_code < 400:
            rule = "<unmatched>"
        status = str(resp.status_code)
        # a client chooses the method: only known ones become a label, or any made-up
        # method would add series without bound
        method = request.method if request.method in KNOWN_METHODS else "other"
        HTTP_REQUESTS.labels(method, rule, status).inc()
        HTTP_LATENCY.labels(method, rule, status).observe(elapsed)
        if request.path == CALLBACK_PATH and callback_map is not None:
            CALLBACK_LATENCY.labels(_callback_name(callback_map), status).observe(elapsed)
        return resp

    hide_behind_proxy = bool(settings.proxy_count) and not settings.metrics_public

    def metrics_view():
        # Prometheus scrapes the pod or container directly; through the public proxy (which
        # always adds X-Forwarded-For) the series are not published.
        if hide_behind_proxy and request.headers.get("X-Forwarded-For"):
            return Response(b'{"error": "no route /metrics; see /help"}', status=404, content_type="application/json")
        return Response(scrape([state]), content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    server.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])


# --- the workers (exports, refreshes) ---------------------------------------------------------


def observe_refresh(outcome: str) -> None:
    """One scheduled refresh, by outcome (:data:`REFRESH_OUTCOMES`)."""
    REFRESHES.labels(outcome).inc()


def observe_export(chart: str, fmt: str, outcome: str, seconds: float) -> None:
    EXPORTS.labels(chart, fmt, outcome).inc()
    EXPORT_DURATION.labels(chart, fmt, outcome).observe(seconds)


def serve_worker_metrics(port: int, addr: str = "0.0.0.0") -> None:
    """The worker's own /metrics on ``port`` (Kubernetes scrapes each worker pod)."""
    path = multiprocess_dir()
    if path:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=path)
        start_http_server(port, addr=addr, registry=registry)
    else:
        start_http_server(port, addr=addr)
