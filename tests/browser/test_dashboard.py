"""The page in headless Chromium: range, URL, empty state, map selection, details."""

from __future__ import annotations

import time

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from dashboard.data.load import load
from dashboard.page import ids
from dashboard.page.ranges import sol_bounds
from tests.browser.helpers import click_waypoint, counts, n_all, wait_counts


def n_between(dataset, lo, hi):
    """Waypoints of the waypoint layer in a sol range (the current position is drawn apart)."""
    sols = dataset.waypoint_layer["sol"]
    return int(((sols >= lo) & (sols <= hi)).sum())


def bounds(dataset):
    return sol_bounds(dataset)


def test_page_shows_all_charts_for_the_whole_range(dash_duo, start, data_settings, loaded):
    start(data_settings)
    n = n_all(loaded)
    wait_counts(dash_duo, "orientation", [n, n, n, n])
    wait_counts(dash_duo, "position", [n, n])
    assert counts(dash_duo, "map")[1] == n
    assert counts(dash_duo, "elevation")[0] == n
    lo, hi = bounds(loaded)
    assert dash_duo.find_element(f"#{ids.SOL_MIN}").get_attribute("value") == str(lo)
    assert dash_duo.find_element(f"#{ids.SOL_MAX}").get_attribute("value") == str(hi)
    summary = dash_duo.find_element(f"#{ids.SUMMARY}").text
    assert "km" in summary
    assert dash_duo.find_element(f"#{ids.EMPTY_STATE}").get_attribute("hidden") == "true"
    assert dash_duo.get_logs() == []


def test_moving_the_slider_narrows_every_chart(dash_duo, start, data_settings, loaded):
    start(data_settings)
    n = n_all(loaded)
    wait_counts(dash_duo, "orientation", [n] * 4)
    lo = bounds(loaded)[0]
    handles = dash_duo.driver.find_elements("css selector", f"#{ids.SOL_RANGE} [role=slider]")
    assert len(handles) == 2
    handles[0].click()
    for _ in range(5):
        handles[0].send_keys(Keys.ARROW_RIGHT)
    # the lower end moved right by 5 sols; the inputs, the URL and every chart follow
    end = time.monotonic() + 10
    while dash_duo.find_element(f"#{ids.SOL_MIN}").get_attribute("value") != str(lo + 5):
        assert time.monotonic() < end, dash_duo.find_element(f"#{ids.SOL_MIN}").get_attribute("value")
        time.sleep(0.1)
    hi = bounds(loaded)[1]
    m = n_between(loaded, lo + 5, hi)
    assert m < n
    wait_counts(dash_duo, "orientation", [m] * 4)
    wait_counts(dash_duo, "position", [m, m])
    wait_counts(dash_duo, "elevation", [m])
    assert f"sol_min={lo + 5}" in dash_duo.driver.current_url
    assert dash_duo.get_logs() == []


def test_typed_range_and_url_round_trip(dash_duo, start, data_settings, loaded):
    lo, hi = bounds(loaded)
    a, b = lo + (hi - lo) // 4, lo + (hi - lo) // 2
    start(data_settings, f"/?sol_min={a}&sol_max={b}")
    m = n_between(loaded, a, b)
    wait_counts(dash_duo, "orientation", [m] * 4)
    assert dash_duo.find_element(f"#{ids.SOL_MIN}").get_attribute("value") == str(a)
    assert dash_duo.find_element(f"#{ids.SOL_MAX}").get_attribute("value") == str(b)
    # typing a new upper end (Enter commits) updates the slider, the charts and the URL
    box = dash_duo.find_element(f"#{ids.SOL_MAX}")
    box.click()
    box.send_keys(*[Keys.BACKSPACE] * len(str(b)))
    box.send_keys(str(hi), Keys.ENTER)
    m2 = n_between(loaded, a, hi)
    wait_counts(dash_duo, "orientation", [m2] * 4)
    end = time.monotonic() + 5
    while f"sol_max={hi}" not in dash_duo.driver.current_url:
        assert time.monotonic() < end, dash_duo.driver.current_url
        time.sleep(0.1)
    # the data downloads follow the range
    assert (
        dash_duo.find_element(f"#{ids.DOWNLOAD_CSV}")
        .get_attribute("href")
        .endswith(f"/perseverance/waypoints.csv?sol_min={a}&sol_max={hi}")
    )
    # reloading the shared URL gives the same view
    dash_duo.driver.get(dash_duo.driver.current_url)
    wait_counts(dash_duo, "orientation", [m2] * 4)
    assert dash_duo.find_element(f"#{ids.SOL_MIN}").get_attribute("value") == str(a)
    assert dash_duo.get_logs() == []


