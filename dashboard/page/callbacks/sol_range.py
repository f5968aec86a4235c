"""The sol range: slider, typed sols, the URL's query string and the time axis, kept in step."""

from __future__ import annotations

from dash import Input, Output, State, ctx, no_update

from dashboard.data.store import DatasetStore
from dashboard.page import ids
from dashboard.page.callbacks.current import PREVENT, current_or
from dashboard.page.ranges import (
    axis_from_query,
    axis_of,
    clamp_range,
    follow_latest,
    int_or_none,
    range_from_query,
    range_query,
    slider_marks,
    slider_pair,
    sol_bounds,
    waypoints_href,
)

#: What moves the range from the URL: the first render, a new dataset version (a load
#: from the page, or one the open page noticed), back/forward or a shared link.
FROM_URL = (ids.URL, None, ids.DATA_VERSION)


def chosen_range(trigger, search, slider, typed_min, typed_max, lo: int, hi: int, shown_max=None) -> tuple[int, int]:
    """The range the person asked for, by what changed (``trigger``). On a new dataset
    version a range that ended at the latest sol shown (``shown_max``, the slider's end
    before the change) ends at the new latest sol; any other range is kept."""
    if trigger == ids.DATA_VERSION:
        return follow_latest(range_from_query(search, lo, hi), slider, shown_max, hi)
    if trigger == ids.SOL_RANGE and isinstance(slider, list) and len(slider) == 2:
        return clamp_range(slider[0], slider[1], lo, hi)
    if trigger in (ids.SOL_MIN, ids.SOL_MAX):
        # an empty or half-typed box falls back to the slider's end
        current_a, current_b = slider_pair(slider, lo, hi)
        return clamp_range(
            typed_min if int_or_none(typed_min) is not None else current_a,
            typed_max if int_or_none(typed_max) is not None else current_b,
            lo,
            hi,
        )
    # the time axis changed, the page was (re)loaded, or the URL changed
    return range_from_query(search, lo, hi)


def register(app, store: DatasetStore) -> None:
    @app.callback(
        Output(ids.SOL_RANGE, "value"),
        Output(ids.SOL_RANGE, "min"),
        Output(ids.SOL_RANGE, "max"),
        Output(ids.SOL_RANGE, "marks"),
        Output(ids.SOL_MIN, "value"),
        Output(ids.SOL_MAX, "value"),
        Output(ids.URL, "search"),
        Output(ids.DOWNLOAD_CSV, "href"),
        Output(ids.DOWNLOAD_GEOJSON, "href"),
        Output(ids.TIME_AXIS, "value"),
        Input(ids.URL, "search"),
        Input(ids.SOL_RANGE, "value"),
        Input(ids.TIME_AXIS, "value"),
        Input(ids.SOL_MIN, "n_submit"),
        Input(ids.SOL_MIN, "n_blur"),
        Input(ids.SOL_MAX, "n_submit"),
        Input(ids.SOL_MAX, "n_blur"),
        Input(ids.DATA_VERSION, "data"),
        State(ids.SOL_MIN, "value"),
        State(ids.SOL_MAX, "value"),
        State(ids.SOL_RANGE, "max"),
    )
    def sync_range(search, slider, time_axis, _s1, _b1, _s2, _b2, _version, typed_min, typed_max, shown_max):
        dataset = current_or(store, down=PREVENT, empty=PREVENT)
        lo, hi = sol_bounds(dataset)
        trigger = ctx.triggered_id
        a, b = chosen_range(trigger, search, slider, typed_min, typed_max, lo, hi, shown_max)
        axis = axis_from_query(search) if trigger in FROM_URL else axis_of(time_axis)
        query = range_query(a, b, axis)
        return (
            [a, b] if slider != [a, b] else no_update,  # unchanged: the charts need not redraw
            lo,
            hi,
            slider_marks(lo, hi),
            a,
            b,
            (query if query != search else no_update),
            waypoints_href("csv", a, b),
            waypoints_href("geojson", a, b),
            axis if axis != time_axis else no_update,
        )
