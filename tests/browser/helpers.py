"""Helpers of the browser tests: what the page's charts draw, and a newer waypoint layer."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

from selenium.webdriver.common.action_chains import ActionChains

from dashboard.page import ids
from tests.helpers import FIXTURES

# points drawn per trace (a NaN or null breaks a line; it is not a point)
COUNT_JS = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!gd || !gd._fullData) return null;
return gd._fullData.map(t => {
  if (t._length === undefined || !t.y) return null;
  let n = 0;
  for (let i = 0; i < t._length; i++) { const v = t.y[i]; if (v !== null && v !== undefined && !Number.isNaN(v)) n++; }
  return n;
});
"""


def counts(dash_duo, chart):
    return dash_duo.driver.execute_script(COUNT_JS, ids.GRAPHS[chart])


def wait_counts(dash_duo, chart, expected, timeout=30):
    """The first traces (the waypoint layer's) hold the expected points; traces from the
    traverse and the current position follow them."""
    end = time.monotonic() + timeout
    got = None
    while time.monotonic() < end:
        got = counts(dash_duo, chart)
        if got is not None and got[: len(expected)] == expected:
            return got
        time.sleep(0.1)
    raise AssertionError(f"{chart}: point counts {got}, expected {expected}")


def n_all(dataset):
    return len(dataset.waypoint_layer)


def newer_waypoints(folder: Path, sol: int, odometry_m: float) -> Path:
    """A copy of the fixture waypoint layer with one more drive: a waypoint at ``sol``
    whose cumulative odometry is ``odometry_m`` (what NASA's next update looks like)."""
    doc = json.loads((FIXTURES / "waypoints_v2024.json").read_text())
    last = copy.deepcopy(doc["features"][-1])
    props = last["properties"]
    props.update(
        RMC=f"9_{sol}",
        site=9,
        drive=sol,
        sol=sol,
        dist_m=odometry_m - props["dist_total_m"],
        dist_total_m=odometry_m,
        lon=props["lon"] + 0.001,
        Note="",
    )
    last["geometry"]["coordinates"][0] = props["lon"]
    doc["features"].append(last)
    path = folder / f"M20_waypoints_sol{sol}.json"
    path.write_text(json.dumps(doc))
    return path


#: a marker of the map's waypoint trace (found by its name: the path, the current
#: position and the context layers are traces of their own), the first one drawn
WAYPOINT_POINT_JS = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!gd || !gd._fullData) return null;
const svg = gd._fullData.filter(t => t.type === 'scatter' && t.visible === true);
const i = svg.findIndex(t => String(t.name).startsWith('waypoints'));
if (i < 0) return null;
const trace = gd.querySelectorAll('.scatterlayer .trace')[i];
const points = trace ? trace.querySelectorAll('path.point') : [];
return points.length ? points[0] : null;
"""


def waypoint_point(dash_duo, timeout: float = 10):
    """A waypoint's marker on the map (an SVG element to click)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        point = dash_duo.driver.execute_script(WAYPOINT_POINT_JS, ids.GRAPHS["map"])
        if point is not None:
            return point
        time.sleep(0.1)
    raise AssertionError("no waypoint marker on the map")


HOVERED_JS = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
return !!(gd && gd._hoverdata && gd._hoverdata.length);
"""


def click_waypoint(dash_duo, timeout: float = 10) -> None:
    """Click a waypoint's marker on the map as a person does: the pointer rests on it until
    plotly has found the point under it (its hover), then clicks. (A click in the same
    instant as the move can reach plotly before its hover is computed: no click event.)"""
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", waypoint_point(dash_duo, timeout))
    end = time.monotonic() + timeout
    while True:  # the page may still move (a scroll, a responsive graph resizing): aim again
        ActionChains(dash_duo.driver).move_to_element(waypoint_point(dash_duo, timeout)).perform()
        settle = time.monotonic() + 0.5
        while time.monotonic() < settle:
            if dash_duo.driver.execute_script(HOVERED_JS, ids.GRAPHS["map"]):
                ActionChains(dash_duo.driver).click().perform()
                return
            time.sleep(0.05)
        assert time.monotonic() < end, "plotly found no point under the pointer"
