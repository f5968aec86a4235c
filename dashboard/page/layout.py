"""The page: built per request from the current dataset (so sliders span its sols)."""

from __future__ import annotations

from dash import dcc, html

from dashboard.data.store import Dataset
from dashboard.exports.request import FORMATS, REPLAY, VIDEO_FORMATS
from dashboard.figures import TITLES
from dashboard.page import ids
from dashboard.page.first_view import FirstView, first_view, page_token
from dashboard.page.mars import around_children
from dashboard.page.pieces import load_restricted
from dashboard.page.ranges import rover_from_query, slider_marks, sol_bounds, waypoints_href
from dashboard.page.replay import DEFAULT_SPEED, SPEEDS
from dashboard.rovers import DEFAULT_ROVER, ROVERS
from dashboard.settings import Settings

#: Height of each chart on the page (px). The width follows the window: the graphs are
#: responsive (a phone turned sideways, a resized window), so the height is set here
#: rather than by the figure's layout (which the exports use).
GRAPH_HEIGHTS = {
    "map": 620,
    "orientation": 520,
    "position": 480,
    "elevation": 380,
    "elevation_distance": 380,
    "distance": 400,
}
#: Height of the regional view beside the map (px).
REGIONAL_HEIGHT = 460
#: Height of the chart comparing the rovers (px).
COMPARE_HEIGHT = 560
#: Height of the replay's plot (px).
REPLAY_HEIGHT = 560
#: How often the export list asks for its jobs' progress while one is unfinished (ms).
EXPORT_POLL_MS = 700
#: The slider's span when no dataset is loaded (the controls are hidden then).
NO_DATA_BOUNDS = (0, 1)
#: The route an open page polls for a new dataset version (dashboard/api/live_routes.py),
#: of the rover it shows (assets/live.js fills in the name).
LIVE_VERSION_PATH = "/{rover}/version"


def _graph(chart: str, figure: dict | None = None) -> html.Section:
    return html.Section(
        className="chart-card",
        children=[
            dcc.Graph(
                id=ids.GRAPHS[chart],
                figure=figure or {"data": [], "layout": {"title": {"text": TITLES[chart]}}},
                config={"displaylogo": False},
                responsive=True,
                style={"height": f"{GRAPH_HEIGHTS[chart]}px"},
                className="chart",
            ),
            _export_bar(chart, TITLES[chart], FORMATS, "png"),
        ],
        **{"aria-label": TITLES[chart]},
    )


def _export_bar(chart: str, title: str, formats, default: str) -> html.Div:
    """A format choice and an "Export ..." button: the worker draws the file (the page's
    export list follows it)."""
    return html.Div(
        className="export-bar",
        role="group",
        **{"aria-label": f"Export {title}"},
        children=[
            dcc.RadioItems(
                id=ids.export_format(chart),
                options=[{"label": f.upper(), "value": f} for f in formats],
                value=default,
                inline=True,
                className="export-format",
                inputClassName="export-format-input",
            ),
            html.Button(f"Export {title.lower()}", id=ids.export_button(chart), n_clicks=0, className="button"),
        ],
    )


def _exports_panel() -> html.Section:
    return html.Section(
        id=ids.EXPORTS,
        className="exports",
        **{"aria-label": "Exports"},
        children=[
            html.H2("Exports"),
            html.P(
                "Images are drawn by a background worker; they appear here with a download link.", className="muted"
            ),
            html.Div(id=ids.EXPORT_MESSAGE, className="export-message", role="alert"),
            html.Ul(id=ids.EXPORT_LIST, className="export-list", **{"aria-live": "polite"}),
            dcc.Store(id=ids.EXPORT_JOBS, storage_type="session", data=[]),
            dcc.Interval(id=ids.EXPORT_POLL, interval=EXPORT_POLL_MS, disabled=True),
        ],
    )


def tagline(rover: str) -> str:
    """The masthead's line for the rover shown."""
    r = ROVERS[rover]
    return f"Where NASA's {r.label} rover ({r.mission}) has driven in {r.place}, and how it sat on the ground."


def _rover_switch(rover: str, served: tuple[str, ...]) -> html.Div:
    """The rover switch (radio buttons; in the URL as rover=curiosity), when more than one
    rover is served: it changes every chart, card, link and export without reloading."""
    return html.Div(
        className="rover-switch",
        role="group",
        hidden=len(served) < 2,
        **{"aria-label": "Rover"},
        children=[
            html.Span("Rover:", className="rover-switch-label"),
            dcc.RadioItems(
                id=ids.ROVER_SWITCH,
                options=[{"label": ROVERS[name].label, "value": name} for name in served],
                value=rover,
                inline=True,
                inputClassName="rover-switch-input",
            ),
        ],
    )


