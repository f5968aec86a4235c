"""The current dataset for a callback, or the callback's friendly answer when there is none.

Every callback that reads the dataset answers the same two situations its own way: the
data store (Redis) unreachable, and nothing loaded yet. :func:`current_or` reads the
dataset once and gives back either the dataset or the answer the callback chose for that
situation (:data:`PREVENT`: no update at all).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeVar, overload

import redis
from dash.exceptions import PreventUpdate

from dashboard.data.store import Dataset, DatasetStore, StoreError
from dashboard.page.pieces import rover_note
from dashboard.redis_conn import REDIS_AWAY, REDIS_FULL

STORE_DOWN = f"{REDIS_AWAY[0].upper()}{REDIS_AWAY[1:]} right now; showing nothing new until it is back."
STORE_FULL = f"Loading failed: {REDIS_FULL}; the data shown stays."

#: What reading the store raises while Redis is away (or the store cannot answer).
STORE_ERRORS = (redis.RedisError, StoreError)

T = TypeVar("T")
#: the served rovers' stores, by name, in the order PTRACKER_ROVERS gives
Stores = Mapping[str, DatasetStore]


def rover_notes(stores: Stores) -> list[str]:
    """The page's words on each served rover whose data is missing or failing to refresh
    (:func:`~dashboard.page.pieces.rover_note`); none while Redis is away (the status says it)."""
    notes = []
    try:
        for name, store in stores.items():
            note = rover_note(name, store.current_version() is not None, store.last_load())
            if note:
                notes.append(note)
    except STORE_ERRORS:
        return []
    return notes


def store_of(stores: Stores, rover: object) -> DatasetStore:
    """The store of the page's rover (``ids.ROVER``'s value); the first served rover's for
    a value this server does not serve (a forged or outdated request)."""
    if isinstance(rover, str) and rover in stores:
        return stores[rover]
    return next(iter(stores.values()))


class _Prevent(enum.Enum):
    PREVENT = "prevent"


#: As a fallback answer: leave every output as it is (Dash's PreventUpdate).
PREVENT = _Prevent.PREVENT


@overload
def current_or(store: DatasetStore, *, down: _Prevent, empty: _Prevent) -> Dataset: ...
@overload
def current_or(store: DatasetStore, *, down: T | _Prevent, empty: T | _Prevent) -> Dataset | T: ...
def current_or(store: DatasetStore, *, down: T | _Prevent, empty: T | _Prevent) -> Dataset | T:
    """The current dataset; ``down`` when the store is unreachable, ``empty`` when no
    dataset was ever loaded (either may be :data:`PREVENT`, which raises PreventUpdate)."""
    try:
        dataset = store.current()
    except STORE_ERRORS:
        return _answer(down)
    if dataset is None:
        return _answer(empty)
    return dataset


def _answer(answer: T | _Prevent) -> T:
    if isinstance(answer, _Prevent):
        raise PreventUpdate
    return answer
