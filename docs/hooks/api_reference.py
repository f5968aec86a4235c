"""MkDocs hook: the REST API reference page, generated at every build from the app itself.

The page (``user/api-reference.md``) is never written by hand and never committed: the
app is built with test settings (an unreachable Redis, so nothing is touched), its own
``GET /openapi.json`` is requested through Flask's test client, and the document is turned
into Markdown. A route added, removed or changed in the code changes the page; if the app
cannot be built, ``mkdocs build`` fails.

The only code of the project used here is :func:`openapi_document`: if the app factory or
the settings move, that function is the one place to change.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
PAGE = "user/api-reference.md"
#: the document's tags, in the order the page lists them
TAG_ORDER = ("data", "exports", "service")
#: Redis the throw-away app is pointed at: a socket that does not exist (never reached)
NO_REDIS = "unix:///nonexistent/ptracker-docs.sock"


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document the app serves at ``/openapi.json``."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    # --- the one place that knows where the app lives -------------------------------
    from dashboard.app import create_app
    from dashboard.settings import Settings

    settings = Settings(redis_url=NO_REDIS, redis_socket_timeout=0.1, current_source=None)
    # ---------------------------------------------------------------------------------
    logging.disable(logging.WARNING)  # "store unreachable" while it renders its page once
    try:
        app = create_app(settings)
        answer = app.server.test_client().get("/openapi.json")
    finally:
        logging.disable(logging.NOTSET)
    if answer.status_code != 200:
        raise RuntimeError(f"GET /openapi.json answered {answer.status_code}")
    return answer.get_json()


# --- MkDocs events ----------------------------------------------------------------------


def on_files(files, config):
    """Add the generated page to the site (before navigation and links are checked)."""
    files.append(File.generated(config, PAGE, content=render(openapi_document())))
    return files


# --- Markdown ---------------------------------------------------------------------------


def render(doc: dict[str, Any]) -> str:
    info = doc.get("info", {})
    out = [
        "# API reference",
        "",
        "!!! note",
        "    Generated when the site is built, from the `/openapi.json` the app serves "
        f"(OpenAPI {doc.get('openapi', '?')}, API version {info.get('version', '?')}). "
        "Do not edit: change the routes and their models instead. A running server gives the same "
        "document at `/openapi.json`, and a plain-text table at `/help`.",
        "",
        esc(info.get("description", "")),
        "",
    ]
    operations = [
        (method.upper(), path, op)
        for path, ops in doc.get("paths", {}).items()
        for method, op in ops.items()
        if isinstance(op, dict)
    ]
    for tag in _tags(operations):
        ops = [o for o in operations if _tag(o[2]) == tag]
        out += [f"## {tag.capitalize()} routes", "", "| method | path | summary |", "|---|---|---|"]
        out += [f"| {m} | [`{p}`](#{_anchor(m, p)}) | {esc(op.get('summary', ''))} |" for m, p, op in ops]
        out.append("")
        for method, path, op in ops:
            out += _operation(method, path, op, doc.get("components", {}).get("securitySchemes", {}))
    schemas = doc.get("components", {}).get("schemas", {})
    if schemas:
        out += ["## Models", ""]
        for name in sorted(schemas):
            out += _model(name, schemas[name])
    return "\n".join(out) + "\n"


def _tags(operations: list) -> list[str]:
    found = {_tag(op) for _, _, op in operations}
    return [t for t in TAG_ORDER if t in found] + sorted(found - set(TAG_ORDER))


def _tag(op: dict) -> str:
    return (op.get("tags") or ["other"])[0]


def _anchor(method: str, path: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in path.lower()).strip("-")
    return f"{method.lower()}-{slug or 'root'}"


def _operation(method: str, path: str, op: dict, security_schemes: dict) -> list[str]:
    out = [f"### {method} {path} {{#{_anchor(method, path)}}}", "", esc(op.get("summary", "")), ""]
    if op.get("description"):
        out += [esc(op["description"]), ""]
    schemes = [name for requirement in op.get("security") or [] for name in requirement]
    if schemes:
        kinds = ", ".join(f"`{n}` ({_scheme(security_schemes.get(n, {}))})" for n in schemes)
        optional = "; the route may also be open (depends on configuration)" if {} in op["security"] else ""
        out += [f"Security: {kinds}{optional}.", ""]
    params = op.get("parameters") or []
    if params:
        out += ["| parameter | in | type | required | description |", "|---|---|---|---|---|"]
        for p in params:
            schema = p.get("schema", {})
            desc = p.get("description") or schema.get("description") or ""
            out.append(
                f"| `{p['name']}` | {p.get('in', '')} | {_type(schema)}{_bounds(schema)} | "
                f"{'yes' if p.get('required') else 'no'} | {esc(desc)} |"
            )
        out.append("")
    body = op.get("requestBody")
    if body:
        kinds = ", ".join(f"`{k}` {_type(v.get('schema', {}))}" for k, v in body.get("content", {}).items())
        out += [f"Request body ({'required' if body.get('required') else 'optional'}): {kinds}", ""]
    out += ["| status | meaning | body | headers |", "|---|---|---|---|"]
    for code, answer in sorted(op.get("responses", {}).items()):
        content = ", ".join(f"`{k}` {_type(v.get('schema', {}))}" for k, v in (answer.get("content") or {}).items())
        headers = ", ".join(f"`{h}`" for h in answer.get("headers") or {})
        out.append(f"| {code} | {esc(answer.get('description', ''))} | {content} | {headers} |")
    return [*out, ""]


def _scheme(scheme: dict) -> str:
    if scheme.get("type") == "http":
        return f"`Authorization: {str(scheme.get('scheme', '')).capitalize()} <token>`"
    return scheme.get("type", "?")


def _model(name: str, schema: dict) -> list[str]:
    out = [f"### {name} {{#model-{name.lower()}}}", ""]
    if schema.get("description"):
        out += [esc(" ".join(schema["description"].split())), ""]
    props = schema.get("properties")
    if not props:
        return [*out, f"Type: {_type(schema)}", ""]
    required = set(schema.get("required") or [])
    extra = "" if schema.get("additionalProperties") is not False else " Other fields are refused."
    out += [f"Object.{extra}", "", "| field | type | required | default | description |", "|---|---|---|---|---|"]
    for field, spec in props.items():
        default = f"`{_json(spec['default'])}`" if spec.get("default") is not None else ""
        out.append(
            f"| `{field}` | {_type(spec)}{_bounds(spec)} | {'yes' if field in required else 'no'} | {default} | "
            f"{esc(spec.get('description', ''))} |"
        )
    for example in schema.get("examples") or []:
        out += ["", f"Example: `{_json(example)}`"]
    return [*out, ""]


def _type(schema: dict) -> str:
    """A schema as a short type: ``integer``, ``string or null``, ``[Feature]``, links to models."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#model-{name.lower()})"
    if "const" in schema:
        return f"`{_json(schema['const'])}`"
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(_type(s) for s in schema[key])
    kind = schema.get("type")
    if kind == "array":
        return f"[{_type(schema.get('items', {}))}]"
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "string" and schema.get("format"):
        return f"string ({schema['format']})"
    return kind or "any"


def _bounds(schema: dict) -> str:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        return f", {low:g}..{high:g}"
    if low is not None:
        return f", ≥ {low:g}"
    return f", ≤ {high:g}" if high is not None else ""


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def esc(text: str) -> str:
    """Plain text safe inside a Markdown table cell (code spans, in backticks, kept as they are)."""
    parts = re.split(r"(`+[^`]*`+)", " ".join(str(text).split()))
    return "".join(part if part.startswith("`") else _plain(part) for part in parts)


def _plain(text: str) -> str:
    for raw, safe in (("\\", "\\\\"), ("|", "\\|"), ("<", "&lt;"), ("*", "\\*")):
        text = text.replace(raw, safe)
    return text
