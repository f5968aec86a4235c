"""Component ids, shared by the layout, the callbacks and the tests."""

URL = "url"
ROVER = "rover"  # the rover the page shows (a dcc.Store: every callback that reads data reads it)
ROVER_SWITCH = "rover-switch"  # the radio buttons that choose it (in the URL as rover=curiosity)
TAGLINE = "tagline"  # the masthead's line: which rover, where
ROVER_NOTES = "rover-notes"  # which rover's data is missing or failing, in words
SERVED = "served-from"  # the rover and version the served layout was drawn from (never written)
SUMMARY = "summary"
NOW = "now-card"  # where the rover is now, and each layer's freshness
TIME_AXIS = "time-axis"  # "sol" or "date" on the charts' time axes (in the URL as axis=date)
STATUS = "status"  # store errors, in words
EMPTY_STATE = "empty-state"
SOURCES = "configured-sources"
LOAD_BUTTON = "load-button"
LOAD_STATUS = "load-status"
DATA_VERSION = "data-version"  # bumped by a load from the page, or when the page takes a new version
# the page following new data (assets/live.js polls the version route)
LIVE_CONFIG = "live-config"  # hidden; its data-* attributes tell assets/live.js what to poll
LIVE = "live-version"  # written by assets/live.js: how many changes of version or load record it saw
LIVE_SEEN = "live-seen"  # the newest sol and odometry the page shows (what a notice compares)
LIVE_NOTICE = "live-notice"  # "New drive: sol N, +X m" (aria-live polite)
CONTROLS = "controls"
CHARTS = "charts"
SOL_RANGE = "sol-range"
SOL_MIN = "sol-min"
SOL_MAX = "sol-max"
SELECTION = "selection"  # sols selected on the map, or None
SELECTION_STATUS = "selection-status"
RESET_SELECTION = "reset-selection"
DETAILS = "waypoint-details"
DOWNLOAD_CSV = "download-csv"  # the range's waypoints as CSV / GeoJSON (REST routes)
DOWNLOAD_GEOJSON = "download-geojson"
# labels and pieces the callbacks write (named by aria attributes, links and tests)
SOL_RANGE_LABEL = "sol-range-label"
TIME_AXIS_LABEL = "time-axis-label"
LOAD_RESTRICTED = "load-restricted"  # said instead of the load button when loading is restricted
NOW_TITLE = "now-title"  # the now card's heading (its aria-labelledby)
NOW_STALE = "now-stale"  # the now card's words while refreshes fail
PANORAMA_LINK = "panorama-link"  # in a waypoint's details

#: chart name (dashboard.figures.BUILDERS) -> dcc.Graph id
GRAPHS = {
    "orientation": "orientation-chart",
    "position": "position-chart",
    "map": "map-chart",
    "elevation": "elevation-chart",
    "elevation_distance": "elevation-distance-chart",
    "distance": "distance-chart",
}

# exports
EXPORTS = "exports"
EXPORT_JOBS = "export-jobs"  # ids of this browser session's exports, newest first
EXPORT_LIST = "export-list"
EXPORT_MESSAGE = "export-message"
EXPORT_POLL = "export-poll"
EXPORT_BUTTON = "export-button"  # pattern-matching type, with "chart"
EXPORT_FORMAT = "export-format"  # pattern-matching type, with "chart"


def export_button(chart: str) -> dict:
    return {"type": EXPORT_BUTTON, "chart": chart}


def export_format(chart: str) -> dict:
    return {"type": EXPORT_FORMAT, "chart": chart}


def export_item(job_id: str) -> str:
    """One line of the export list."""
    return f"export-{job_id}"


def now_value(label: str) -> str:
    """A value of the now card, by its label ("Latest sol" -> "now-latest-sol")."""
    return f"now-{label.lower().replace(' ', '-')}"


# both rovers on one chart (drawn only when asked for)
COMPARE = "compare-rovers"  # the checkbox that asks for it
COMPARE_BODY = "compare-body"  # hidden until asked for
COMPARE_CHART = "compare-chart"

# Mars around the rover (the context layers)
REGIONAL = "regional-chart"  # the regional view: the whole terrain crop, on the page only
AROUND = "around-card"  # tubes filled by the range's end, Ingenuity's card, missing layers
AROUND_TITLE = "around-title"
INGENUITY = "ingenuity-card"
LAYER_NOTES = "layer-notes"  # which context layer is missing or stale, in words

# the replay of the drive (assets/replay.js draws it; dashboard/page/replay.py feeds it)
REPLAY = "replay-card"
REPLAY_TITLE = "replay-title"
REPLAY_PLAY = "replay-play"  # Play/Pause (aria-pressed); with reduced motion: one step a press
REPLAY_STEP = "replay-step"
REPLAY_SPEED = "replay-speed"  # sols a second (a <select>)
REPLAY_READOUT = "replay-readout"  # the shown frame's sol, Earth date, odometry, elevation
REPLAY_PLOT = "replay-plot"  # the div assets/replay.js draws the replay in (not a dcc.Graph)
REPLAY_STATUS = "replay-status"  # "Paused at sol N" (aria-live polite)
REPLAY_REQUEST = "replay-request"  # written by assets/replay.js: the range it needs frames for
REPLAY_DATA = "replay-data"  # the replay of that range, sent once (dashboard.page.replay.page_replay)
REPLAY_LOADED = "replay-loaded"  # written by the clientside callback that takes REPLAY_DATA
REPLAY_STILL = "replay-still"  # in REPLAY_PLOT, made by assets/replay.js: the map's still parts, drawn once
REPLAY_MOVING = "replay-moving"  # on top: the newest stretch of path, the rover and the stamp, every frame
REPLAY_SETTLED = "replay-settled"  # between them: the path so far up to a recent frame, redrawn every few frames