def test_out_of_range_url_is_clamped(dash_duo, start, data_settings, loaded):
    lo, hi = bounds(loaded)
    start(data_settings, "/?sol_min=-50&sol_max=abc")
    n = n_all(loaded)
    wait_counts(dash_duo, "orientation", [n] * 4)
    assert dash_duo.find_element(f"#{ids.SOL_MIN}").get_attribute("value") == str(lo)
    assert dash_duo.find_element(f"#{ids.SOL_MAX}").get_attribute("value") == str(hi)
    assert dash_duo.get_logs() == []


def test_empty_state_and_load_button(dash_duo, start, data_settings, store):
    assert store.current() is None
    start(data_settings, "")
    dash_duo.wait_for_text_to_equal(f"#{ids.EMPTY_STATE} h2", "No rover data loaded yet")
    sources = dash_duo.find_element(f"#{ids.SOURCES}").text
    assert data_settings.waypoints_source in sources and data_settings.traverse_source in sources
    assert dash_duo.find_element(f"#{ids.CHARTS}").get_attribute("hidden") == "true"
    dash_duo.find_element(f"#{ids.LOAD_BUTTON}").click()
    dash_duo.wait_for_contains_text(f"#{ids.LOAD_STATUS}", "Loaded", timeout=20)
    n = n_all(store.current())
    wait_counts(dash_duo, "orientation", [n] * 4)
    assert dash_duo.find_element(f"#{ids.CHARTS}").get_attribute("hidden") is None
    assert dash_duo.find_element(f"#{ids.EMPTY_STATE}").get_attribute("hidden") == "true"
    assert dash_duo.get_logs() == []


def test_load_error_is_shown_in_words(dash_duo, start, data_settings, fixture_path):
    bad = data_settings.replace(waypoints_source=str(fixture_path("bad_html.html")))
    start(bad, "")
    dash_duo.find_element(f"#{ids.LOAD_BUTTON}").click()
    dash_duo.wait_for_contains_text(f"#{ids.LOAD_STATUS}", "Loading failed", timeout=20)
    assert "got an HTML page, not JSON" in dash_duo.find_element(f"#{ids.LOAD_STATUS}").text
    assert dash_duo.get_logs() == []


