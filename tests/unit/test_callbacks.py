"""The page's callbacks as plain functions (no browser): their helpers, and the answer of
each callback in each situation (data, no data, the store down...), against a fake store."""

from __future__ import annotations

import contextlib
import dataclasses

import flask
import pytest
import redis
from dash import html, no_update
from dash._callback_context import context_value
from dash._utils import AttributeDict
from dash.exceptions import PreventUpdate
from redis.backoff import NoBackoff
from redis.retry import Retry

from dashboard.data.load import LoadError
from dashboard.data.store import StoreError
from dashboard.figures import BUILDERS, values
from dashboard.page import ids
from dashboard.page.callbacks import load as load_area
from dashboard.page.callbacks import register_callbacks
from dashboard.page.callbacks.charts import chart_figures, sols_of
from dashboard.page.callbacks.current import PREVENT, STORE_DOWN, STORE_FULL, current_or
from dashboard.page.callbacks.exports import MAX_PAGE_EXPORTS
from dashboard.page.callbacks.replay import NO_REPLAY_DATA
from dashboard.page.callbacks.selection import clicked_waypoint, selection_from
from dashboard.settings import Settings
from tests.unit.page_fixtures import small_dataset

N = len(BUILDERS)
P = "perseverance"  # the page's rover


@pytest.fixture(scope="module")
def dataset():
    return small_dataset()


# ---------------------------------------------------------------------------------------
# helpers


def test_selection_from_map_points(dataset):
    selected = {
        "points": [
            {"customdata": "3_110"},
            {"customdata": "4_0"},
            {"customdata": "4_120"},
            {"x": 1},
            {"customdata": [1, 2]},
        ]
    }
    assert selection_from(selected) == ["3_110", "4_0", "4_120"]
    assert sols_of(dataset, selection_from(selected)) == [14, 16]
    assert sols_of(dataset, ["junk"]) == []
    assert sols_of(dataset, None) is None
    assert selection_from(None) is None
    assert selection_from({"points": []}) is None
    assert selection_from({"points": [{"x": 1}]}) is None


@pytest.mark.parametrize(
    "click, rmc",
    [
        ({"points": [{"customdata": "4_0"}, {"customdata": "5_0"}]}, "4_0"),
        ({"points": [{"x": 1}]}, None),  # the path, not a waypoint
        ({"points": []}, None),
        ({"points": ["junk"]}, None),
        ({"points": [{"customdata": 4}]}, None),
        (None, None),
        ("junk", None),
    ],
)
def test_clicked_waypoint(click, rmc):
    assert clicked_waypoint(click) == rmc


def test_chart_figures_cover_every_chart(dataset):
    figs = chart_figures(dataset, 14, 16, [14])
    assert list(figs) == list(BUILDERS)
    assert len(values(figs["orientation"]["data"][0]["x"])) == 1


# ---------------------------------------------------------------------------------------
# the callbacks, registered on a recorder and called with a fake store


class Recorder:
    """Stands in for the Dash app: keeps each callback function by name."""

    def __init__(self):
        self.callbacks = {}
        self.clientside: list = []  # the browser-side functions clientside callbacks name

    def callback(self, *_dependencies, **_options):
        def record(function):
            self.callbacks[function.__name__] = function
            return function

        return record

    def clientside_callback(self, function, *_dependencies, **_options):
        self.clientside.append(function)


class FakeStore:
    def __init__(self, dataset=None, error: Exception | None = None, last_load_error: Exception | None = None):
        self.dataset, self.error, self.last_load_error = dataset, error, last_load_error
        self.record: dict = {"ok": True}  # the latest load attempt
        # a client nothing listens to: whatever reaches Redis fails at once
        self.redis = redis.Redis(port=1, socket_connect_timeout=0.2, socket_timeout=0.2, retry=Retry(NoBackoff(), 0))
        self.prefix = "test:"
        self.rover = P

    def current(self):
        if self.error:
            raise self.error
        return self.dataset

    def last_load(self):
        if self.last_load_error:
            raise self.last_load_error
        return self.record


def registered(store, settings: Settings | None = None) -> dict:
    app = Recorder()
    register_callbacks(app, {"perseverance": store}, settings or Settings())
    return app.callbacks


@contextlib.contextmanager
def triggered(prop_id: str | None):
    """Runs the body as Dash runs a callback that ``prop_id`` ("id.property") triggered."""
    inputs = [{"prop_id": prop_id, "value": None}] if prop_id else []
    token = context_value.set(AttributeDict(triggered_inputs=inputs))
    try:
        yield
    finally:
        context_value.reset(token)


