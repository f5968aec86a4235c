"""The map: waypoints selected with a box or lasso, and the details of a clicked one."""

from __future__ import annotations

from dash import Input, Output, State, ctx, html
from dash.exceptions import PreventUpdate

from dashboard.data.store import Dataset
from dashboard.page import ids
from dashboard.page.callbacks.current import PREVENT, STORE_DOWN, Stores, current_or, store_of
from dashboard.page.pieces import details_children, selection_status


def selection_from(selected: dict | None) -> list[str] | None:
    """site_drive names of the waypoints selected on the map (None when nothing is)."""
    points = selected.get("points") if isinstance(selected, dict) else None
    if not isinstance(points, list) or not points:
        return None
    rmcs = {p["customdata"] for p in points if isinstance(p, dict) and isinstance(p.get("customdata"), str)}
    return sorted(rmcs) or None


def clicked_waypoint(click: dict | None) -> str | None:
    """The site_drive name of the waypoint clicked on the map (None for a click on the path)."""
    points = click.get("points") if isinstance(click, dict) else None
    first = points[0] if isinstance(points, list) and points else None
    rmc = first.get("customdata") if isinstance(first, dict) else None
    return rmc if isinstance(rmc, str) else None


def register(app, stores: Stores) -> None:
    @app.callback(
        Output(ids.SELECTION, "data"),
        Output(ids.SELECTION_STATUS, "children"),
        Input(ids.GRAPHS["map"], "selectedData"),
        Input(ids.RESET_SELECTION, "n_clicks"),
        prevent_initial_call=True,
    )
    def select_on_map(selected, _reset):
        if ctx.triggered_id == ids.RESET_SELECTION:
            return None, ""
        rmcs = selection_from(selected)
        return rmcs, selection_status(rmcs)

    @app.callback(
        Output(ids.DETAILS, "children"),
        Input(ids.GRAPHS["map"], "clickData"),
        State(ids.ROVER, "data"),
        prevent_initial_call=True,
    )
    def show_details(click, rover=None):
        rmc = clicked_waypoint(click)
        if rmc is None:
            raise PreventUpdate  # a click on the path, not on a waypoint
        dataset = current_or(store_of(stores, rover), down=[html.P(STORE_DOWN)], empty=PREVENT)
        if not isinstance(dataset, Dataset):
            return dataset
        return details_children(dataset, rmc)
