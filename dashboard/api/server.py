"""What the server does around the routes: body limits, security headers (CSP), the
catch-all (JSON 404, help for plain clients on ``/``), JSON 405 and error handlers.
``create_app`` calls :func:`install` once."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from dashboard.api import context_routes, export_routes, feed_routes, live_routes, routes, rover_routes
from dashboard.api.blueprint import api
from dashboard.api.openapi import SERVICE, Answers, document_endpoint, help_text
from dashboard.api.schemas import Error
from dashboard.http import CALLBACK_PATH, MAX_BODY, MAX_CALLBACK_BODY, error, method_not_allowed

#: importing these puts their routes on the blueprint (:data:`dashboard.api.blueprint.api`)
ROUTE_MODULES = (routes, export_routes, feed_routes, live_routes, context_routes, rover_routes)
#: Paths that belong to Dash (its page, scripts, callbacks) rather than the API.
DASH_PREFIXES = ("/_dash-", "/assets/", "/_favicon", "/_reload-hash", "/_alive")
METRICS_SUMMARY = "Prometheus metrics (text exposition format)"
METRICS = Answers(
    content={"HTTP_200": {"text/plain": {"type": "string"}}},
    HTTP_404=(Error, "not published through the public proxy (Prometheus scrapes the pod directly)"),
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def content_security_policy(script_hashes: Iterable[str]) -> str:
    """A CSP that Dash and plotly.js run under: scripts only from this server plus Dash's
    own inline scripts by hash, and 'unsafe-eval' because plotly's WebGL traces (regl)
    compile their draw calls with ``new Function`` (without it, scattergl charts stop
    responding to selection); inline styles (plotly sets them); images as data/blob URLs
    (plotly's modebar download, WebGL); no framing."""
    scripts = " ".join(["'self'", *script_hashes, "'unsafe-eval'"])
    return (
        "default-src 'self'; "
        f"script-src {scripts}; "
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; "
        "font-src 'self' data:; "
        "connect-src 'self'; "
        "worker-src 'self' blob:; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )


def _api_first() -> Response | None:
    """Before any route: the body limit, help for plain clients on ``/``, JSON 405/404
    where Dash's catch-all page route would otherwise answer."""
    if request.content_length is not None and request.content_length > MAX_BODY and request.path != CALLBACK_PATH:
        return error(413, f"request body is over {MAX_BODY:,} bytes")
    path = request.path
    if path == "/" and request.method in ("GET", "HEAD"):
        # the page for clients that name text/html (browsers); help for the rest (curl: */*)
        if "text/html" not in request.headers.get("Accept", ""):
            return Response(help_text(), content_type="text/plain; charset=utf-8")
        return None
    rule = request.url_rule.rule if request.url_rule is not None else None
    if rule is None and isinstance(request.routing_exception, MethodNotAllowed):
        return method_not_allowed(path, request.routing_exception.valid_methods or [])
    if rule is None or (rule.startswith("/<path:") and not path.startswith(DASH_PREFIXES)):
        return error(404, f"no route {path}; see /help")
    return None


def _http_error(exc: HTTPException) -> Response:
    if exc.code == 413:
        return error(413, "request body is too large")
    if exc.code == 405:
        return method_not_allowed(request.path, getattr(exc, "valid_methods", None) or [])
    return error(exc.code or 500, exc.description or exc.name)


def _unexpected(exc: Exception) -> Response:
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return error(500, "internal error; it has been logged")


def install(server: Flask, script_hashes: Iterable[str] = ()) -> None:
    """Register the API, its JSON error handling and the security headers on the
    dashboard's Flask server (after ``metrics.install``: /metrics is documented too)."""
    server.config["MAX_CONTENT_LENGTH"] = MAX_CALLBACK_BODY  # the API's own routes allow MAX_BODY
    server.register_blueprint(api)
    if "metrics" in server.view_functions:
        document_endpoint(server, "metrics", ("GET",), METRICS_SUMMARY, resp=METRICS, tags=SERVICE)
    csp = content_security_policy(script_hashes)

    @server.after_request
    def _headers(resp: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(name, value)
        if request.path == "/":  # the page or the help, by Accept: a cache must key on it
            resp.vary.add("Accept")
        resp.headers.setdefault("Content-Security-Policy", csp)
        return resp

    server.before_request(_api_first)
    server.register_error_handler(HTTPException, _http_error)
    server.register_error_handler(Exception, _unexpected)
