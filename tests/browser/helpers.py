"""Helpers of the browser tests: what the page's charts draw."""

from __future__ import annotations

import time

from dashboard.page import ids

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
