"""Both rovers on one chart (:mod:`dashboard.figures.compare`), drawn when the page's
checkbox asks for it and again when new data arrives while it is shown."""

from __future__ import annotations

from dash import Input, Output
from dash.exceptions import PreventUpdate

from dashboard.figures.compare import compare
from dashboard.page import ids
from dashboard.page.callbacks.current import STORE_ERRORS, Stores


def register(app, stores: Stores) -> None:
    @app.callback(
        Output(ids.COMPARE_CHART, "figure"),
        Output(ids.COMPARE_BODY, "hidden"),
        Input(ids.COMPARE, "value"),
        Input(ids.DATA_VERSION, "data"),
        prevent_initial_call=True,
    )
    def compare_rovers(asked, _version):
        if not (isinstance(asked, list) and "on" in asked):
            return {"data": [], "layout": {}}, True
        try:  # every served rover with data loaded (one without data is simply not drawn)
            datasets = {name: store.current() for name, store in stores.items()}
        except STORE_ERRORS:
            raise PreventUpdate from None  # the charts' callback says Redis is away
        return compare({name: d for name, d in datasets.items() if d is not None}), False
