"""The API's blueprint, its :func:`route` decorator and what a route reads from the app.

Each route answers JSON 405 (with Allow) to the methods it does not serve, instead of
letting Dash's catch-all page route take them, and turns the errors it may meet
(:class:`ApiError`, a feature's error, Redis away or full) into JSON answers
(:func:`dashboard.api.errors.answer_error`). Its document (``/openapi.json``) is declared
with it (:func:`dashboard.api.openapi.document_route`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, current_app, g, request

from dashboard.api.errors import ApiError, answer_error
from dashboard.api.openapi import document_route
from dashboard.data.store import Dataset, DatasetStore
from dashboard.http import method_not_allowed
from dashboard.rovers import DEFAULT_ROVER, ROVERS, default_of
from dashboard.settings import Settings

api = Blueprint("api", __name__)
#: a twin's endpoint is its Perseverance endpoint, this, and the rover's name
TWIN = "__"
#: the endpoints (by function name) registered once per rover
_ROVER_ENDPOINTS: set[str] = set()
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


def _answer(fn: Callable, kwargs: dict) -> Any:
    try:
        return fn(**kwargs)
    except Exception as exc:
        answer = answer_error(exc)
        if answer is None:
            raise
        return answer


def twins(rule: str) -> list[tuple[str | None, str]]:
    """(rover, rule) of each twin of ``rule``: a rule under ``/perseverance`` has one per
    rover of the registry (``/curiosity/sol``...); another rule is one rule of no rover."""
    root = f"/{DEFAULT_ROVER}"
    if rule != root and not rule.startswith(root + "/"):
        return [(None, rule)]
    return [(name, f"/{name}{rule[len(root) :]}") for name in ROVERS]


def endpoint_name(name: str, rover: str | None) -> str:
    """A view's endpoint: Perseverance's keeps the name it always had, a twin's ends ``__<rover>``."""
    return name if rover in (None, DEFAULT_ROVER) else f"{name}{TWIN}{rover}"


def rover_of_endpoint(endpoint: str | None) -> str | None:
    """The rover a (blueprint) endpoint serves, None for a route of no rover."""
    if not endpoint or not endpoint.startswith("api."):
        return None
    name, _, twin = endpoint.partition(TWIN)
    if twin:
        return twin
    return DEFAULT_ROVER if name[4:] in _ROVER_ENDPOINTS else None


def route(rule: str, *methods: str, hidden: bool = False, **doc: Any) -> Callable[[Callable], Callable]:
    """Register ``fn`` for ``rule`` and ``methods`` on the blueprint; ``doc`` describes it
    in the API document (spectree's ``validate`` arguments: query, json, resp...), unless
    ``hidden`` (the catch-all 404 under /perseverance). A rule under ``/perseverance`` is
    registered once per rover (:func:`twins`): the view serves that rover's dataset
    (:func:`store`, :func:`dataset`), and answers 404 naming the served rovers when this
    install does not serve it (``PTRACKER_ROVERS``)."""

    def decorate(fn: Callable) -> Callable:
        first: Callable | None = None
        for rover_name, twin_rule in twins(rule):
            view = _view(fn, twin_rule, methods, rover_name)
            if not hidden:
                document_route(view, fn, methods, **doc)
            if rover_name is not None:
                _ROVER_ENDPOINTS.add(fn.__name__)
            endpoint = endpoint_name(fn.__name__, rover_name)
            api.add_url_rule(twin_rule, endpoint, view, methods=ALL_METHODS, provide_automatic_options=False)
            first = first or view
        assert first is not None
        return first

    return decorate


def _view(fn: Callable, rule: str, methods: tuple[str, ...], rover_name: str | None) -> Callable:
    @wraps(fn)
    def view(**kwargs):
        # HEAD is GET without the body (werkzeug drops the body of a HEAD answer)
        if request.method not in methods and not (request.method == "HEAD" and "GET" in methods):
            return method_not_allowed(rule, methods)
        if rover_name is not None:
            try:
                serve_rover(rover_name)
            except ApiError as exc:
                return answer_error(exc)
        return _answer(fn, kwargs)

    return view


def serve_rover(name: str | None) -> str:
    """Make this request ``name``'s (None: Perseverance, or the first rover served), so
    :func:`store` and :func:`dataset` read its data; ApiError 404 naming the served rovers
    when this install does not serve it."""
    served = settings().rovers
    name = name or default_of(served)
    if name not in served:
        raise ApiError(404, not_served(name, served))
    g.ptracker_rover = name
    return name


def perseverance_served() -> None:
    """ApiError 404 unless Perseverance is served: for its routes that are not twins
    (Ingenuity's flights, ``/terrain``), which answer from Perseverance's dataset."""
    serve_rover(DEFAULT_ROVER)


def not_served(name: str, served: tuple[str, ...]) -> str:
    return f"rover {name!r} is not served here; this server serves: {', '.join(served) or 'none'}"


def rover() -> str:
    """The rover this request's route serves (Perseverance for a route of no rover)."""
    return g.get("ptracker_rover") or DEFAULT_ROVER


def stores() -> dict[str, DatasetStore]:
    """Every rover's store (those not served too: their keys are simply not read)."""
    return current_app.config["PTRACKER_STORES"]


def store() -> DatasetStore:
    """The store of this request's rover (:func:`rover`)."""
    return stores()[rover()]


def settings() -> Settings:
    return current_app.config["PTRACKER_SETTINGS"]


def dataset() -> Dataset:
    """The current dataset (the one the cache validators already read, when they did);
    ApiError 503 when none is loaded."""
    failed = g.pop("ptracker_store_error", None)  # this request's read already failed
    if failed is not None:
        raise failed
    found = g.get("ptracker_dataset") or store().current()
    if found is None:
        how = "POST /load" if rover() == DEFAULT_ROVER else f"POST /load?rover={rover()}"
        raise ApiError(503, f"no dataset loaded yet: {how} to load it")
    return found
