"""The rover switch: one page follows Perseverance or Curiosity. Switching changes every
chart, the now card, the slider's range, the download links and the exports, without a
reload; the address keeps the rover (a shared link opens on the same rover and range); a
rover with no data shows its own empty state, and switching back works."""

from __future__ import annotations

import time

import pytest
import requests

from dashboard.data.load import LoadError, load
from dashboard.data.store import DatasetStore
from dashboard.figures import BUILDERS
from dashboard.page import ids
from tests.helpers import FIXTURES

pytestmark = [pytest.mark.browser, pytest.mark.integration]

#: the fixtures' sols: Perseverance's (waypoints + current position) and Curiosity's
M20_SOLS = (13, 19)
LATEST = f"#{ids.now_value('Latest sol')}"

MARK_PAGE = "window.samePage = 'yes';"  # gone after a full reload


@pytest.fixture
def both(settings):
    return settings.replace(
        current_source=str(FIXTURES / "current_v2026.json"),
        msl_waypoints_source=str(FIXTURES / "msl_waypoints.json"),
        msl_traverse_source=str(FIXTURES / "msl_traverse.json"),
        msl_current_source=str(FIXTURES / "msl_current.json"),
        msl_terrain_source=None,
    )


@pytest.fixture
def msl_sols(store, both):
    """Load both rovers; Curiosity's (first, last) sol."""
    load(store, both)
    curiosity = DatasetStore.of(store.redis, both.replace(key_prefix=store.prefix), "curiosity")
    load(curiosity, both.for_rover("curiosity"))
    sols = curiosity.current().waypoints["sol"]
    return int(sols.min()), int(sols.max())


def wait_until(check, timeout=20.0, what="condition"):
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.1)


def slider(dash_duo) -> tuple[int, int]:
    lo = int(dash_duo.find_element(f"#{ids.SOL_MIN}").get_attribute("value"))
    hi = int(dash_duo.find_element(f"#{ids.SOL_MAX}").get_attribute("value"))
    return lo, hi


TITLE_JS = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
return gd && gd.layout && gd.layout.title ? String(gd.layout.title.text || gd.layout.title) : '';
"""


def map_title(dash_duo) -> str:
    return dash_duo.driver.execute_script(TITLE_JS, ids.GRAPHS["map"])


def choose(dash_duo, rover: str) -> None:
    dash_duo.find_element(f"#{ids.ROVER_SWITCH} input[value='{rover}']").click()


def test_switching_rovers_changes_everything_without_a_reload(dash_duo, start, both, msl_sols):
    start(both)
    dash_duo.wait_for_text_to_equal(LATEST, f"sol {M20_SOLS[1]}", timeout=20)
    assert slider(dash_duo) == M20_SOLS
    assert "Perseverance" in dash_duo.find_element(f"#{ids.TAGLINE}").text
    dash_duo.driver.execute_script(MARK_PAGE)

    choose(dash_duo, "curiosity")
    first, last = msl_sols
    dash_duo.wait_for_text_to_equal(LATEST, f"sol {last}", timeout=20)
    wait_until(lambda: slider(dash_duo) == (first, last), what="Curiosity's range on the slider")
    wait_until(
        lambda: f"sols {first}" in map_title(dash_duo), what=f"the map redrawn for Curiosity: {map_title(dash_duo)!r}"
    )
    assert "Curiosity" in dash_duo.find_element(f"#{ids.TAGLINE}").text
    assert "Gale crater" in dash_duo.find_element(f"#{ids.TAGLINE}").text
    assert "rover=curiosity" in dash_duo.driver.current_url
    csv = dash_duo.find_element(f"#{ids.DOWNLOAD_CSV}").get_attribute("href")
    assert f"/curiosity/waypoints.csv?sol_min={first}&sol_max={last}" in csv
    assert requests.get(csv, timeout=10).text.count("\n") > 2  # the link serves Curiosity's rows
    # every chart is redrawn for Curiosity's sols (each title names its range)
    for chart in BUILDERS:
        wait_until(
            lambda chart=chart: f"sols {first}–{last}" in dash_duo.driver.execute_script(TITLE_JS, ids.GRAPHS[chart]),
            what=f"{chart} redrawn for Curiosity",
        )
    # the around card has no sample tubes for Curiosity (nor Ingenuity)
    assert "Sample tubes" not in dash_duo.find_element(f"#{ids.AROUND}").text
    assert dash_duo.driver.execute_script("return window.samePage") == "yes"  # no reload

    choose(dash_duo, "perseverance")
    dash_duo.wait_for_text_to_equal(LATEST, f"sol {M20_SOLS[1]}", timeout=20)
    wait_until(lambda: slider(dash_duo) == M20_SOLS, what="Perseverance's range again")
    assert "rover=" not in dash_duo.driver.current_url
    assert dash_duo.driver.execute_script("return window.samePage") == "yes"
    assert dash_duo.get_logs() == []


def test_a_shared_link_opens_on_the_same_rover_and_range(dash_duo, start, both, msl_sols):
    first, last = msl_sols
    a, b = first + 1, last - 1
    start(both, f"/?sol_min={a}&sol_max={b}&rover=curiosity")
    dash_duo.wait_for_text_to_equal(LATEST, f"sol {last}", timeout=20)
    wait_until(lambda: slider(dash_duo) == (a, b), what="the link's range")
    checked = dash_duo.find_element(f"#{ids.ROVER_SWITCH} input:checked").get_attribute("value")
    assert checked == "curiosity"
    wait_until(lambda: f"sols {a}" in map_title(dash_duo), what="the map for the link's range")
    assert dash_duo.get_logs() == []


def test_a_curiosity_chart_is_exported(dash_duo, start, both, msl_sols, start_worker):
    start_worker()
    start(both, "/?rover=curiosity")
    first, last = msl_sols
    dash_duo.wait_for_text_to_equal(LATEST, f"sol {last}", timeout=20)
    button = dash_duo.driver.find_element(
        "css selector", f'[id=\'{{"chart":"orientation","type":"{ids.EXPORT_BUTTON}"}}\']'
    )
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    links = f"#{ids.EXPORT_LIST} a.export-download"
    wait_until(
        lambda: (
            dash_duo.driver.find_elements("css selector", links)
            or "failed" in dash_duo.find_element(f"#{ids.EXPORT_LIST}").text
        ),
        timeout=120,
        what="the export finished",
    )
    assert "Curiosity: Orientation PNG" in dash_duo.find_element(f"#{ids.EXPORT_LIST}").text
    link = dash_duo.find_element(links)
    assert link.get_attribute("download") == f"curiosity-orientation-sols-{first}-{last}.png"
    got = requests.get(link.get_attribute("href"), timeout=10)
    assert got.status_code == 200 and got.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert dash_duo.get_logs() == []


def test_a_rover_without_data_says_so_and_the_switch_stays(dash_duo, start, store, both):
    load(store, both)  # Perseverance only
    start(both)
    dash_duo.wait_for_text_to_equal(LATEST, f"sol {M20_SOLS[1]}", timeout=20)
    choose(dash_duo, "curiosity")
    dash_duo.wait_for_element(f"#{ids.EMPTY_STATE}:not([hidden])", timeout=20)
    sources = dash_duo.find_element(f"#{ids.SOURCES}").text
    assert "msl_waypoints.json" in sources and "Curiosity" in sources
    assert dash_duo.find_element(f"#{ids.CHARTS}").get_attribute("hidden") is not None
    choose(dash_duo, "perseverance")  # the switch is in the masthead: still there
    dash_duo.wait_for_text_to_equal(LATEST, f"sol {M20_SOLS[1]}", timeout=20)
    wait_until(lambda: dash_duo.find_element(f"#{ids.CHARTS}").get_attribute("hidden") is None, what="charts back")
    assert dash_duo.get_logs() == []


READOUT_SOL_JS = "const out = document.getElementById(arguments[0]); return out ? out.getAttribute('data-sol') : null;"
TRACES_JS = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
return gd && gd._fullData ? gd._fullData.map(t => t.name + ':' + t._length) : null;
"""


