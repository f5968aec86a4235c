"""The callbacks' pure helpers (no browser)."""

from __future__ import annotations

from datetime import UTC

import pytest

from dashboard.data.parse import parse_traverse, parse_waypoints
from dashboard.data.store import Dataset
from dashboard.figures import BUILDERS, values
from dashboard.page.callbacks import (
    axis_from_query,
    chart_figures,
    clamp_range,
    now_items,
    range_from_query,
    range_query,
    selection_from,
    slider_marks,
    sol_bounds,
    sols_of,
    summary_items,
    waypoint_fields,
    waypoint_panorama,
)


@pytest.fixture(scope="module")
def dataset():
    from tests.conftest import FIXTURES

    wp = parse_waypoints((FIXTURES / "waypoints_v2024.json").read_bytes(), "wp").frame
    tr = parse_traverse((FIXTURES / "traverse_v2026.json").read_bytes(), "tr")
    meta = {"loaded_at": "2026-11-29T03:00:00Z", "layers": {"waypoints": {"source": "/data/wp.json"}}}
    return Dataset(version="3", meta=meta, waypoints=wp, traverse=tr.frame, traverse_points=tr.points)


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (20, 30, (20, 30)),
        (30, 20, (20, 30)),
        (-5, 5000, (13, 1110)),
        (None, 500, (13, 500)),
        ("abc", "600", (13, 600)),
        (float("nan"), 14.6, (13, 15)),
        (2000, 3000, (1110, 1110)),
    ],
)
def test_clamp_range(a, b, expected):
    assert clamp_range(a, b, 13, 1110) == expected


@pytest.mark.parametrize(
    "search, expected",
    [
        ("", (13, 1110)),
        ("?sol_min=100&sol_max=200", (100, 200)),
        ("?sol_max=50", (13, 50)),
        ("?sol_min=x&sol_max=[]", (13, 1110)),
        ("?sol_min=900&sol_max=100", (100, 900)),
        (None, (13, 1110)),
    ],
)
def test_range_from_query(search, expected):
    assert range_from_query(search, 13, 1110) == expected


def test_time_axis_in_the_url():
    assert range_query(100, 200, "date") == "?sol_min=100&sol_max=200&axis=date"
    assert axis_from_query("?sol_min=1&axis=date") == "date"
    assert axis_from_query("?axis=junk") == axis_from_query(None) == "sol"


def test_range_query_round_trip():
    assert range_query(100, 200) == "?sol_min=100&sol_max=200"
    assert range_from_query(range_query(100, 200), 13, 1110) == (100, 200)


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


def test_slider_marks():
    # at most ~5 round marks, none within 0.6 steps of an end (1000 and 1110 collided on a phone)
    assert slider_marks(13, 1110) == {13: "13", 250: "250", 500: "500", 750: "750", 1110: "1110"}
    assert slider_marks(13, 1840) == {13: "13", 500: "500", 1000: "1000", 1500: "1500", 1840: "1840"}
    assert list(slider_marks(13, 18)) == [13, 14, 15, 16, 17, 18]


def test_chart_figures_cover_every_chart(dataset):
    figs = chart_figures(dataset, 14, 16, [14])
    assert list(figs) == list(BUILDERS)
    assert len(values(figs["orientation"]["data"][0]["x"])) == 1


def test_summary(dataset):
    items = dict(summary_items(dataset, {"ok": False, "at": "t", "error": "wp.json: HTTP 500"}))
    assert items["Latest waypoint"] == "sol 18 · 2021-03-08 UTC"
    assert items["Odometry at that waypoint"] == "0.13 km"
    assert items["Elevation there"] == "-2568.2 m"
    assert items["Drives (traverse)"] == "3 to sol 17, 0.09 km"
    assert items["Data loaded"] == "2026-11-29 03:00:00 UTC from /data/wp.json"
    assert items["Last load attempt failed"] == "t: wp.json: HTTP 500"


def test_waypoint_fields(dataset):
    fields = dict(waypoint_fields(dataset, "4_120"))
    assert fields["rmc"] == "4_120" and fields["sol"] == "16"
    assert fields["earth_date"].startswith("2021-03-06")
    assert fields["final"] == "False" and fields["dist_m"] == "—"
    assert fields["note"] == "mid-drive localization"
    assert waypoint_fields(dataset, "99_99") is None


@pytest.fixture(scope="module")
def with_current():
    from dashboard.data.store import merge_current
    from tests.conftest import FIXTURES

    wp = parse_waypoints((FIXTURES / "waypoints_v2024.json").read_bytes(), "wp").frame
    cur = parse_waypoints((FIXTURES / "current_v2026.json").read_bytes(), "cur", layer="current").frame
    tr = parse_traverse((FIXTURES / "traverse_v2026.json").read_bytes(), "tr")
    meta = {
        "loaded_at": "2026-11-29T03:00:00Z",
        "layers": {
            "waypoints": {"source": "https://example.org/mmgis-maps/M20/Layers/json/M20_waypoints.json"},
            "current": {"source": "/data/M20_waypoints_current.json", "status": "newer"},
        },
    }
    return Dataset(
        version="4",
        meta=meta,
        waypoints=merge_current(wp, cur),
        traverse=tr.frame,
        traverse_points=tr.points,
        current=cur,
    )


def test_timeline_spans_every_layer(dataset, with_current):
    assert sol_bounds(dataset) == (13, 18)
    assert sol_bounds(with_current) == (13, 19)  # the current position, after the last waypoint


def test_now_card(with_current):
    from datetime import datetime

    where, fresh = now_items(with_current, datetime(2021, 3, 20, tzinfo=UTC))
    where, fresh = dict(where), dict(fresh)
    assert where["Latest sol"] == "sol 19"
    assert where["Earth date"] == "2021-03-09 UTC · 10 days ago"
    assert where["Position"] == "77.4533° E, 18.4422° N"
    assert where["Odometry"] == "0.14 km" and where["From"] == "the current-position layer"
    assert fresh == {"Waypoints": "to sol 18", "Traverse": "to sol 17", "Current position": "sol 19"}


def test_panorama_links_are_absolute(dataset, with_current):
    # a URL source: its MMGIS mission folder; a local file: NASA's
    assert waypoint_panorama(with_current, "3_0") == "https://example.org/mmgis-maps/M20/Layers/mosaics/N_0013_3_0.jpg"
    assert (
        waypoint_panorama(with_current, "4_640")
        == "https://mars.nasa.gov/mmgis-maps/M20/Layers/mosaics/N_0019_4_640.jpg"
    )
    assert waypoint_panorama(dataset, "3_0") == "https://mars.nasa.gov/mmgis-maps/M20/Layers/mosaics/N_0013_3_0.jpg"
