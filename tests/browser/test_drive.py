"""In the browser: the whole drive (every layer's sols), the "now" card, panorama
links, the Sol/Earth date switch, a phone-wide screen, keyboard use and axe-core."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from dashboard.page import ids
from dashboard.page.ranges import sol_bounds
from tests.browser.helpers import click_waypoint, counts, n_all, wait_counts

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"  # `make axe`: axe-core 4.14.1, MPL-2.0

AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']})
  .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                          nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))))
  .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));
"""


def wait_until(fn, timeout=10, what=""):
    end = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        assert time.monotonic() < end, what or got
        time.sleep(0.1)


def fig_js(dash_duo, chart, expr):
    return dash_duo.driver.execute_script(
        "const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot'); "
        f"if (!gd || !gd._fullLayout) return null; return {expr};",
        ids.GRAPHS[chart],
    )


def serious_violations(dash_duo) -> list[dict]:
    if not AXE.exists():
        pytest.skip(f"axe-core not found at {AXE}: run `make axe`")
    driver = dash_duo.driver
    driver.set_script_timeout(90)
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    found = driver.execute_async_script(AXE_RUN)
    return [v for v in found if v["impact"] in ("serious", "critical")]


def test_the_timeline_goes_beyond_the_last_waypoint(dash_duo, start, data_settings, loaded):
    lo, hi = sol_bounds(loaded)
    last_wp = int(loaded.waypoint_layer["sol"].max())
    assert hi > last_wp  # the traverse and the current position go further than the waypoints
    start(data_settings)
    n = n_all(loaded)
    wait_counts(dash_duo, "orientation", [n] * 4)
    assert dash_duo.find_element(f"#{ids.SOL_MAX}").get_attribute("value") == str(hi)
    # the now card: the newest sol of any layer, its Earth date, and each layer's freshness
    card = dash_duo.find_element(f"#{ids.NOW}").text
    assert f"sol {hi}" in card and f"to sol {last_wp}" in card
    if hi == 1840:  # NASA's files
        assert "2026-04-23" in card
        # the map's path at the full range ends at the traverse's last vertex
        end = fig_js(
            dash_duo,
            "map",
            "[gd._fullData[0].x[gd._fullData[0]._length - 1], gd._fullData[0].y[gd._fullData[0]._length - 1]]",
        )
        assert end[0] == pytest.approx(77.2201, abs=1e-3) and end[1] == pytest.approx(18.4325, abs=1e-3)
    # a range after the last waypoint: the traverse draws position and elevation, and
    # orientation says why it has nothing there
    dash_duo.driver.get(dash_duo.server_url + f"/?sol_min={last_wp + 1}&sol_max={hi}")
    wait_until(lambda: dash_duo.find_element(f"#{ids.SOL_MIN}").get_attribute("value") == str(last_wp + 1))
    wait_until(lambda: (counts(dash_duo, "orientation") or [None])[0] == 0, what="orientation")
    if hi - last_wp > 60:
        wait_until(lambda: "No orientation" in dash_duo.find_element(f"#{ids.GRAPHS['orientation']}").text)
        names = fig_js(dash_duo, "position", "gd._fullData.map(t => t.name)")
        assert "latitude · traverse" in names
        assert (counts(dash_duo, "position")[names.index("latitude · traverse")] or 0) > 100
    names = fig_js(dash_duo, "map", "gd._fullData.map(t => t.name)")
    assert any(name.startswith("current position") for name in names)
    assert dash_duo.get_logs() == []


def test_a_waypoint_links_to_its_panorama(dash_duo, start, data_settings, loaded):
    start(data_settings)
    dash_duo.driver.set_window_size(1400, 1200)
    wait_counts(dash_duo, "orientation", [n_all(loaded)] * 4)
    click_waypoint(dash_duo)
    dash_duo.wait_for_contains_text(f"#{ids.DETAILS} h2", "Waypoint ", timeout=10)
    link = dash_duo.find_element(f"#{ids.DETAILS} #{ids.PANORAMA_LINK}")
    href = link.get_attribute("href")
    # the sources are local files: NASA's mission folder makes the relative path absolute
    assert href.startswith("https://mars.nasa.gov/mmgis-maps/M20/Layers/mosaics/") and href.endswith(".jpg")
    assert link.get_attribute("target") == "_blank" and "noopener" in link.get_attribute("rel")
    assert dash_duo.get_logs() == []


def test_the_time_axes_switch_between_sol_and_earth_date(dash_duo, start, data_settings, loaded):
    start(data_settings)
    wait_counts(dash_duo, "orientation", [n_all(loaded)] * 4)
    assert fig_js(dash_duo, "orientation", "gd._fullLayout.xaxis.type") == "linear"
    dash_duo.find_element(f"#{ids.TIME_AXIS} input[value='date']").click()
    wait_until(lambda: "axis=date" in dash_duo.driver.current_url, what=dash_duo.driver.current_url)
    for chart in ("orientation", "position", "elevation", "distance"):
        wait_until(lambda chart=chart: fig_js(dash_duo, chart, "gd._fullLayout.xaxis.type") == "date", what=chart)
    assert "Earth date" in fig_js(dash_duo, "orientation", "gd._fullLayout.xaxis.title.text")
    # kept in the URL: a reload (or a shared link) shows dates again
    dash_duo.driver.get(dash_duo.driver.current_url)
    wait_until(lambda: fig_js(dash_duo, "orientation", "gd._fullLayout.xaxis.type") == "date")
    assert dash_duo.find_element(f"#{ids.TIME_AXIS} input[value='date']").is_selected()
    dash_duo.find_element(f"#{ids.TIME_AXIS} input[value='sol']").click()
    wait_until(lambda: "axis=date" not in dash_duo.driver.current_url)
    wait_until(lambda: fig_js(dash_duo, "orientation", "gd._fullLayout.xaxis.type") == "linear")
    assert dash_duo.get_logs() == []


