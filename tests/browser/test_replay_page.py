"""In the browser: the replay of the drive (assets/replay.js). Play moves the rover along
its track through the range and stops at its end; Pause leaves the range's end at the sol
shown (slider, URL); the keyboard works the buttons; with reduced motion each press steps."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.keys import Keys

from dashboard.data.load import load
from dashboard.page import ids
from dashboard.page.ranges import sol_bounds
from dashboard.page.replay import page_replay
from tests.browser.test_drive import AXE, serious_violations, wait_until
from tests.helpers import FIXTURES, SHARED_DATA

#: what the replay shows: the readout's sol, the frame's index, the rover's marker (from
#: the plot's data), Play's words and state, the status line, the range's typed end
STATE_JS = """
const out = document.getElementById(arguments[0]), gd = document.getElementById(arguments[1]);
const play = document.getElementById(arguments[2]);
let rover = null;
if (gd && gd.data) {
  const t = gd.data.find(t => t.name === 'rover');
  if (t && t.x.length && !Number.isNaN(t.x[0])) rover = [t.x[0], t.y[0]];
}
return {sol: out.getAttribute('data-sol'), text: out.textContent, rover: rover,
        play: play.textContent, pressed: play.getAttribute('aria-pressed'),
        status: document.getElementById(arguments[3]).textContent,
        end: document.getElementById(arguments[4]).value};
"""


def state(dash_duo) -> dict:
    got = dash_duo.driver.execute_script(
        STATE_JS, ids.REPLAY_READOUT, ids.REPLAY_MOVING, ids.REPLAY_PLAY, ids.REPLAY_STATUS, ids.SOL_MAX
    )
    got["sol"] = int(got["sol"]) if got["sol"] else None
    return got


#: from now on, every sol the readout shows and every place the rover's marker is drawn at
RECORD_JS = """
window.__replaySols = []; window.__replayRovers = [];
const out = document.getElementById(arguments[0]);
new MutationObserver(() => {
  window.__replaySols.push(Number(out.getAttribute('data-sol')));
  // the frame before's marker: the readout changes just before its frame is drawn
  const gd = document.getElementById(arguments[1]), t = gd.data && gd.data.find(t => t.name === 'rover');
  if (t && t.x.length && !Number.isNaN(t.x[0])) window.__replayRovers.push(t.x[0] + ',' + t.y[0]);
}).observe(out, {attributes: true, attributeFilter: ['data-sol']});
"""


def record(dash_duo) -> None:
    dash_duo.driver.execute_script(RECORD_JS, ids.REPLAY_READOUT, ids.REPLAY_MOVING)


def recorded(dash_duo) -> tuple[list[int], list]:
    sols = dash_duo.driver.execute_script("return window.__replaySols")
    distinct = [s for i, s in enumerate(sols) if i == 0 or sols[i - 1] != s]
    return distinct, sorted(set(dash_duo.driver.execute_script("return window.__replayRovers")))


def slider_ends(dash_duo) -> list[str]:
    """The range slider's two handles' values, as it tells assistive technology."""
    return dash_duo.driver.execute_script(
        "return [...document.querySelectorAll('#' + arguments[0] + ' [role=slider]')]"
        ".map(h => h.getAttribute('aria-valuenow'));",
        ids.SOL_RANGE,
    )


def layer_layouts(dash_duo) -> list:
    """Each replay layer's size, plot area and axis ranges."""
    return dash_duo.driver.execute_script(
        "return [...arguments].map(id => { const f = document.getElementById(id)._fullLayout;"
        " return [f.width, f.height, f._size, f.xaxis.range, f.yaxis.range]; });",
        ids.REPLAY_STILL,
        ids.REPLAY_SETTLED,
        ids.REPLAY_MOVING,
    )


def open_range(dash_duo, start, settings, a: int, b: int) -> None:
    start(settings, f"/?sol_min={a}&sol_max={b}")
    wait_until(lambda: dash_duo.find_element(f"#{ids.SOL_MAX}").get_attribute("value") == str(b), what="range")
    dash_duo.wait_for_element(f"#{ids.REPLAY_PLAY}")


def choose_speed(dash_duo, sols_a_second: int) -> None:
    dash_duo.find_element(f"#{ids.REPLAY_SPEED} input[value='{sols_a_second}']").click()


