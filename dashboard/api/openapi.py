"""``/openapi.json`` and ``/help``, generated from the routes and their models.

The library is spectree (https://github.com/0b01001001/spectree): it documents plain Flask
views from the server's own URL map and pydantic models, without taking over routing or
error answers (flask-openapi3 and apiflask replace the Flask app or blueprint class and
answer validation failures in their own shape). Its request validation is not used
(``skip_validation``): the routes read their requests through ``dashboard/api/schemas.py``,
which answers in the API's words; spectree only reads the same models to describe them.

A route declares its document with :func:`document_route` (``dashboard/api/blueprint.py`` does
it for every API route); the view keeps running the route function directly, the
description hangs off ``__wrapped__``, where spectree looks for it. ``/help`` is a
plain-text table of the same document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from spectree import Response as SpecResponse
from spectree import SecurityScheme, SpecTree
from spectree._types import NamingStrategy
from spectree.models import SecureType, SecuritySchemeData
from spectree.plugins.flask_plugin import FlaskPlugin
from spectree.utils import get_model_key, parse_code

from dashboard import __version__
from dashboard.api.schemas import Error

#: header, and a route table, of /help; then these examples
HELP_TITLE = "Perseverance Tracker: routes (all on this server's port)"
HELP_ROOT = ("GET", "/", "the dashboard (plain clients get this help)")
HELP_EXAMPLES = (
    "Export bodies (POST /perseverance/.../<field> and /jobs):\n"
    """  {"start": 0, "end": 400}   the sol range; optional: "format" png|svg|pdf, "width", "height", "scale";\n"""
    """  /jobs also "type" and the two fields, e.g. {"type": "way", "xkey": "lon", "ykey": "yaw"}\n"""
    """Replay body (POST /perseverance/replay): {"start": 13, "end": 400}; optional: "format" mp4|gif|webm,\n"""
    """  "frames" (120), "fps" (12; frames/fps at most 60 s), "width", "height"\n\n"""
    "Example:\n"
    "  curl localhost:8050/perseverance/orientation/yaw -X POST -H 'Content-Type: application/json'"
    """ -d '{"start":"0","end":"400"}'\n"""
    "  curl -OJ localhost:8050/download/<id from the answer>\n"
)
HELP_PATH_WIDTH = 35
#: the document's tags, in the order /help lists them
DATA, EXPORTS, SERVICE = ("data",), ("exports",), ("service",)
TAG_ORDER = (*DATA, *EXPORTS, *SERVICE)
#: request bodies that may be left out (every field has a default)
OPTIONAL_BODIES = {"ExportBody", "ReplayBody"}


class Answers(SpecResponse):
    """spectree's Response, plus what the API's answers need in the document: content
    types other than JSON (``content={"HTTP_200": {"text/csv": {"type": "string"}}}``) and
    response headers (``headers={"HTTP_429": {"Retry-After": "seconds to wait"}}``)."""

    def __init__(
        self,
        *codes: str,
        content: dict[str, dict[str, dict]] | None = None,
        headers: dict[str, dict[str, str]] | None = None,
        **code_models: Any,
    ) -> None:
        super().__init__(*codes, **code_models)
        self.content, self.headers = content or {}, headers or {}
        #: spectree adds its validation-error answer to every route; document only these
        self.declared = {parse_code(c) for c in (*codes, *code_models, *self.content)}

    def generate_spec(self, naming_strategy: NamingStrategy = get_model_key) -> dict[str, Any]:
        out = {code: entry for code, entry in super().generate_spec(naming_strategy).items() if code in self.declared}
        for code, media in self.content.items():
            entry = out.setdefault(code[len("HTTP_") :], {"description": self.get_code_description(code)})
            entry.setdefault("content", {}).update({kind: {"schema": schema} for kind, schema in media.items()})
        for code, named in self.headers.items():
            entry = out[code[len("HTTP_") :]]
            entry["headers"] = {
                name: {"description": text, "schema": {"type": "string"}} for name, text in named.items()
            }
        return out


class _Plugin(FlaskPlugin):
    """Each API view answers every method (405 in JSON for the others): document only
    the methods it serves (``api_methods``)."""

    def bypass(self, func: Any, method: str) -> bool:
        served = getattr(func, "api_methods", None)
        return method in ("HEAD", "OPTIONS") or (served is not None and method not in served)


spec = SpecTree(
    "flask",
    backend=_Plugin,
    mode="strict",  # only what document_route() declared: never Dash's own routes
    annotations=False,
    title="Perseverance Tracker API",
    version=__version__,
    description=(
        "NASA's Mars rover localizations (MMGIS layers) as JSON, and chart exports: Perseverance "
        "(Mars 2020) under /perseverance, Curiosity (MSL) under /curiosity."
    ),
    validation_error_status=400,
    validation_error_model=Error,
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
    security_schemes=[SecurityScheme(name="admin", data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer"))],
)


def document_route(view: Callable, fn: Callable, methods: Iterable[str], **doc: Any) -> None:
    """Document ``view`` (registered on the server; it calls ``fn``) for ``methods``:
    ``doc`` is spectree's ``validate`` arguments (query, json, resp, security...). The
    summary is the first paragraph of ``view``'s docstring, the description the rest."""
    documented = spec.validate(skip_validation=True, **doc)(fn)
    view.__wrapped__ = documented  # type: ignore[attr-defined]
    view.api_methods = tuple(methods)  # type: ignore[attr-defined]


