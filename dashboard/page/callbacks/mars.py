"""Mars around the rover: the regional view and the "around the rover" card (the tubes
filled by the range's end, Ingenuity's card, the missing layers) follow the range.

The served layout already holds both for the range the page opened on
(:mod:`dashboard.page.first_view`), so the page's first call answers nothing new unless
the dataset changed since.
"""

from __future__ import annotations

from dash import Input, Output, State, ctx, no_update

from dashboard.data.store import Dataset
from dashboard.figures import View
from dashboard.figures.regional import regional
from dashboard.page import ids
from dashboard.page.callbacks.current import PREVENT, Stores, current_or, store_of
from dashboard.page.first_view import page_token
from dashboard.page.mars import around_children
from dashboard.page.ranges import range_within, sol_bounds

UNCHANGED = (no_update, no_update)
EMPTY_FIGURE: dict = {"data": [], "layout": {}}


def first_call_unchanged(triggered_id, served: str | None, dataset: Dataset) -> bool:
    """True for a page's first call (nothing triggered it) when the page was served from
    this very dataset (``served``: the layout's :func:`page_token`, of its rover and
    version): its layout already holds what the call would build."""
    return triggered_id is None and served == page_token(dataset)


def around(dataset: Dataset, sol_range) -> tuple[dict, list]:
    """(regional view, the card's children) for a range slider's value."""
    a, b = range_within(sol_range, *sol_bounds(dataset))
    return regional(dataset, View.of(a, b), compact=True), around_children(dataset, b)


def register(app, stores: Stores) -> None:
    @app.callback(
        Output(ids.REGIONAL, "figure"),
        Output(ids.AROUND, "children"),
        Input(ids.SOL_RANGE, "value"),
        Input(ids.DATA_VERSION, "data"),
        Input(ids.ROVER, "data"),
        State(ids.SERVED, "data"),
    )
    def update_around(sol_range, _version, rover, served):
        dataset: Dataset | tuple = current_or(store_of(stores, rover), down=PREVENT, empty=(EMPTY_FIGURE, []))
        if not isinstance(dataset, Dataset):
            return dataset
        if first_call_unchanged(ctx.triggered_id, served, dataset):
            return UNCHANGED
        return around(dataset, sol_range)
