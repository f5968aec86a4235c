"""Mars around the rover: the regional view and the "around the rover" card (the tubes
filled by the range's end, Ingenuity's card, the missing layers) follow the range.

The served layout already holds both for the range the page opened on
(:mod:`dashboard.page.first_view`), so the page's first call answers nothing new unless
the dataset changed since.
"""

from __future__ import annotations

from dash import Input, Output, ctx, no_update

from dashboard.data.store import Dataset, DatasetStore
from dashboard.figures import View
from dashboard.figures.regional import regional
from dashboard.page import ids
from dashboard.page.callbacks.current import PREVENT, current_or
from dashboard.page.mars import around_children
from dashboard.page.ranges import range_within, sol_bounds

UNCHANGED = (no_update, no_update)
EMPTY_FIGURE: dict = {"data": [], "layout": {}}


def first_call_unchanged(triggered_id, shown_version, dataset: Dataset) -> bool:
    """True for a page's first call (nothing triggered it) when the page was served from
    this very dataset version: its layout already holds what the call would build."""
    return triggered_id is None and shown_version == dataset.version


def around(dataset: Dataset, sol_range) -> tuple[dict, list]:
    """(regional view, the card's children) for a range slider's value."""
    a, b = range_within(sol_range, *sol_bounds(dataset))
    return regional(dataset, View.of(a, b), compact=True), around_children(dataset, b)


def register(app, store: DatasetStore) -> None:
    @app.callback(
        Output(ids.REGIONAL, "figure"),
        Output(ids.AROUND, "children"),
        Input(ids.SOL_RANGE, "value"),
        Input(ids.DATA_VERSION, "data"),
    )
    def update_around(sol_range, version):
        dataset: Dataset | tuple = current_or(store, down=PREVENT, empty=(EMPTY_FIGURE, []))
        if not isinstance(dataset, Dataset):
            return dataset
        if first_call_unchanged(ctx.triggered_id, version, dataset):
            return UNCHANGED
        return around(dataset, sol_range)
