"""An open page follows new data without a reload: a version loaded in the background
reaches the now card, the slider and the charts (redrawn once) within a poll or two, with
a polite notice; a failing refresh shows in words; a hidden tab does not poll."""

from __future__ import annotations

import time

import pytest

from dashboard.data.load import LoadError, load
from dashboard.page import ids
from tests.browser.helpers import n_all, newer_waypoints, wait_counts
from tests.helpers import FIXTURES

#: the fixtures' newest sol (their current-position layer) and its odometry; the newer
#: waypoint layer's
FIRST_SOL, FIRST_ODOMETRY = 19, 140.5
NEW_SOL, NEW_ODOMETRY = 25, 383.9
LATEST = f"#{ids.now_value('Latest sol')}"

#: counts the page's requests: chart redraws (the charts' callback) and version polls
COUNT_REQUESTS = """
window.seenRequests = {charts: 0, polls: 0};
const realFetch = window.fetch;
window.fetch = function (url, options) {
  const body = options && typeof options.body === "string" ? options.body : "";
  if (String(url).includes("/_dash-update-component") && body.includes("orientation-chart.figure")) {
    window.seenRequests.charts += 1;
  }
  if (String(url).includes("/perseverance/version")) window.seenRequests.polls += 1;
  return realFetch.apply(this, arguments);
};
"""
SET_VISIBILITY = """
Object.defineProperty(document, "visibilityState", {value: arguments[0], configurable: true});
document.dispatchEvent(new Event("visibilitychange"));
"""


@pytest.fixture
def live_settings(settings):
    """The fixture layers (known sols and odometry, whatever data is around), polled every second."""
    return settings.replace(current_source=str(FIXTURES / "current_v2026.json"), live_poll_seconds=1)


@pytest.fixture
def loaded(store, live_settings):
    load(store, live_settings)
    return store.current()


def seen(dash_duo) -> dict:
    return dash_duo.driver.execute_script("return window.seenRequests")


def wait_until(check, timeout=10.0, what="condition"):
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.1)


def slider_max(dash_duo) -> str:
    return dash_duo.find_element(f"#{ids.SOL_RANGE} [role=slider]").get_attribute("aria-valuemax")


def test_a_new_version_reaches_the_open_page(dash_duo, start, live_settings, loaded, store, tmp_path):
    start(live_settings)
    dash_duo.wait_for_text_to_equal(LATEST, f"sol {FIRST_SOL}", timeout=10)
    wait_counts(dash_duo, "orientation", [n_all(loaded)] * 4)
    dash_duo.driver.execute_script(COUNT_REQUESTS)
    newer = newer_waypoints(tmp_path, NEW_SOL, NEW_ODOMETRY)
    load(store, live_settings.replace(waypoints_source=str(newer)))
    dash_duo.wait_for_text_to_equal(LATEST, f"sol {NEW_SOL}", timeout=10)
    gained = round(NEW_ODOMETRY - FIRST_ODOMETRY)
    dash_duo.wait_for_text_to_equal(f"#{ids.LIVE_NOTICE}", f"New drive: sol {NEW_SOL}, +{gained} m", timeout=5)
    # the range ended at the latest sol: it now ends at the new one (slider, boxes, URL)
    wait_until(lambda: dash_duo.find_element(f"#{ids.SOL_MAX}").get_attribute("value") == str(NEW_SOL))
    wait_until(lambda: slider_max(dash_duo) == str(NEW_SOL), what="the slider's new end")
    assert f"sol_max={NEW_SOL}" in dash_duo.driver.current_url
    wait_counts(dash_duo, "orientation", [n_all(loaded) + 1] * 4)
    time.sleep(1.5)  # a poll or two later: nothing more
    assert seen(dash_duo)["charts"] == 1
    assert dash_duo.find_element(f"#{ids.LIVE_NOTICE}").get_attribute("aria-live") == "polite"
    # a refresh fails: the data stays, the now card says since when and how old it is
    with pytest.raises(LoadError):
        load(store, live_settings.replace(waypoints_source=str(tmp_path / "gone.json")))
    dash_duo.wait_for_contains_text(f"#{ids.NOW_STALE}", f"the position shown is from sol {NEW_SOL}", timeout=10)
    assert "(no such file)" in dash_duo.find_element(f"#{ids.NOW_STALE}").text
    assert dash_duo.find_element(LATEST).text == f"sol {NEW_SOL}"
    assert seen(dash_duo)["charts"] == 1
    assert dash_duo.get_logs() == []


def test_a_range_short_of_the_latest_sol_is_kept_and_a_hidden_tab_waits(
    dash_duo, start, live_settings, loaded, store, tmp_path
):
    start(live_settings, "/?sol_min=13&sol_max=15")
    dash_duo.wait_for_text_to_equal(LATEST, f"sol {FIRST_SOL}", timeout=10)
    dash_duo.driver.execute_script(COUNT_REQUESTS)
    wait_until(lambda: seen(dash_duo)["polls"] >= 1, what="a poll")
    dash_duo.driver.execute_script(SET_VISIBILITY, "hidden")
    time.sleep(0.5)  # a poll already on its way may still land
    polls = seen(dash_duo)["polls"]
    load(store, live_settings.replace(waypoints_source=str(newer_waypoints(tmp_path, NEW_SOL, NEW_ODOMETRY))))
    time.sleep(3)  # three poll periods: a hidden tab asks nothing
    assert seen(dash_duo)["polls"] == polls
    assert dash_duo.find_element(LATEST).text == f"sol {FIRST_SOL}"
    dash_duo.driver.execute_script(SET_VISIBILITY, "visible")
    # at once: the schedule starts over, so its own first poll is a whole second away
    wait_until(lambda: seen(dash_duo)["polls"] > polls, timeout=0.5, what="a poll on becoming visible")
    dash_duo.wait_for_text_to_equal(LATEST, f"sol {NEW_SOL}", timeout=3)
    # the slider spans the new sols; the chosen range (ending short of the latest) stays
    wait_until(lambda: slider_max(dash_duo) == str(NEW_SOL), what="the slider's new end")
    assert dash_duo.find_element(f"#{ids.SOL_MAX}").get_attribute("value") == "15"
    assert "sol_min=13&sol_max=15" in dash_duo.driver.current_url
    assert dash_duo.find_element(f"#{ids.LIVE_NOTICE}").text.startswith(f"New drive: sol {NEW_SOL}, +")
    assert dash_duo.get_logs() == []
