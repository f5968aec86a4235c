"""The replay on the page (dashboard/page/replay.py): what the browser gets once per range,
the numbers beside each frame, and the controls in the layout. The playing itself is
tested in the browser: tests/browser/test_replay_page.py."""

from __future__ import annotations

import dataclasses
import json

import plotly.utils
import pytest

from dashboard.exports.replay import GHOST_NAME, ROVER_NAME, stamp_text
from dashboard.page import ids
from dashboard.page.layout import _replay
from dashboard.page.replay import MAX_FRAMES, SPEEDS, page_frames, page_replay, readings
from tests.unit.page_fixtures import dataset_with_current, small_dataset


def test_a_page_replay_has_a_frame_a_sol_up_to_a_limit():
    assert page_frames(13, 18) == 6 and page_frames(100, 100) == 1
    assert page_frames(0, 10_000) == MAX_FRAMES


def test_the_browser_gets_the_workers_frames_and_the_numbers_beside_each():
    spec = page_replay(small_dataset(), 13, 18)
    assert spec["range"] == [13, 18] and spec["version"] == "3"
    assert spec["sols"] == [13, 14, 15, 16, 17, 18] and len(spec["frames"]) == 6
    names = [t["name"] for t in spec["figure"]["data"]]
    assert names[0] == GHOST_NAME and names[spec["rover"]] == ROVER_NAME
    assert spec["frames"][0]["stamp"] == stamp_text(13)
    assert spec["figure"]["layout"]["annotations"][spec["stamp"]]["text"] == stamp_text(13)
    assert spec["dates"][:2] == ["2021-03-03", "2021-03-04"]
    assert spec["odometry_km"] == [0.0, 0.006, 0.043, 0.043, 0.094, 0.134]
    assert spec["elevation_m"][0] == -2569.9 and spec["elevation_m"][-1] == -2568.2  # the sol's last waypoint
    # what Dash sends: plain JSON, the coordinates as typed arrays the browser slices
    sent = json.loads(json.dumps(spec, cls=plotly.utils.PlotlyJSONEncoder))
    assert sent["figure"]["data"][1]["x"]["dtype"] == "f4"


def test_the_numbers_follow_the_now_card():
    dataset = small_dataset()  # waypoints on sols 13..18, traverse legs on 14..17
    odometry, elevation = readings(dataset, [10, 13, 17, 30])
    assert odometry == [None, 0.0, 0.094, 0.134] and elevation == [None, -2569.9, -2568.9, -2568.2]
    # past the last waypoint the traverse's legs count, as on the now card
    early = dataclasses.replace(dataset, waypoints=dataset.waypoints[dataset.waypoints["sol"] <= 15])
    assert readings(early, [17]) == ([0.094], [-2568.9])
    # the current position, newer than the waypoints, is the last sol's
    assert readings(dataset_with_current(), [19]) == ([0.141], [-2569.1])


def test_a_range_with_one_sol_has_one_frame():
    spec = page_replay(small_dataset(), 16, 16)
    assert spec["sols"] == [16] and len(spec["frames"]) == 1


def test_the_controls_are_buttons_with_words_and_the_speeds():
    play = _find(_replay(), ids.REPLAY_PLAY)
    assert play.type == "button" and getattr(play, "aria-pressed") == "false"
    assert getattr(play, "aria-label") == "Play the replay"
    step = _find(_replay(), ids.REPLAY_STEP)
    assert step.type == "button" and getattr(step, "aria-label")
    speed = _find(_replay(), ids.REPLAY_SPEED)
    assert [o["value"] for o in speed.options] == list(SPEEDS) and speed.value in SPEEDS
    status = _find(_replay(), ids.REPLAY_STATUS)
    assert status.role == "status"


def _find(component, wanted):
    if getattr(component, "id", None) == wanted:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str):
            found = _find(child, wanted)
            if found is not None:
                return found
    return None


@pytest.mark.parametrize("a, b", [(13, 18), (15, 17)])
def test_every_frame_has_its_sol_and_numbers(a, b):
    spec = page_replay(small_dataset(), a, b)
    n = b - a + 1
    assert [len(spec[k]) for k in ("frames", "sols", "dates", "odometry_km", "elevation_m")] == [n] * 5
