"""The rover shown: what the page says of it besides the data (the masthead's line, the
empty state's sources), and which served rover's data is missing or failing, in words.
Which rover it is, and the range that follows a switch, are the sol range's callback's
(:mod:`.sol_range`): one callback decides both."""

from __future__ import annotations

from dash import Input, Output, html

from dashboard.page import ids
from dashboard.page.callbacks.current import Stores, rover_notes
from dashboard.page.layout import DETAILS_HINT, source_items, tagline
from dashboard.rovers import default_of
from dashboard.settings import Settings


def register(app, stores: Stores, settings: Settings) -> None:
    @app.callback(
        Output(ids.TAGLINE, "children"),
        Output(ids.SOURCES, "children"),
        Output(ids.ROVER_NOTES, "children"),
        Input(ids.ROVER, "data"),
        Input(ids.DATA_VERSION, "data"),
        Input(ids.LIVE, "data"),
        prevent_initial_call=True,  # the served layout says them for its rover
    )
    def describe_rover(rover, _version, _changes):
        name = rover if isinstance(rover, str) and rover in settings.rovers else default_of(settings.rovers)
        notes = [html.Li(note) for note in rover_notes(stores)]
        return tagline(name), source_items(settings.for_rover(name)), notes

    @app.callback(
        Output(ids.SELECTION, "data", allow_duplicate=True),
        Output(ids.SELECTION_STATUS, "children", allow_duplicate=True),
        Output(ids.DETAILS, "children", allow_duplicate=True),
        Output(ids.LOAD_STATUS, "children", allow_duplicate=True),
        Input(ids.ROVER, "data"),
        prevent_initial_call=True,
    )
    def forget_the_other_rover(_rover):
        """A switch of rover drops what was about the other one: the map selection (its
        names, site_drive, can exist in both), the clicked waypoint, the load's outcome."""
        return None, "", html.P(DETAILS_HINT), ""