DOWN = [redis.ConnectionError("refused"), redis.TimeoutError("slow"), StoreError("half a dataset")]


def test_every_area_registers_its_callbacks():
    assert set(registered(FakeStore())) == {
        "sync_range",
        "update_charts",
        "show_now",
        "follow_live",
        "select_on_map",
        "show_details",
        "load_data",
        "submit_export",
        "poll_exports",
        "update_around",
        "describe_rover",
        "compare_rovers",
        "forget_the_other_rover",
        "send_replay",
    }


@pytest.mark.parametrize("store", [FakeStore(None), *(FakeStore(error=e) for e in DOWN)])
def test_current_or_answers_for_the_callback(store, dataset):
    assert current_or(FakeStore(dataset), down="down", empty="empty") is dataset
    answer = current_or(store, down="down", empty="empty")
    assert answer == ("empty" if store.error is None else "down")
    with pytest.raises(PreventUpdate):
        current_or(store, down=PREVENT, empty=PREVENT)


@pytest.mark.parametrize("store", [FakeStore(None), *(FakeStore(error=e) for e in DOWN)])
def test_the_range_waits_for_a_dataset(store):
    with triggered(None), pytest.raises(PreventUpdate):
        registered(store)["sync_range"]("", None, "sol", None, None, None, None, None, None, None, None, None, P)


def sync(dataset, trigger, search="", slider=None, axis="sol", typed=(None, None), shown_max=None):
    with triggered(trigger):
        return registered(FakeStore(dataset))["sync_range"](
            search, slider, axis, 1, 1, 1, 1, "3", P, *typed, shown_max, P
        )


def test_the_range_from_the_url(dataset):
    answer = sync(dataset, None, "?sol_min=14&sol_max=99&axis=date")
    value, lo, hi, marks, a, b, search, csv, geojson, axis, *rover_outputs = answer
    assert rover_outputs == [no_update] * 3  # the rover shown is the one the address names
    assert (value, lo, hi, a, b) == ([14, 18], 13, 18, 14, 18)
    assert list(marks) == [13, 14, 15, 16, 17, 18]
    assert search == "?sol_min=14&sol_max=18&axis=date"
    assert csv == "/perseverance/waypoints.csv?sol_min=14&sol_max=18"
    assert geojson == "/perseverance/waypoints.geojson?sol_min=14&sol_max=18"
    assert axis == "date"
    # the URL already says it all: neither it nor the axis is written back
    same = sync(dataset, f"{ids.URL}.search", "?sol_min=14&sol_max=18", axis="sol")
    assert same[6] is no_update and same[9] is no_update
    assert sync(dataset, f"{ids.DATA_VERSION}.data", "?sol_min=15")[0] == [15, 18]


def test_the_range_from_the_slider_and_the_boxes(dataset):
    assert sync(dataset, f"{ids.SOL_RANGE}.value", "", [17, 2])[0] == [13, 17]
    assert sync(dataset, f"{ids.SOL_RANGE}.value", "?sol_min=16", [15])[0] == [16, 18]  # not a pair: the URL's
    # a typed sol is clamped; an empty or half-typed box keeps the slider's end
    assert sync(dataset, f"{ids.SOL_MIN}.n_submit", "", [14, 16], typed=("2", ""))[0] == [13, 16]
    assert sync(dataset, f"{ids.SOL_MAX}.n_blur", "", [14, 16], typed=("-", 17.4))[0] == [14, 17]
    assert sync(dataset, f"{ids.SOL_MAX}.n_blur", "", None, typed=(None, None))[0] == [13, 18]


def test_the_time_axis_switch(dataset):
    answer = sync(dataset, f"{ids.TIME_AXIS}.value", "?sol_min=14&sol_max=15", [16, 17], axis="date")
    assert answer[0] == [14, 15]  # the URL's range, not the slider's
    assert answer[6] == "?sol_min=14&sol_max=15&axis=date" and answer[9] is no_update
    # the slider keeps the axis the control shows
    assert sync(dataset, f"{ids.SOL_RANGE}.value", "", [14, 15], axis="date")[6].endswith("&axis=date")