def document_endpoint(server: Flask, endpoint: str, methods: Iterable[str], summary: str, **doc: Any) -> None:
    """Document a view registered elsewhere (``/metrics``): the server then calls it
    through a pass-through that carries the description."""
    original = server.view_functions[endpoint]

    def view(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **kwargs)

    view.__doc__ = summary
    view.__name__ = original.__name__
    document_route(view, original, methods, **doc)
    server.view_functions[endpoint] = view


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the current app's routes (inside an app context)."""
    doc = spec.spec
    for operations in doc["paths"].values():
        for operation in operations.values():
            body = operation.get("requestBody")
            ref = ((body or {}).get("content", {}).get("application/json") or {}).get("schema", {}).get("$ref", "")
            if ref.rsplit("/", 1)[-1] in OPTIONAL_BODIES:
                body["required"] = False
    return doc


def help_text() -> str:
    """``/help``: every documented route, one line each (by tag: data, exports, service),
    then examples."""
    lines = [HELP_TITLE, "", _help_line(*HELP_ROOT), _help_line("GET", "/help", "this help")]
    table = [
        (method.upper(), path.replace("{job_id}", "<id>"), op["summary"], _tag_rank(op))
        for path, operations in document()["paths"].items()
        for method, op in operations.items()
        if path != "/help"
    ]
    lines += [_help_line(method, path, summary) for method, path, summary, _ in sorted(table, key=lambda r: r[3])]
    return "\n".join(lines) + "\n\n" + HELP_EXAMPLES


def _tag_rank(operation: dict) -> int:
    tags = operation.get("tags") or []
    return TAG_ORDER.index(tags[0]) if tags and tags[0] in TAG_ORDER else len(TAG_ORDER)


def _help_line(method: str, path: str, summary: str) -> str:
    return f"  {method:<5} {path:<{HELP_PATH_WIDTH}} {summary}"


# --- the answers routes share ---------------------------------------------------------------

NOT_MODIFIED = (
    "not modified: If-None-Match names the current ETag (or If-Modified-Since is not older than the dataset's "
    "load); no body"
)
NO_DATA = (Error, "no dataset loaded, or Redis unreachable")
NO_REDIS = (Error, "Redis unreachable")


def data_answers(ok: Any = None, content: dict[str, dict] | None = None, **more: Any) -> Answers:
    """A data route's answers: 200 (``ok`` model, or ``content`` by media type), 304 with
    its validators, 400 for a bad query, 503 without data."""
    return Answers(
        HTTP_200=(ok, "the data") if ok is not None else (None, "the data"),
        HTTP_304=(None, NOT_MODIFIED),
        HTTP_400=(Error, "bad query parameter"),
        HTTP_503=NO_DATA,
        content={"HTTP_200": content} if content else None,
        headers={"HTTP_304": {"ETag": "the current ETag", "Cache-Control": "how long to reuse the answer"}},
        **more,
    )


def export_answers(accepted: Any) -> Answers:
    """An export submission's answers."""
    retry = {"Retry-After": "seconds to wait"}
    return Answers(
        HTTP_202=(accepted, "queued (or the existing export of the same request on the same dataset)"),
        HTTP_400=(
            Error,
            "bad body: not a JSON object, non-numeric or reversed sols, unknown format or field, size out of bounds",
        ),
        HTTP_409=(Error, "the same export is being queued by another request; try again"),
        HTTP_413=(Error, "body too large"),
        HTTP_415=(Error, "the body is not sent as Content-Type: application/json"),
        HTTP_429=(
            Error,
            "too many exports from this client (per minute), or it already has its share of the queue waiting",
        ),
        HTTP_503=(Error, "no dataset, Redis away or full, the export queue full, or no replica confirmed the job"),
        headers={"HTTP_202": {"Location": "the status URL"}, "HTTP_409": retry, "HTTP_429": retry, "HTTP_503": retry},
    )
