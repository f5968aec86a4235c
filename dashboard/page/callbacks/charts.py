"""The charts, and the empty state when nothing is loaded (the summary strip and the
"now" card: :mod:`.live`)."""

from __future__ import annotations

from dash import Input, Output, State, ctx, no_update

from dashboard.data.store import Dataset
from dashboard.figures import BUILDERS, View, build
from dashboard.page import ids
from dashboard.page.callbacks.current import STORE_DOWN, Stores, current_or, store_of
from dashboard.page.callbacks.mars import first_call_unchanged
from dashboard.page.ranges import axis_of, range_within, sol_bounds

CHART_OUTPUTS = [Output(ids.GRAPHS[name], "figure") for name in BUILDERS]
KEEP_CHARTS = (no_update,) * len(CHART_OUTPUTS)
#: The answers besides the charts: status, empty state hidden, controls hidden, charts hidden.
STORE_DOWN_ANSWER = (*KEEP_CHARTS, STORE_DOWN, no_update, no_update, no_update)
EMPTY_ANSWER = (*KEEP_CHARTS, "", False, True, True)


def sols_of(dataset: Dataset, rmcs: list[str] | None) -> list[int] | None:
    """The sols of the named waypoints (None for no selection)."""
    return dataset.sols_of(rmcs) if rmcs else None


def chart_figures(
    dataset: Dataset, sol_min: int, sol_max: int, selection=None, time_axis: str = "sol"
) -> dict[str, dict]:
    """Every chart of the page for a range (and optional map selection)."""
    view = View.of(sol_min, sol_max, selection, time_axis)
    return {name: build(name, dataset, view) for name in BUILDERS}


def register(app, stores: Stores) -> None:
    @app.callback(
        *CHART_OUTPUTS,
        Output(ids.STATUS, "children"),
        Output(ids.EMPTY_STATE, "hidden"),
        Output(ids.CONTROLS, "hidden"),
        Output(ids.CHARTS, "hidden"),
        Input(ids.SOL_RANGE, "value"),
        Input(ids.SELECTION, "data"),
        Input(ids.DATA_VERSION, "data"),
        Input(ids.TIME_AXIS, "value"),
        Input(ids.ROVER, "data"),
        State(ids.SERVED, "data"),
    )
    def update_charts(sol_range, selection, _version, time_axis, rover, served):
        dataset = current_or(store_of(stores, rover), down=STORE_DOWN_ANSWER, empty=EMPTY_ANSWER)
        if not isinstance(dataset, Dataset):
            return dataset
        a, b = range_within(sol_range, *sol_bounds(dataset))
        sols = sols_of(dataset, [str(r) for r in selection] if isinstance(selection, list) else None)
        if first_call_unchanged(ctx.triggered_id, served, dataset):
            figures = dict.fromkeys(BUILDERS, no_update)  # the served layout drew them for this range
        else:
            figures = chart_figures(dataset, a, b, sols, axis_of(time_axis))
        if ctx.triggered_id == ids.SELECTION and sols:
            # The map already shows the selection it made; drawing it again would clear
            # plotly's selection box (and with it the selection). Reset redraws it.
            figures["map"] = no_update
        return (
            *[figures[name] for name in BUILDERS],
            "",
            True,
            False,
            False,
        )