def test_the_range_on_a_new_version(dataset):
    new = f"{ids.DATA_VERSION}.data"
    # the range ended at the latest sol the page showed (17): it ends at the new one (18)
    answer = sync(dataset, new, "?sol_min=14&sol_max=17", [14, 17], shown_max=17)
    assert answer[0] == [14, 18] and (answer[1], answer[2]) == (13, 18)
    assert answer[6] == "?sol_min=14&sol_max=18"
    # a range ending earlier is kept, and the URL with it
    kept = sync(dataset, new, "?sol_min=14&sol_max=16", [14, 16], shown_max=17)
    assert (kept[0] is no_update or kept[0] == [14, 16]) and kept[2] == 18 and kept[6] is no_update  # value kept as is


def charts(store, sol_range=None, selection=None, trigger=f"{ids.SOL_RANGE}.value", axis="sol"):
    with triggered(trigger):
        return registered(store)["update_charts"](sol_range, selection, "3", axis, P, None)


@pytest.mark.parametrize("store", [FakeStore(error=e) for e in DOWN])
def test_the_charts_while_the_store_is_down(store):
    answer = charts(store, [14, 16])
    assert len(answer) == N + 4
    assert all(a is no_update for a in answer[:N] + answer[N + 1 :])
    assert answer[N] == STORE_DOWN


def test_the_charts_with_no_dataset():
    answer = charts(FakeStore(None), [14, 16])
    assert all(a is no_update for a in answer[:N])
    assert answer[N:] == ("", False, True, True)  # the empty state, and nothing else


def test_the_charts_with_a_dataset(dataset):
    answer = charts(FakeStore(dataset), [16, 99], ["4_0", 7], axis="date")
    figures = dict(zip(BUILDERS, answer[:N], strict=True))
    assert figures["orientation"]["layout"]["title"]["text"].endswith("(sols 16–18, 1 selected)")
    assert answer[N:] == ("", True, False, False)
    # the map drew the selection itself: redrawing it would clear plotly's selection box
    selected = charts(FakeStore(dataset), [13, 18], ["4_0"], trigger=f"{ids.SELECTION}.data")
    assert selected[list(BUILDERS).index("map")] is no_update
    assert charts(FakeStore(dataset), "junk")[0]["layout"]["title"]["text"].endswith("(sols 13–18)")


@pytest.mark.parametrize(
    "store", [*(FakeStore(error=e) for e in DOWN), FakeStore(small_dataset(), last_load_error=DOWN[0])]
)
def test_the_now_card_while_the_store_is_down(store):
    assert registered(store)["show_now"]("3", 0, P) == (no_update, no_update, no_update)


def test_the_now_card_and_the_summary(dataset):
    assert registered(FakeStore(None))["show_now"]("3", 0, P) == ([], [], None)
    card, summary, shown = registered(FakeStore(dataset))["show_now"]("3", 0, P)
    assert card[0].id == ids.NOW_TITLE and summary and shown == {"sol": 18, "odometry_m": 133.9}
    failing = FakeStore(dataset)
    failing.record = {
        "ok": False,
        "at": "2026-12-06T10:00:00Z",
        "failing_since": "2026-12-05T14:02:00Z",
        "error": "HTTP 500",
    }
    card, _, _ = registered(failing)["show_now"]("3", 1, P)
    assert card[1].id == ids.NOW_STALE and "has not answered since 2026-12-05 14:02 UTC (HTTP 500)" in card[1].children


def test_following_a_new_version(dataset):
    follow = registered(FakeStore(dataset))["follow_live"]
    shown = {"sol": 17, "odometry_m": 100.0}
    assert follow(1, "2", shown) == ("3", "New drive: sol 18, +34 m")
    assert follow(2, "3", shown) == (no_update, no_update)  # the load record changed, not the version
    assert follow(3, None, "junk") == ("3", "New data: sol 18")  # the page opened empty
    for store in (FakeStore(None), *(FakeStore(error=e) for e in DOWN)):
        with pytest.raises(PreventUpdate):
            registered(store)["follow_live"](1, "2", shown, P)


def test_selecting_on_the_map():
    select = registered(FakeStore())["select_on_map"]
    with triggered(f"{ids.GRAPHS['map']}.selectedData"):
        assert select({"points": [{"customdata": "4_0"}]}, 0) == (["4_0"], "1 waypoint selected on the map")
        assert select({"points": []}, 0) == (None, "")
    with triggered(f"{ids.RESET_SELECTION}.n_clicks"):
        assert select({"points": [{"customdata": "4_0"}]}, 1) == (None, "")


CLICK = {"points": [{"customdata": "4_120"}]}