def _masthead(rover: str, served: tuple[str, ...], notes: list[str]) -> html.Header:
    return html.Header(
        className="masthead",
        children=[
            html.H1("Perseverance Tracker"),
            html.P(tagline(rover), id=ids.TAGLINE, className="tagline"),
            _rover_switch(rover, served),
            rover_notes_list(notes),
        ],
    )


def rover_notes_list(notes: list[str]) -> html.Ul:
    """Which rover's data is missing or failing to refresh, one line each (polite)."""
    return html.Ul([html.Li(n) for n in notes], id=ids.ROVER_NOTES, className="rover-notes", **{"aria-live": "polite"})


def source_items(settings: Settings) -> list:
    """The empty state's list of a rover's sources (``settings.for_rover(...)``)."""
    current = settings.current_source or f"not read ({ROVERS[settings.rover].env_prefix}CURRENT_SOURCE=off)"
    return [
        html.Li([html.Strong(f"{ROVERS[settings.rover].label}'s waypoints: "), html.Code(settings.waypoints_source)]),
        html.Li([html.Strong("Traverse: "), html.Code(settings.traverse_source)]),
        html.Li([html.Strong("Current position (optional): "), html.Code(current)]),
    ]


def _empty_state(settings: Settings, hidden: bool) -> html.Section:
    """What the page shows before any data is loaded: the sources and the "Load data" button
    (``settings``: the rover's, :meth:`Settings.for_rover`)."""
    return html.Section(
        id=ids.EMPTY_STATE,
        className="empty-state",
        hidden=hidden,
        children=[
            html.H2("No rover data loaded yet"),
            html.P("The dashboard reads NASA's MMGIS layers from these sources:"),
            html.Ul(id=ids.SOURCES, children=source_items(settings)),
            html.Button(
                "Load data",
                id=ids.LOAD_BUTTON,
                n_clicks=0,
                className="button primary",
                hidden=bool(settings.admin_token),
            ),
            html.P(load_restricted(), id=ids.LOAD_RESTRICTED, hidden=not settings.admin_token, className="muted"),
        ],
    )


def _time_axis(axis: str = "sol") -> html.Div:
    return html.Div(
        className="time-axis",
        role="group",
        **{"aria-labelledby": ids.TIME_AXIS_LABEL},
        children=[
            html.Span("Time axis:", id=ids.TIME_AXIS_LABEL, className="time-axis-label"),
            dcc.RadioItems(
                id=ids.TIME_AXIS,
                options=[
                    {"label": "Sol", "value": "sol"},
                    {"label": "Earth date", "value": "date"},
                ],
                value=axis,
                inline=True,
                inputClassName="time-axis-input",
            ),
        ],
    )


def _data_downloads(lo: int, hi: int, rover: str) -> html.Span:
    return html.Span(
        className="data-downloads",
        children=[
            "Waypoints in this range: ",
            html.A("CSV", id=ids.DOWNLOAD_CSV, href=waypoints_href("csv", lo, hi, rover)),
            " · ",
            html.A("GeoJSON", id=ids.DOWNLOAD_GEOJSON, href=waypoints_href("geojson", lo, hi, rover)),
        ],
    )


def _range_inputs(lo: int, hi: int, axis: str = "sol", rover: str = DEFAULT_ROVER) -> html.Div:
    # A typed sol is applied on Enter or when the box loses focus (n_submit / n_blur), not
    # with debounce=True: Dash 4.4's debounced input does not commit a value equal to the
    # last one it committed, even after a callback changed it. The callback clamps to the
    # data's sols.
    return html.Div(
        className="range-inputs",
        children=[
            html.Label(
                ["From sol ", dcc.Input(id=ids.SOL_MIN, type="number", value=lo, step=1, className="sol-input")]
            ),
            html.Label(["to sol ", dcc.Input(id=ids.SOL_MAX, type="number", value=hi, step=1, className="sol-input")]),
            html.Button("Clear map selection", id=ids.RESET_SELECTION, n_clicks=0, className="button"),
            html.Span(id=ids.SELECTION_STATUS, className="selection-status", role="status"),
            _time_axis(axis),
            _data_downloads(lo, hi, rover),
        ],
    )


def _controls(
    lo: int, hi: int, hidden: bool, first: FirstView | None = None, rover: str = DEFAULT_ROVER
) -> html.Section:
    a, b, axis = (first.a, first.b, first.axis) if first is not None else (lo, hi, "sol")
    return html.Section(
        id=ids.CONTROLS,
        className="controls",
        hidden=hidden,
        **{"aria-label": "Sol range"},
        children=[
            html.Label("Sol range", htmlFor=ids.SOL_RANGE, id=ids.SOL_RANGE_LABEL, className="control-label"),
            dcc.RangeSlider(
                id=ids.SOL_RANGE,
                min=lo,
                max=hi,
                step=1,
                value=[a, b],
                allowCross=False,
                allow_direct_input=False,
                tooltip={"placement": "bottom", "always_visible": False},
                marks=slider_marks(lo, hi),
                className="sol-slider",
            ),
            _range_inputs(a, b, axis, rover),
        ],
    )


