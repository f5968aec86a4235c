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
from dashboard.settings import Settings

api = Blueprint("api", __name__)
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


def _answer(fn: Callable, kwargs: dict) -> Any:
    try:
        return fn(**kwargs)
    except Exception as exc:
        answer = answer_error(exc)
        if answer is None:
            raise
        return answer


def route(rule: str, *methods: str, hidden: bool = False, **doc: Any) -> Callable[[Callable], Callable]:
    """Register ``fn`` for ``rule`` and ``methods`` on the blueprint; ``doc`` describes it
    in the API document (spectree's ``validate`` arguments: query, json, resp...), unless
    ``hidden`` (the catch-all 404 under /perseverance)."""

    def decorate(fn: Callable) -> Callable:
        @wraps(fn)
        def view(**kwargs):
            # HEAD is GET without the body (werkzeug drops the body of a HEAD answer)
            if request.method not in methods and not (request.method == "HEAD" and "GET" in methods):
                return method_not_allowed(rule, methods)
            return _answer(fn, kwargs)

        if not hidden:
            document_route(view, fn, methods, **doc)
        api.add_url_rule(rule, fn.__name__, view, methods=ALL_METHODS, provide_automatic_options=False)
        return view

    return decorate


def store() -> DatasetStore:
    return current_app.config["PTRACKER_STORE"]


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
        raise ApiError(503, "no dataset loaded yet: POST /load to load it")
    return found
