"""The page following new data: the "now" card and the summary strip, and taking a new
dataset version that ``assets/live.js`` noticed.

assets/live.js polls the version route (If-None-Match: a 304 costs the server two Redis
reads) and, when the version or the load record changed, counts the change into
``ids.LIVE``: the only server round trip a poll can cause. :func:`follow_live` then
switches the page to the new version (``ids.DATA_VERSION``: the range follows it, the
charts redraw once) and says so politely; the now card and the summary strip are redrawn
on either change, without the charts (a failing refresh changes only their words).
"""

from __future__ import annotations

from dash import Input, Output, State, no_update

from dashboard.data.store import Dataset
from dashboard.page import ids
from dashboard.page.callbacks.current import PREVENT, STORE_ERRORS, Stores, current_or, store_of
from dashboard.page.pieces import new_data_notice, now_children, now_position, summary_children

#: now card, summary strip, what the page shows (ids.LIVE_SEEN)
KEEP_WORDS = (no_update, no_update, no_update)
NO_WORDS: tuple[list, list, None] = ([], [], None)


def register(app, stores: Stores) -> None:
    @app.callback(
        Output(ids.NOW, "children"),
        Output(ids.SUMMARY, "children"),
        Output(ids.LIVE_SEEN, "data"),
        Input(ids.DATA_VERSION, "data"),
        Input(ids.LIVE, "data"),
        Input(ids.ROVER, "data"),
    )
    def show_now(_version, _changes, rover):
        store = store_of(stores, rover)
        dataset = current_or(store, down=KEEP_WORDS, empty=NO_WORDS)
        if not isinstance(dataset, Dataset):
            return dataset
        try:
            last_load = store.last_load()
        except STORE_ERRORS:
            return KEEP_WORDS  # the charts' callback says Redis is away
        return now_children(dataset, last_load=last_load), summary_children(dataset, last_load), now_position(dataset)

    @app.callback(
        Output(ids.DATA_VERSION, "data", allow_duplicate=True),
        Output(ids.LIVE_NOTICE, "children"),
        Input(ids.LIVE, "data"),
        State(ids.DATA_VERSION, "data"),
        State(ids.LIVE_SEEN, "data"),
        State(ids.ROVER, "data"),
        prevent_initial_call=True,
    )
    def follow_live(_changes, shown_version, seen, rover=None):
        dataset = current_or(store_of(stores, rover), down=PREVENT, empty=PREVENT)
        if dataset.version == shown_version:
            return no_update, no_update  # the load record changed: show_now says it
        return dataset.version, new_data_notice(seen if isinstance(seen, dict) else None, now_position(dataset))
