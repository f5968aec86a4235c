"""Logs as one JSON object per line, each carrying the request id it belongs to.

- :func:`configure` puts a python-json-logger formatter on the root logger (the web
  workers through ``deploy/gunicorn.conf.py``'s ``logconfig_dict``, the export worker in
  ``jobs/worker.py``). Every record gets ``request_id`` (``null`` outside a request or
  job) from a context variable.
- :func:`install` (web): each request takes its id from ``X-Request-ID`` when the
  client or the proxy sent a sane one (1-128 of ``A-Za-z0-9._:-``), else a new uuid4 hex;
  the answer carries it back in ``X-Request-ID``, and one access line is logged per request
  (logger ``ptracker.access``: method, path, route, status, duration_ms, bytes, remote).
- Export jobs carry the id of the request that queued them in ``job.meta["request_id"]``;
  the worker sets it around the job, so its log lines name it too.
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
import re
import time
import uuid

from flask import Flask, Response, g, request

from dashboard.settings import Settings

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("ptracker_request_id", default=None)
VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
HEADER = "X-Request-ID"
access_log = logging.getLogger("ptracker.access")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


def formatter_config() -> dict:
    """dictConfig entries (formatter and filter) for JSON lines with a request id."""
    return {
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s",
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": "time",  # ISO 8601, UTC
            }
        },
        "filters": {"request_id": {"()": "dashboard.logs.RequestIdFilter"}},
    }


def dict_config(level: str = Settings.log_level, stream: str = "ext://sys.stdout", text: bool = False) -> dict:
    """dictConfig for the root logger: JSON lines, or plain text lines when ``text`` (the
    handler keeps the name "json" either way, so gunicorn's loggers can point at it)."""
    level = level.upper()
    cfg = formatter_config()
    if text:
        cfg["formatters"]["json"] = {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"}
    cfg.update(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {
                "json": {
                    "class": "logging.StreamHandler",
                    "formatter": "json",
                    "filters": ["request_id"],
                    "stream": stream,
                },
            },
            "root": {"level": level, "handlers": ["json"]},
        }
    )
    return cfg


def json_enabled(settings: Settings) -> bool:
    return settings.log_format != "text"


def configure(settings: Settings) -> None:
    """Root logger -> JSON lines on stdout at ``settings.log_level`` (``log_format`` "text":
    plain text lines)."""
    if json_enabled(settings):
        logging.config.dictConfig(dict_config(settings.log_level))
    else:
        logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def new_request_id() -> str:
    return uuid.uuid4().hex


def install(server: Flask, settings: Settings) -> None:
    """Request ids in and out, and one JSON access line per request when the settings ask
    for it (JSON only: in plain text gunicorn's own access line says it better)."""
    access = settings.access_log and json_enabled(settings)

    @server.before_request
    def _request_id():
        given = request.headers.get(HEADER, "")
        rid = given if VALID_ID.match(given) else new_request_id()
        g.request_id = rid
        g.ptracker_token = request_id_var.set(rid)
        g.ptracker_t0 = time.perf_counter()

    @server.after_request
    def _answer(resp: Response) -> Response:
        rid = g.get("request_id")
        if rid is None:  # a before_request hook registered earlier answered first
            rid = new_request_id()
            g.request_id = rid
        resp.headers[HEADER] = rid
        if access and access_log.isEnabledFor(logging.INFO):
            t0 = g.get("ptracker_t0")
            rule = request.url_rule.rule if request.url_rule is not None else None
            access_log.info(
                "request",
                extra={
                    "request_id": rid,
                    "method": request.method,
                    "path": request.path,
                    "route": rule,
                    "status": resp.status_code,
                    "duration_ms": round((time.perf_counter() - t0) * 1000, 2) if t0 else None,
                    "bytes": resp.content_length,
                    "remote": request.remote_addr,
                },
            )
        return resp

    @server.teardown_request
    def _reset(_exc=None):
        token = g.pop("ptracker_token", None)
        if token is not None:
            try:
                request_id_var.reset(token)
            except ValueError:  # set in another context (should not happen)
                request_id_var.set(None)
