"""The "Load data" button of the empty state."""

from __future__ import annotations

import redis
from dash import Input, Output, State, no_update

from dashboard.data.load import LoadError, load
from dashboard.page import ids
from dashboard.page.callbacks.current import STORE_DOWN, STORE_ERRORS, STORE_FULL, Stores, store_of
from dashboard.page.pieces import load_message, load_restricted
from dashboard.settings import Settings


def register(app, stores: Stores, settings: Settings) -> None:
    @app.callback(
        Output(ids.LOAD_STATUS, "children"),
        Output(ids.DATA_VERSION, "data"),
        Input(ids.LOAD_BUTTON, "n_clicks"),
        State(ids.DATA_VERSION, "data"),
        State(ids.ROVER, "data"),
        prevent_initial_call=True,
    )
    def load_data(_clicks, _version, rover):
        if settings.admin_token:  # the button is not offered; a forged click gets nothing
            return load_restricted(), no_update
        store = store_of(stores, rover)  # the rover shown: its sources
        try:
            summary = load(store, settings.for_rover(store.rover))
        except LoadError as exc:
            return f"Loading failed: {exc}", no_update
        except redis.exceptions.OutOfMemoryError:
            return STORE_FULL, no_update
        except STORE_ERRORS:
            return STORE_DOWN, no_update
        return load_message(summary), summary["version"]
