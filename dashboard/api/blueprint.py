"""The API's blueprint, its :func:`route` decorator and what a route reads from the app.

Each route answers JSON 405 (with Allow) to the methods it does not serve, instead of
letting Dash's catch-all page route take them, and turns the errors it may meet
(:class:`ApiError`, Redis away or full, the store failing) into JSON answers. Its
document (``/openapi.json``) is declared with it (:func:`dashboard.api.docs.describe`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import redis
from flask import Blueprint, current_app, g, request

from dashboard.api.docs import describe
from dashboard.api.http_cache import current_dataset
from dashboard.api.responses import ApiError, api_error, error, method_not_allowed, retry_later
from dashboard.data.store import Dataset, DatasetStore, StoreError
from dashboard.settings import Settings

api = Blueprint("api", __name__)
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
#: Retry-After (seconds) when Redis is out of memory
RETRY_REDIS_FULL = 60
REDIS_FULL = "the data store (Redis) is out of memory (its maxmemory is reached): nothing was saved; try again later"
REDIS_AWAY = "the data store (Redis) is not reachable; try again shortly"


def _answer(fn: Callable, kwargs: dict) -> Any:
    try:
        return fn(**kwargs)
    except ApiError as exc:
        return api_error(exc)
    except redis.exceptions.OutOfMemoryError:
        return retry_later(503, REDIS_FULL, RETRY_REDIS_FULL)
    except redis.RedisError:
        return error(503, REDIS_AWAY)
    except StoreError as exc:
        return error(503, str(exc))


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
            describe(view, fn, methods, **doc)
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
    found = g.get("ptracker_dataset") or current_dataset(store(), current_app.config.get("PTRACKER_VERSION_TTL", 0))
    if found is None:
        raise ApiError(503, "no dataset loaded yet: POST /load to load it")
    return found
