"""The replay of the drive: its frames, sent once per range asked for.

``assets/replay.js`` writes the range it needs into ``ids.REPLAY_REQUEST`` when Play (or
Step) finds no frames for the range shown; :func:`send_replay` answers with
:func:`dashboard.page.replay.page_replay` in ``ids.REPLAY_DATA``, and a clientside
callback hands that to the script, which then plays every frame in the browser.
"""

from __future__ import annotations

from dash import ClientsideFunction, Input, Output, State
from dash.exceptions import PreventUpdate

from dashboard.page import ids
from dashboard.page.callbacks.current import STORE_DOWN, Stores, current_or, store_of
from dashboard.page.ranges import clamp_range, sol_bounds
from dashboard.page.replay import page_replay

#: what the replay says when there is nothing to replay
NO_REPLAY_DATA = "No data is loaded yet: load it, then play the replay."


def register(app, stores: Stores) -> None:
    @app.callback(
        Output(ids.REPLAY_DATA, "data"),
        Input(ids.REPLAY_REQUEST, "data"),
        State(ids.ROVER, "data"),
        prevent_initial_call=True,
    )
    def send_replay(asked, rover=None):
        if not isinstance(asked, dict):
            raise PreventUpdate
        n = asked.get("n")
        dataset = current_or(store_of(stores, rover), down=STORE_DOWN, empty=NO_REPLAY_DATA)
        if isinstance(dataset, str):  # in words: the page must not wait for frames that never come
            return {"asked": n, "error": dataset}
        a, b = clamp_range(asked.get("sol_min"), asked.get("sol_max"), *sol_bounds(dataset))
        return {**page_replay(dataset, a, b), "asked": n}

    app.clientside_callback(
        ClientsideFunction(namespace="ptReplay", function_name="take"),
        Output(ids.REPLAY_LOADED, "data"),
        Input(ids.REPLAY_DATA, "data"),
        prevent_initial_call=True,
    )