def test_map_selection_narrows_the_other_charts(dash_duo, start, data_settings, loaded):
    start(data_settings)
    n = n_all(loaded)
    wait_counts(dash_duo, "orientation", [n] * 4)
    dash_duo.driver.set_window_size(1400, 1200)
    drag = dash_duo.find_element(f"#{ids.GRAPHS['map']} .nsewdrag")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", drag)
    w, h = drag.size["width"], drag.size["height"]
    # box-select the right half of the map (dragmode is "select"; the waypoints are in the
    # east, the traverse after the last waypoint and the current position in the west)
    ActionChains(dash_duo.driver).move_to_element_with_offset(drag, 2, -h // 2 + 2).click_and_hold().move_by_offset(
        w // 8, h // 4
    ).move_by_offset(w // 2 - w // 8 - 6, h - h // 4 - 6).release().perform()
    dash_duo.wait_for_contains_text(f"#{ids.SELECTION_STATUS}", "selected on the map", timeout=10)
    end = time.monotonic() + 10
    while True:
        got = counts(dash_duo, "orientation")
        if got and 0 < got[0] < n:
            break
        assert time.monotonic() < end, got
        time.sleep(0.1)
    # the narrowed charts hold exactly the waypoints of the selected waypoints' sols
    sols = dash_duo.driver.execute_script(
        f"return [...new Set(document.querySelector('#{ids.GRAPHS['orientation']} .js-plotly-plot')._fullData[0].x)]"
    )
    selected = int(dash_duo.find_element(f"#{ids.SELECTION_STATUS}").text.split()[0])
    assert 0 < len(sols) <= selected <= got[0]
    assert got[0] == int(loaded.waypoint_layer["sol"].isin(sols).sum())
    # the map still shows every waypoint; the reset control clears the narrowing
    assert counts(dash_duo, "map")[1] == n
    dash_duo.find_element(f"#{ids.RESET_SELECTION}").click()
    wait_counts(dash_duo, "orientation", [n] * 4)
    assert dash_duo.find_element(f"#{ids.SELECTION_STATUS}").text == ""
    assert dash_duo.get_logs() == []


def test_clicking_a_waypoint_shows_all_its_fields(dash_duo, start, data_settings, loaded):
    start(data_settings)
    dash_duo.driver.set_window_size(1400, 1200)
    n = n_all(loaded)
    wait_counts(dash_duo, "orientation", [n] * 4)
    click_waypoint(dash_duo)
    dash_duo.wait_for_contains_text(f"#{ids.DETAILS} h2", "Waypoint ", timeout=10)
    rmc = dash_duo.find_element(f"#{ids.DETAILS} h2").text.split()[-1]
    row = loaded.waypoints.set_index("rmc").loc[rmc]
    table = dash_duo.find_element(f"#{ids.DETAILS} table").text
    for field in (
        "sol",
        "earth_date",
        "lat",
        "lon",
        "elev_geoid",
        "roll",
        "pitch",
        "yaw",
        "tilt",
        "dist_total_m",
        "note",
    ):
        assert field in table
    assert f"sol {row['sol']}" in table
    assert dash_duo.get_logs() == []


def test_a_new_dataset_version_is_picked_up_on_the_next_interaction(dash_duo, start, settings, store, fixture_path):
    load(store, settings)  # fixtures: 8 waypoints, sols 13..18
    start(settings)
    wait_counts(dash_duo, "orientation", [8] * 4)
    # another process loads a new version (6 waypoints, sols 13..17) while the page is open
    load(store, settings, waypoints_source=str(fixture_path("waypoints_v2022_sclk.json")))
    handles = dash_duo.driver.find_elements("css selector", f"#{ids.SOL_RANGE} [role=slider]")
    handles[0].click()
    handles[0].send_keys(Keys.ARROW_RIGHT)  # 13 -> 14
    wait_counts(dash_duo, "orientation", [5] * 4)  # sols 14..17 of the new version
    end = time.monotonic() + 5
    while dash_duo.find_element(f"#{ids.SOL_MAX}").get_attribute("value") != "17":
        assert time.monotonic() < end
        time.sleep(0.1)
    assert dash_duo.get_logs() == []


def test_export_shows_progress_and_downloads_the_file(dash_duo, start, data_settings, loaded, start_worker, tmp_path):
    start_worker()
    start(data_settings)
    n = n_all(loaded)
    wait_counts(dash_duo, "orientation", [n] * 4)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    dash_duo.driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    # two exports in flight: the map as SVG, the position chart as PNG
    svg = dash_duo.find_element(f"#{ids.GRAPHS['map']}").find_element(
        "xpath", "./following-sibling::div//input[@value='svg']"
    )
    svg.click()
    for chart in ("map", "position"):
        button = dash_duo.driver.find_element(
            "css selector", f'[id=\'{{"chart":"{chart}","type":"{ids.EXPORT_BUTTON}"}}\']'
        )
        dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
        # the buttons are disabled while a submission is in flight: a click then would be lost
        end = time.monotonic() + 20
        while not button.is_enabled():
            assert time.monotonic() < end, "the export buttons stayed disabled"
            time.sleep(0.1)
        button.click()
    dash_duo.wait_for_element(f"#{ids.EXPORT_LIST} li", timeout=10)
    end = time.monotonic() + 120  # a map SVG on a loaded 2-core machine took over 60 s once
    while len(dash_duo.driver.find_elements("css selector", f"#{ids.EXPORT_LIST} a.export-download")) < 2:
        assert time.monotonic() < end, dash_duo.find_element(f"#{ids.EXPORT_LIST}").text
        assert "failed" not in dash_duo.find_element(f"#{ids.EXPORT_LIST}").text
        time.sleep(0.2)
    text = dash_duo.find_element(f"#{ids.EXPORT_LIST}").text
    assert "Traverse map SVG" in text and "Position PNG" in text and text.count("done") == 2
    links = dash_duo.driver.find_elements("css selector", f"#{ids.EXPORT_LIST} a.export-download")
    for link in links:
        dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
        link.click()
    end = time.monotonic() + 20
    while True:
        files = sorted(p.name for p in downloads.iterdir() if not p.name.endswith(".crdownload"))
        if len(files) == 2:
            break
        assert time.monotonic() < end, files
        time.sleep(0.2)
    lo, hi = bounds(loaded)
    assert files == [f"perseverance-map-sols-{lo}-{hi}.svg", f"perseverance-position-sols-{lo}-{hi}.png"]
    assert (downloads / files[1]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (downloads / files[0]).read_bytes()[:200]
    assert dash_duo.get_logs() == []