def _replay() -> html.Section:
    """The replay of the drive over the chosen range: Play/Pause, Step and the speed;
    assets/replay.js asks for the frames (ids.REPLAY_REQUEST), draws them in ids.REPLAY_PLOT
    and, when it stops, moves the range's end to the sol it shows."""
    return html.Section(
        id=ids.REPLAY,
        className="chart-card replay-card",
        **{"aria-labelledby": ids.REPLAY_TITLE},
        children=[
            html.H2("Replay the drive", id=ids.REPLAY_TITLE),
            _replay_controls(),
            html.P(
                "Play moves the rover along its track through the chosen sols; "
                "pausing leaves the range's end at the sol shown.",
                id=ids.REPLAY_READOUT,
                className="replay-readout muted",
            ),
            html.Div(id=ids.REPLAY_PLOT, className="replay-plot", style={"height": f"{REPLAY_HEIGHT}px"}),
            html.P(id=ids.REPLAY_STATUS, className="replay-status", role="status", **{"aria-live": "polite"}),
            # the same replay of the range as a video file, drawn by the export worker
            _export_bar(REPLAY, "Replay", VIDEO_FORMATS, "mp4"),
            dcc.Store(id=ids.REPLAY_REQUEST, data=None),
            dcc.Store(id=ids.REPLAY_DATA, data=None),
            dcc.Store(id=ids.REPLAY_LOADED, data=None),
        ],
    )


def _replay_controls() -> html.Div:
    """Play/Pause (a toggle button), Step and the speed, for assets/replay.js."""
    return html.Div(
        className="replay-controls",
        role="group",
        **{"aria-label": "Replay controls"},
        children=[
            html.Button(
                "Play",
                id=ids.REPLAY_PLAY,
                type="button",
                className="button primary",
                **{"aria-label": "Play the replay", "aria-pressed": "false"},
            ),
            html.Button(
                "Step",
                id=ids.REPLAY_STEP,
                type="button",
                className="button",
                **{"aria-label": "Step the replay forward"},
            ),
            html.Div(
                className="replay-speed",
                role="group",
                **{"aria-labelledby": f"{ids.REPLAY_SPEED}-label"},
                children=[
                    html.Span("Speed:", id=f"{ids.REPLAY_SPEED}-label", className="replay-speed-label"),
                    dcc.RadioItems(
                        id=ids.REPLAY_SPEED,
                        options=[{"label": f"{s} sols/s", "value": s} for s in SPEEDS],
                        value=DEFAULT_SPEED,
                        inline=True,
                        inputClassName="replay-speed-input",
                    ),
                ],
            ),
        ],
    )


def _regional(figure: dict | None) -> html.Section:
    """The regional view beside the map: the whole terrain crop, the track and where the
    rover is (on the page only: its layers are toggled from the map's legend)."""
    return html.Section(
        className="chart-card regional-card",
        **{"aria-label": "Regional view: the terrain around the rover"},
        children=dcc.Graph(
            id=ids.REGIONAL,
            figure=figure or {"data": [], "layout": {"title": {"text": "Around the rover"}}},
            config={"displaylogo": False},
            responsive=True,
            style={"height": f"{REGIONAL_HEIGHT}px"},
            className="chart",
        ),
    )


#: what the waypoint details say before a waypoint is clicked (and after a switch of rover)
DETAILS_HINT = (
    "Click a waypoint on the map to see all its fields. "
    "Drag a box (or lasso) on the map to narrow the other charts to those sols."
)


def _compare(served: tuple[str, ...]) -> html.Section:
    """Both rovers' odometry and elevation change since landing on one chart: drawn only
    when the checkbox asks for it (it reads every rover's dataset), offered only when more
    than one rover is served."""
    return html.Section(
        className="chart-card compare-card",
        hidden=len(served) < 2,
        **{"aria-label": "Compare the rovers"},
        children=[
            dcc.Checklist(
                id=ids.COMPARE,
                options=[{"label": " Compare the rovers: odometry and elevation change since landing", "value": "on"}],
                value=[],
                inputClassName="compare-input",
            ),
            html.Div(
                id=ids.COMPARE_BODY,
                hidden=True,
                children=dcc.Graph(
                    id=ids.COMPARE_CHART,
                    figure={"data": [], "layout": {"title": {"text": "Both rovers since landing"}}},
                    config={"displaylogo": False},
                    responsive=True,
                    style={"height": f"{COMPARE_HEIGHT}px"},
                    className="chart",
                ),
            ),
        ],
    )


