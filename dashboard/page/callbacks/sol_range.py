"""The sol range: slider, typed sols, the URL's query string and the time axis, kept in step."""

from __future__ import annotations

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard.page import ids
from dashboard.page.callbacks.current import PREVENT, Stores, current_or, store_of
from dashboard.page.ranges import (
    axis_from_query,
    axis_of,
    clamp_range,
    follow_latest,
    int_or_none,
    range_from_query,
    range_query,
    rover_from_query,
    slider_marks,
    slider_pair,
    sol_bounds,
    waypoints_href,
)
from dashboard.rovers import DEFAULT_ROVER

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


def chosen_rover(trigger, search: str | None, switch, shown, served: tuple[str, ...]) -> str:
    """The rover to show, by what changed: the switch, or the address (the first render,
    back/forward, a shared link); any other change keeps the one shown."""
    if trigger == ids.ROVER_SWITCH and isinstance(switch, str) and switch in served:
        return switch
    if trigger in (ids.URL, None):
        return rover_from_query(search, served)
    return shown if isinstance(shown, str) and shown in served else rover_from_query(search, served)


def _empty(rover: str, search: str | None, switched: bool, rover_outputs: tuple) -> tuple:
    """The answer for a rover with nothing loaded: only the address names it (the charts'
    callback shows the empty state with its sources)."""
    query = "" if rover == DEFAULT_ROVER else f"?rover={rover}"
    if not switched and query == (search or ""):
        raise PreventUpdate  # nothing to say until data is loaded
    return (*(no_update,) * 6, query if query != search else no_update, *(no_update,) * 3, *rover_outputs)


OUTPUTS = (
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
    Output(ids.ROVER, "data"),
    Output(ids.ROVER_SWITCH, "value"),
    Output(ids.DATA_VERSION, "data", allow_duplicate=True),
)
INPUTS = (
    Input(ids.URL, "search"),
    Input(ids.SOL_RANGE, "value"),
    Input(ids.TIME_AXIS, "value"),
    Input(ids.SOL_MIN, "n_submit"),
    Input(ids.SOL_MIN, "n_blur"),
    Input(ids.SOL_MAX, "n_submit"),
    Input(ids.SOL_MAX, "n_blur"),
    Input(ids.DATA_VERSION, "data"),
    Input(ids.ROVER_SWITCH, "value"),
    State(ids.SOL_MIN, "value"),
    State(ids.SOL_MAX, "value"),
    State(ids.SOL_RANGE, "max"),
    State(ids.ROVER, "data"),
)


def register(app, stores: Stores) -> None:
    served = tuple(stores)

    # the first call decides the rover (the address may name another than the layout's)
    @app.callback(*OUTPUTS, *INPUTS, prevent_initial_call="initial_duplicate")
    def sync_range(
        search, slider, time_axis, _s1, _b1, _s2, _b2, _version, switch, typed_min, typed_max, shown_max, shown
    ):
        trigger = ctx.triggered_id
        rover = chosen_rover(trigger, search, switch, shown, served)
        switched = rover != shown
        dataset = current_or(store_of(stores, rover), down=PREVENT, empty=None)
        rover_outputs = (
            rover if switched else no_update,
            rover if switch != rover else no_update,
            (None if dataset is None else dataset.version) if switched else no_update,
        )
        if dataset is None:
            return _empty(rover, search, switched, rover_outputs)
        lo, hi = sol_bounds(dataset)
        if switched and trigger == ids.ROVER_SWITCH:  # another rover: its whole drive
            a, b = lo, hi
        else:
            a, b = chosen_range(trigger, search, slider, typed_min, typed_max, lo, hi, shown_max)
        axis = axis_from_query(search) if trigger in FROM_URL else axis_of(time_axis)
        query = range_query(a, b, axis, rover)
        return (
            [a, b] if slider != [a, b] else no_update,  # unchanged: the charts need not redraw
            lo,
            hi,
            slider_marks(lo, hi),
            a,
            b,
            (query if query != search else no_update),
            waypoints_href("csv", a, b, rover),
            waypoints_href("geojson", a, b, rover),
            axis if axis != time_axis else no_update,
            *rover_outputs,
        )
