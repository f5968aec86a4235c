"""The page's range maths (dashboard.page.ranges): pure, no browser."""

from __future__ import annotations

import pytest

from dashboard.page.ranges import (
    axis_from_query,
    axis_of,
    clamp_range,
    follow_latest,
    int_or_none,
    range_from_query,
    range_query,
    range_within,
    slider_marks,
    slider_pair,
    sol_bounds,
    waypoints_href,
)
from tests.unit.page_fixtures import dataset_with_current, small_dataset


@pytest.mark.parametrize(
    "value, expected",
    [(3, 3), (14.6, 15), ("600", 600), (" 7 ", 7), ("abc", None), (None, None), ([1], None)]
    + [(float("nan"), None), (float("inf"), None), ("-inf", None)],
)
def test_int_or_none(value, expected):
    assert int_or_none(value) == expected


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
    "value, pair, expected",
    [
        ([20, 30], (20, 30), (20, 30)),
        ([30, -4], (30, -4), (13, 30)),
        ([20], (13, 1110), (13, 1110)),
        ((20, 30), (13, 1110), (13, 1110)),  # not what a slider sends: the whole timeline
        (None, (13, 1110), (13, 1110)),
        (["x", 40], ("x", 40), (13, 40)),
    ],
)
def test_a_slider_value_within_the_timeline(value, pair, expected):
    assert slider_pair(value, 13, 1110) == pair
    assert range_within(value, 13, 1110) == expected


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
    assert axis_of("date") == "date"
    assert axis_of("sol") == axis_of(None) == axis_of(["date"]) == "sol"


def test_range_query_round_trip():
    assert range_query(100, 200) == "?sol_min=100&sol_max=200"
    assert range_from_query(range_query(100, 200), 13, 1110) == (100, 200)


def test_download_links_of_a_range():
    assert waypoints_href("csv", 14, 16) == "/perseverance/waypoints.csv?sol_min=14&sol_max=16"
    assert waypoints_href("geojson", 14, 16) == "/perseverance/waypoints.geojson?sol_min=14&sol_max=16"


def test_slider_marks():
    # at most ~5 round marks, none within 0.6 steps of an end (1000 and 1110 collided on a phone)
    assert slider_marks(13, 1110) == {13: "13", 250: "250", 500: "500", 750: "750", 1110: "1110"}
    assert slider_marks(13, 1840) == {13: "13", 500: "500", 1000: "1000", 1500: "1500", 1840: "1840"}
    assert list(slider_marks(13, 18)) == [13, 14, 15, 16, 17, 18]
    assert slider_marks(0, 1) == {0: "0", 1: "1"}
    # past the largest named step, marks every 100,000 sols
    assert list(slider_marks(0, 10**6)) == list(range(0, 10**6 + 1, 100000))


def test_timeline_spans_every_layer():
    assert sol_bounds(small_dataset()) == (13, 18)
    assert sol_bounds(dataset_with_current()) == (13, 19)  # the current position, after the last waypoint


@pytest.mark.parametrize(
    "chosen, slider, shown_max, hi, expected",
    [
        ((13, 18), [13, 18], 18, 25, (13, 25)),  # ended at the latest sol: follows it
        ((13, 15), [13, 15], 18, 25, (13, 15)),  # ended earlier: kept
        ((0, 25), [0, 1], 1, 25, (0, 25)),  # the page had no data (slider 0..1): all of it
        ((13, 18), None, 18, 25, (13, 25)),  # no slider value: the URL's end decides
        ((13, 18), [13, 18], None, 25, (13, 18)),  # the slider's end unknown: kept
        ((20, 20), [20, 20], 20, 18, (18, 18)),  # fewer sols than before: within the new ones
    ],
)
def test_follow_latest(chosen, slider, shown_max, hi, expected):
    assert follow_latest(chosen, slider, shown_max, hi) == expected