def _charts(hidden: bool, first: FirstView | None = None, served: tuple[str, ...] = (DEFAULT_ROVER,)) -> html.Main:
    figures = first.figures if first is not None else {}
    return html.Main(
        id=ids.CHARTS,
        className="charts",
        hidden=hidden,
        children=[
            html.Div(
                className="map-row",
                children=[
                    _graph("map", figures.get("map")),
                    html.Div(
                        className="map-side",
                        children=[
                            _regional(first.regional if first is not None else None),
                            html.Aside(
                                id=ids.DETAILS,
                                className="details",
                                **{"aria-label": "Waypoint details", "aria-live": "polite"},
                                children=html.P(DETAILS_HINT),
                            ),
                        ],
                    ),
                ],
            ),
            _replay(),
            _graph("orientation", figures.get("orientation")),
            _graph("position", figures.get("position")),
            html.Div(
                className="two-up",
                children=[
                    _graph("elevation", figures.get("elevation")),
                    _graph("elevation_distance", figures.get("elevation_distance")),
                ],
            ),
            _graph("distance", figures.get("distance")),
            _compare(served),
            _exports_panel(),
        ],
    )


def _footer() -> html.Footer:
    return html.Footer(
        className="footer",
        children=[
            "Data: NASA/JPL-Caltech, MMGIS rover localization layers (public domain). "
            "Sol dates: UTC start of each sol of the rover's mission.",
        ],
    )


def _live(dataset: Dataset | None, settings: Settings, rover: str) -> list:
    """What lets an open page follow new data: the settings assets/live.js reads (from
    data-* attributes), the store it writes, what the page last showed, and the notice."""
    return [
        html.Div(
            id=ids.LIVE_CONFIG,
            hidden=True,
            **{
                "data-poll-seconds": f"{settings.live_poll_seconds:g}",
                "data-url": LIVE_VERSION_PATH,
                # the rover shown is in the address (rover=...), else the page's default
                "data-default-rover": rover_from_query("", settings.rovers),
                "data-rovers": ",".join(settings.rovers),
                "data-version": dataset.version if dataset else "",
                "data-store": ids.LIVE,
            },
        ),
        dcc.Store(id=ids.LIVE, data=0),
        dcc.Store(id=ids.LIVE_SEEN, data=None),
        html.P(id=ids.LIVE_NOTICE, className="live-notice", role="status", **{"aria-live": "polite"}),
    ]


def serve_layout(
    dataset: Dataset | None,
    settings: Settings,
    store_error: str | None = None,
    search: str = "",
    rover: str = DEFAULT_ROVER,
    notes: list[str] | None = None,
) -> html.Div:
    """The page for ``dataset`` (``rover``'s); its charts drawn for the range the page's
    address asks for (``search``: its query string; see :mod:`.first_view`)."""
    has_data = dataset is not None
    lo, hi = sol_bounds(dataset) if dataset is not None else NO_DATA_BOUNDS  # the union of the layers' sols
    first = first_view(dataset, search) if dataset is not None else None
    return html.Div(
        className="page",
        children=[
            dcc.Location(id=ids.URL, refresh=False),
            # an empty list, not None: a Store whose data is None sets it again when it mounts,
            # which would redraw every chart the served layout already drew
            dcc.Store(id=ids.SELECTION, data=[]),
            dcc.Store(id=ids.DATA_VERSION, data=dataset.version if dataset else None),
            dcc.Store(id=ids.ROVER, data=rover),
            dcc.Store(id=ids.SERVED, data=page_token(dataset)),
            _masthead(rover, settings.rovers, notes or []),
            html.Div(id=ids.STATUS, className="status", role="status", children=store_error or ""),
            *_live(dataset, settings, rover),
            html.Section(id=ids.NOW, className="now-card", **{"aria-labelledby": ids.NOW_TITLE}),
            html.Section(
                id=ids.AROUND,
                className="now-card around-card",
                children=around_children(dataset, first.b) if first is not None else [],
                **{"aria-labelledby": ids.AROUND_TITLE},
            ),
            html.Section(id=ids.SUMMARY, className="summary", **{"aria-label": "Dataset summary"}),
            _empty_state(settings.for_rover(rover), hidden=has_data),
            # outside the empty state, so the outcome stays visible once the charts appear
            dcc.Loading(html.Div(id=ids.LOAD_STATUS, className="load-status", role="alert"), type="dot"),
            _controls(lo, hi, hidden=not has_data, first=first, rover=rover),
            _charts(hidden=not has_data, first=first, served=settings.rovers),
            _footer(),
        ],
    )