def a_range(dataset, span: int) -> tuple[int, int]:
    """A range of ``span`` sols (NASA's files have 1,800; the fixtures a few)."""
    lo, hi = sol_bounds(dataset)
    if hi - lo < span:
        pytest.skip(f"a replay of {span} sols needs NASA's files (tests.helpers.SHARED_DATA)")
    a = min(lo + 100, max(lo, hi - span))
    return a, min(hi, a + span)


def test_play_moves_the_rover_through_the_range_and_stops_at_its_end(dash_duo, start, data_settings, loaded):
    a, b = a_range(loaded, 150)
    open_range(dash_duo, start, data_settings, a, b)
    choose_speed(dash_duo, 30)  # 5 s of play: frames in between even when drawing is slow (a busy CI)
    record(dash_duo)
    dash_duo.find_element(f"#{ids.REPLAY_PLAY}").click()
    wait_until(lambda: state(dash_duo)["status"].startswith("Playing from sol"), timeout=30, what="frames")
    began = time.monotonic()  # the frames have come: from now on the browser alone draws
    wait_until(lambda: "ended" in state(dash_duo)["status"], timeout=60, what="the end")
    played = time.monotonic() - began
    now = state(dash_duo)
    stats = dash_duo.driver.execute_script("return window.dash_clientside.ptReplay.stats()")
    print(
        f"\nreplay of sols {a}-{b} at 30 sols/s: {stats['drawn']} frames drawn in {played:.2f} s "
        f"({stats['drawn'] / played:.1f} frames/s), {stats['ms'] / max(stats['drawn'], 1):.0f} ms a frame"
    )
    seen, rovers = recorded(dash_duo)
    assert "ended at sol" in now["status"], now
    assert seen[0] == a and seen[-1] == b and seen == sorted(seen), seen  # forward through the range
    assert len(seen) >= 3 and len(rovers) >= 3, (seen, rovers)  # the marker moved on the way
    assert now["play"] == "Play" and now["pressed"] == "false"
    assert f"Sol {b} · " in now["text"] and "odometry" in now["text"] and "elevation" in now["text"]
    # the range stays as it was: its end is the sol shown
    wait_until(lambda: state(dash_duo)["end"] == str(b), what="range end")
    assert f"sol_max={b}" in dash_duo.driver.current_url and f"sol_min={a}" in dash_duo.driver.current_url
    # the moving layers lie exactly over the still map (same plot area, same ranges), and
    # follow it when the window's width changes
    layers = layer_layouts(dash_duo)
    assert layers[0] == layers[1] == layers[2]
    dash_duo.driver.set_window_size(layers[0][0] - 200, 1000)
    wait_until(
        lambda: (now := layer_layouts(dash_duo))[0][0] != layers[0][0] and now[0] == now[1] == now[2],
        what="the layers at the new width",
    )
    # the frames drawn are the ones sent: the marker is where the last frame puts the rover
    assert state(dash_duo)["rover"] == pytest.approx(page_replay(loaded, a, b)["frames"][-1]["rover"])


def test_the_keyboard_plays_and_pauses_and_pause_leaves_the_range_at_the_sol_shown(
    dash_duo, start, data_settings, loaded
):
    a, b = a_range(loaded, 400)
    open_range(dash_duo, start, data_settings, a, b)
    choose_speed(dash_duo, 10)
    play = dash_duo.find_element(f"#{ids.REPLAY_PLAY}")
    assert play.get_attribute("aria-pressed") == "false" and play.tag_name == "button"
    play.send_keys(Keys.SPACE)
    wait_until(lambda: state(dash_duo)["pressed"] == "true", what="playing")
    wait_until(lambda: (state(dash_duo)["sol"] or a) >= a + 5, timeout=30, what="moving")
    play.send_keys(Keys.ENTER)  # pause
    wait_until(lambda: "Paused at sol" in state(dash_duo)["status"], what="paused")
    shown = state(dash_duo)["sol"]
    assert a + 5 <= shown < b and state(dash_duo)["pressed"] == "false"
    assert f"Paused at sol {shown} " in state(dash_duo)["status"]
    # the range's end (typed box, URL) follows the slider to the sol shown; it stays there
    wait_until(lambda: state(dash_duo)["end"] == str(shown), what="range end at the sol shown")
    wait_until(lambda: f"sol_max={shown}" in dash_duo.driver.current_url, what="URL")
    assert slider_ends(dash_duo) == [str(a), str(shown)]
    assert f"sol_min={a}" in dash_duo.driver.current_url and state(dash_duo)["sol"] == shown
    # Play again goes on from there, with the frames already held
    drawn = dash_duo.driver.execute_script("return window.dash_clientside.ptReplay.stats().drawn")
    play.send_keys(Keys.SPACE)
    wait_until(lambda: (state(dash_duo)["sol"] or 0) > shown, timeout=30, what="going on")
    assert state(dash_duo)["sol"] < shown + 100  # from the sol shown, not from the start
    play.send_keys(Keys.ENTER)
    wait_until(lambda: "Paused at sol" in state(dash_duo)["status"] and state(dash_duo)["sol"] > shown)
    assert dash_duo.driver.execute_script("return window.dash_clientside.ptReplay.stats().drawn") > drawn
    if AXE.exists():  # `make axe`; the replay drawn, paused
        assert serious_violations(dash_duo) == []
    assert dash_duo.get_logs() == []


