"""The "Load data" button of the empty state."""

from __future__ import annotations

import redis
from dash import Input, Output, State, no_update

from dashboard.data.load import LoadError, load
from dashboard.data.store import DatasetStore
from dashboard.page import ids
from dashboard.page.callbacks.current import STORE_DOWN, STORE_ERRORS, STORE_FULL
from dashboard.page.pieces import load_message, load_restricted
from dashboard.settings import Settings


def register(app, store: DatasetStore, settings: Settings) -> None:
    @app.callback(
        Output(ids.LOAD_STATUS, "children"),
        Output(ids.DATA_VERSION, "data"),
        Input(ids.LOAD_BUTTON, "n_clicks"),
        State(ids.DATA_VERSION, "data"),
        prevent_initial_call=True,
    )
    def load_data(_clicks, _version):
        if settings.admin_token:  # the button is not offered; a forged click gets nothing
            return load_restricted(), no_update
        try:
            summary = load(store, settings)
        except LoadError as exc:
            return f"Loading failed: {exc}", no_update
        except redis.exceptions.OutOfMemoryError:
            return STORE_FULL, no_update
        except STORE_ERRORS:
            return STORE_DOWN, no_update
        return load_message(summary), summary["version"]