def test_the_replay_steps_through_the_rover_shown(dash_duo, start, both, msl_sols):
    """Frames fetched for one rover are never shown for another: after a switch, Step
    fetches the new rover's frames (its first sol)."""
    start(both)
    dash_duo.wait_for_text_to_equal(LATEST, f"sol {M20_SOLS[1]}", timeout=20)
    step = dash_duo.find_element(f"#{ids.REPLAY_STEP}")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", step)
    step.click()
    wait_until(
        lambda: dash_duo.driver.execute_script(READOUT_SOL_JS, ids.REPLAY_READOUT) == str(M20_SOLS[0]),
        what="Perseverance's first frame",
    )
    choose(dash_duo, "curiosity")
    dash_duo.wait_for_text_to_equal(LATEST, f"sol {msl_sols[1]}", timeout=20)
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", step)
    step.click()
    wait_until(
        lambda: dash_duo.driver.execute_script(READOUT_SOL_JS, ids.REPLAY_READOUT) == str(msl_sols[0]),
        what="Curiosity's first frame",
    )
    assert dash_duo.get_logs() == []


def test_both_rovers_on_one_chart(dash_duo, start, both, msl_sols):
    start(both)
    dash_duo.wait_for_text_to_equal(LATEST, f"sol {M20_SOLS[1]}", timeout=20)
    assert dash_duo.find_element(f"#{ids.COMPARE_BODY}").get_attribute("hidden") is not None  # drawn only when asked
    box = dash_duo.find_element(f"#{ids.COMPARE} input")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
    box.click()
    wait_until(lambda: dash_duo.driver.execute_script(TRACES_JS, ids.COMPARE_CHART), what="the comparison drawn")
    names = dash_duo.driver.execute_script(TRACES_JS, ids.COMPARE_CHART)
    # odometry and elevation change of each rover, a point per sol with a localization
    assert [n.split(":")[0] for n in names] == ["Perseverance"] * 2 + ["Curiosity"] * 2
    assert all(int(n.split(":")[1]) > 1 for n in names)
    box.click()
    wait_until(
        lambda: dash_duo.find_element(f"#{ids.COMPARE_BODY}").get_attribute("hidden") is not None, what="hidden again"
    )
    assert dash_duo.get_logs() == []


def test_a_broken_curiosity_source_leaves_perseverance_served(dash_duo, start, store, both):
    """Curiosity's source fails: Perseverance is served as ever, and the page says which
    rover's data is missing and why, on either rover."""
    load(store, both)
    broken = both.replace(msl_waypoints_source=str(FIXTURES / "bad_html.html"))
    curiosity = DatasetStore.of(store.redis, broken.replace(key_prefix=store.prefix), "curiosity")
    with pytest.raises(LoadError):
        load(curiosity, broken.for_rover("curiosity"))
    start(both)
    dash_duo.wait_for_text_to_equal(LATEST, f"sol {M20_SOLS[1]}", timeout=20)
    notes = dash_duo.find_element(f"#{ids.ROVER_NOTES}").text
    assert "Curiosity's data is missing: its load failed (" in notes and "HTML" in notes, notes
    choose(dash_duo, "curiosity")
    dash_duo.wait_for_element(f"#{ids.EMPTY_STATE}:not([hidden])", timeout=20)
    assert "Curiosity's data is missing" in dash_duo.find_element(f"#{ids.ROVER_NOTES}").text
    assert dash_duo.get_logs() == []