PHONE_JS = """
const overlap = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
const out = {overflow: document.documentElement.scrollWidth - window.innerWidth, width: window.innerWidth};
out.spilling = [...document.querySelectorAll(
    '.summary-item, .summary-value, .now-card, .now-card dd, .controls, .details, .chart-card, .exports')]
  .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.className || e.tagName);
const marks = [...document.querySelectorAll('#sol-range .dash-slider-mark')].map(e => e.getBoundingClientRect());
out.marks = marks.length;
out.markOverlaps = [];
for (let i = 0; i < marks.length; i++) for (let j = i + 1; j < marks.length; j++)
  if (overlap(marks[i], marks[j])) out.markOverlaps.push([i, j]);
out.titleLegend = [];
for (const gd of document.querySelectorAll('.js-plotly-plot')) {
  const t = gd.querySelector('.gtitle'), l = gd.querySelector('.legend');
  if (t && l && overlap(t.getBoundingClientRect(), l.getBoundingClientRect())) out.titleLegend.push(gd.parentNode.id);
}
return out;
"""


@pytest.mark.parametrize("drawn_wide", [False, True], ids=["opened-on-a-phone", "window-narrowed-after-drawing"])
def test_nothing_overlaps_on_a_phone(dash_duo, start, data_settings, loaded, drawn_wide):
    start(data_settings)
    if drawn_wide:  # drawn at desktop width, then narrowed (a phone turned, a window resized)
        dash_duo.driver.set_window_size(1400, 1000)
        wait_counts(dash_duo, "orientation", [n_all(loaded)] * 4)
    dash_duo.driver.set_window_size(390, 844)
    wait_counts(dash_duo, "orientation", [n_all(loaded)] * 4)
    time.sleep(1.0)  # let plotly re-lay out at the new width
    got = dash_duo.driver.execute_script(PHONE_JS)
    assert got["width"] <= 400, got
    assert got["overflow"] <= 0, got
    assert got["spilling"] == [], got
    assert got["marks"] >= 3 and got["markOverlaps"] == [], got
    assert got["titleLegend"] == [], got
    # every chart fits the screen
    widths = dash_duo.driver.execute_script(
        "return [...document.querySelectorAll('.js-plotly-plot .main-svg')].map(e => e.getBoundingClientRect().right)"
    )
    assert max(widths) <= got["width"], widths
    assert dash_duo.get_logs() == []


def focus_by_tab(dash_duo, css, limit=250):
    """Press Tab until the focused element matches ``css`` (keyboard only)."""
    body = dash_duo.driver.find_element("css selector", "body")
    for _ in range(limit):
        if dash_duo.driver.execute_script("return document.activeElement.matches(arguments[0])", css):
            return dash_duo.driver.switch_to.active_element
        ActionChains(dash_duo.driver).send_keys(Keys.TAB).perform()
    raise AssertionError(
        f"Tab never reached {css}; stopped at "
        + dash_duo.driver.execute_script("return document.activeElement.outerHTML.slice(0, 200)")
    )
    return body


def test_range_and_export_work_from_the_keyboard(dash_duo, start, data_settings, loaded):
    start(data_settings)
    lo, hi = sol_bounds(loaded)
    wait_counts(dash_duo, "orientation", [n_all(loaded)] * 4)
    handle = focus_by_tab(dash_duo, f"#{ids.SOL_RANGE} [role=slider]")
    for _ in range(3):
        handle.send_keys(Keys.ARROW_RIGHT)
    wait_until(lambda: dash_duo.find_element(f"#{ids.SOL_MIN}").get_attribute("value") == str(lo + 3))
    wait_until(lambda: f"sol_min={lo + 3}" in dash_duo.driver.current_url)
    # the map's export: Tab to its format radios, an arrow picks SVG, Tab to the button, Enter
    radio = focus_by_tab(dash_duo, "input.export-format-input[value='png']")
    radio.send_keys(Keys.ARROW_RIGHT)
    assert dash_duo.driver.switch_to.active_element.get_attribute("value") == "svg"
    button = focus_by_tab(dash_duo, f"[id*='{ids.EXPORT_BUTTON}']")
    assert "map" in button.get_attribute("id")
    button.send_keys(Keys.ENTER)
    dash_duo.wait_for_contains_text(f"#{ids.EXPORT_LIST}", f"Traverse map SVG, sols {lo + 3}–{hi}", timeout=10)
    assert dash_duo.get_logs() == []


def test_axe_finds_no_serious_violations_on_the_loaded_page(dash_duo, start, data_settings, loaded):
    start(data_settings)
    wait_counts(dash_duo, "orientation", [n_all(loaded)] * 4)
    dash_duo.wait_for_contains_text(f"#{ids.NOW}", "sol", timeout=10)
    assert serious_violations(dash_duo) == []
    assert dash_duo.get_logs() == []


def test_axe_finds_no_serious_violations_on_the_empty_page(dash_duo, start, data_settings, store):
    assert store.current() is None
    start(data_settings, "")
    dash_duo.wait_for_text_to_equal(f"#{ids.EMPTY_STATE} h2", "No rover data loaded yet")
    assert serious_violations(dash_duo) == []
    assert dash_duo.get_logs() == []