def test_waypoint_details(dataset):
    details = registered(FakeStore(dataset))["show_details"]
    assert details(CLICK)[0].children == "Waypoint 4_120"
    with pytest.raises(PreventUpdate):
        details({"points": [{"x": 1}]})  # a click on the path
    with pytest.raises(PreventUpdate):
        registered(FakeStore(None))["show_details"](CLICK, P)
    for error in DOWN:
        (said,) = registered(FakeStore(error=error))["show_details"](CLICK, P)
        assert isinstance(said, html.P) and said.children == STORE_DOWN


@pytest.mark.parametrize(
    "raised, said",
    [
        (LoadError("wp.json: HTTP 500"), "Loading failed: wp.json: HTTP 500"),
        (redis.exceptions.OutOfMemoryError("OOM"), STORE_FULL),
        (redis.ConnectionError("refused"), STORE_DOWN),
        (StoreError("a load is already running"), STORE_DOWN),
    ],
)
def test_a_failed_load(monkeypatch, raised, said):
    def failing(store, settings):
        raise raised

    monkeypatch.setattr(load_area, "load", failing)
    assert registered(FakeStore())["load_data"](1, None, P) == (said, no_update)


def test_a_load(monkeypatch):
    summary = {
        "version": "8",
        "waypoints": {"rows": 12, "sol_min": 13, "sol_max": 18},
        "traverse": {"rows": 4, "sol_min": 13, "sol_max": 17},
    }
    monkeypatch.setattr(load_area, "load", lambda store, settings: summary)
    said, version = registered(FakeStore())["load_data"](1, "7", P)
    assert said.startswith("Loaded 12 waypoints") and version == "8"


def test_a_forged_load_click_when_loading_is_restricted(monkeypatch):
    monkeypatch.setattr(load_area, "load", pytest.fail)
    settings = dataclasses.replace(Settings(), admin_token="secret")
    said, version = registered(FakeStore(), settings)["load_data"](1, None, P)
    assert "Loading is restricted to the operator" in said[0] and version is no_update


def submit(store, chart="orientation", clicks=1):
    charts_ = ["map", "orientation"]
    formats = ["png", "svg"]
    request = flask.Flask(__name__).test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.1"})
    with request, triggered(f'{{"chart":"{chart}","type":"{ids.EXPORT_BUTTON}"}}.n_clicks'):
        return registered(store)["submit_export"](
            [clicks, clicks], formats, [ids.export_format(c) for c in charts_], [14, 16], None, []
        )


def test_an_export_needs_a_dataset_and_the_store(dataset):
    assert submit(FakeStore(None)) == (no_update, "Load the data before exporting.")
    for error in DOWN:
        assert submit(FakeStore(error=error)) == (no_update, STORE_DOWN)
    assert submit(FakeStore(dataset), chart="pie")[1].startswith("Cannot export: ")
    # past validation it needs Redis (rate limit, queue): down here
    assert submit(FakeStore(dataset)) == (no_update, STORE_DOWN)
    with pytest.raises(PreventUpdate):
        submit(FakeStore(dataset), clicks=0)


def test_the_export_list():
    poll = registered(FakeStore())["poll_exports"]
    assert poll(0, None) == ([], True)  # nothing to follow: the interval stops
    assert poll(0, [7, None]) == ([], True)
    items, disabled = poll(1, ["job-1"])  # Redis unreachable: said, and polling goes on
    assert [i.children for i in items] == [STORE_DOWN] and disabled is False
    assert MAX_PAGE_EXPORTS == 10


@pytest.mark.parametrize("store", [FakeStore(None), *(FakeStore(error=e) for e in DOWN)])
def test_without_a_dataset_the_replay_says_why_in_words(store):
    """No data loaded, or Redis away: the answer to that request says so (the page shows it
    and stops waiting for frames), and carries no frames."""
    sent = registered(store)["send_replay"]({"sol_min": 13, "sol_max": 18, "n": 1})
    assert sent["asked"] == 1 and "frames" not in sent
    words = NO_REPLAY_DATA if store.error is None else STORE_DOWN
    assert sent["error"] == f"{words}"


def test_the_replay_is_sent_for_the_range_asked_within_the_timeline():
    send = registered(FakeStore(small_dataset()))["send_replay"]
    with pytest.raises(PreventUpdate):
        send(None)  # nothing asked yet
    sent = send({"sol_min": 15, "sol_max": 17, "n": 4})
    assert sent["range"] == [15, 17] and sent["sols"] == [15, 16, 17] and sent["asked"] == 4
    assert send({"sol_min": 0, "sol_max": 99999, "n": 5})["range"] == [13, 18]  # clamped to the sols known