def test_with_reduced_motion_each_press_steps(dash_duo, start, data_settings, loaded):
    dash_duo.driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]}
    )
    a, b = a_range(loaded, 70)
    open_range(dash_duo, start, data_settings, a, b)
    play = dash_duo.find_element(f"#{ids.REPLAY_PLAY}")
    wait_until(lambda: play.text == "Step", what="Play says Step")
    assert play.get_attribute("aria-pressed") is None
    play.send_keys(Keys.SPACE)  # the first press shows the first frame
    wait_until(lambda: state(dash_duo)["status"].startswith(f"Stepped to sol {a} "), what="first step")
    wait_until(lambda: state(dash_duo)["end"] == str(a), what="range end")
    play.send_keys(Keys.ENTER)  # then one second of the speed (30 sols) a press, at once
    wait_until(lambda: state(dash_duo)["status"].startswith(f"Stepped to sol {a + 30} "), what="second step")
    wait_until(lambda: state(dash_duo)["end"] == str(a + 30), what="range end")
    assert state(dash_duo)["sol"] == a + 30  # it did not go on by itself
    dash_duo.find_element(f"#{ids.REPLAY_STEP}").click()
    wait_until(lambda: state(dash_duo)["status"].startswith(f"Stepped to sol {a + 60} "), what="Step button")
    dash_duo.find_element(f"#{ids.REPLAY_STEP}").click()
    wait_until(lambda: state(dash_duo)["status"].startswith(f"The replay ended at sol {b} "), what="the end")
    assert b == a + 70
    assert dash_duo.get_logs() == []


def test_the_replay_on_the_page_draws_the_relief_from_the_app(dash_duo, start, data_settings, store):
    """The page's replay refers to the relief by the app's URL (the browser can fetch it),
    with Ingenuity's flights and the sample sites drawn whole under the rover."""
    terrain = SHARED_DATA / "M20_mola128_jezero.img"
    if not terrain.exists() or data_settings.waypoints_source.startswith(str(FIXTURES)):
        pytest.skip("NASA's files and the MOLA crop are not in the shared data")
    settings = data_settings.replace(
        terrain_source=str(terrain),
        heli_source=str(SHARED_DATA / "m20_heli_waypoints.json"),
        samples_source=str(SHARED_DATA / "M20_SAMPLE_v3.json"),
    )
    load(store, settings)
    a, b = a_range(store.current(), 60)
    open_range(dash_duo, start, settings, a, b)
    choose_speed(dash_duo, 100)
    dash_duo.find_element(f"#{ids.REPLAY_PLAY}").click()
    wait_until(lambda: "ended" in state(dash_duo)["status"], timeout=60, what="the end")
    source = dash_duo.driver.execute_script(
        "return document.getElementById(arguments[0])._fullLayout.images[0].source;", ids.REPLAY_STILL
    )
    assert source.startswith("/terrain/")
    fetched = dash_duo.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.blob().then(b => done([r.status, b.type, b.size])));",
        source,
    )
    assert fetched[0] == 200 and fetched[1] == "image/png" and fetched[2] > 1000
    groups = dash_duo.driver.execute_script(
        "return document.getElementById(arguments[0]).data.map(t => t.legendgroup || null);", ids.REPLAY_STILL
    )
    assert groups.count("ingenuity") == 3 and groups.count("samples") == 1
    assert dash_duo.get_logs() == []
