"""Mars around the rover, in headless Chromium: the relief under the map, the flights and
sample sites on it with their legend entries (a click on one hides the layer), the
regional view, Ingenuity's card and the tubes filled by the range's end."""

from __future__ import annotations

import time

import pytest

from dashboard.app import create_app
from dashboard.data.ingenuity import flight_summary
from dashboard.data.load import load
from dashboard.data.samples import tubes_filled
from dashboard.figures.relief import relief
from dashboard.figures.terrain import relief_url
from dashboard.page import ids
from dashboard.page.mars import TUBES_LABEL
from dashboard.page.ranges import sol_bounds
from tests.helpers import FIXTURES, SHARED_DATA, free_port

#: (flights, samples, terrain) files: NASA's in the shared data folder, the fixtures' own
SHARED_FILES = ("m20_heli_waypoints.json", "M20_SAMPLE_v3.json", "M20_mola128_jezero.img")
FIXTURE_FILES = ("heli_flights.json", "sample_sites.json", "terrain_tiny.img")


@pytest.fixture
def mars(dash_duo, store, data_settings):
    """The page on a dataset loaded by the loader with the context layers (NASA's files when
    the rover's are NASA's too, else the fixtures), served and opened; yields the dataset
    the page shows."""
    real = (SHARED_DATA / SHARED_FILES[0]).exists() and "shared" in data_settings.waypoints_source
    folder, names = (SHARED_DATA, SHARED_FILES) if real else (FIXTURES, FIXTURE_FILES)
    heli, samples, terrain = (str(folder / name) for name in names)
    settings = data_settings.replace(heli_source=heli, samples_source=samples, terrain_source=terrain)
    load(store, settings)
    dash_duo.start_server(create_app(settings, store), port=free_port())
    dash_duo.wait_for_element(f"#{ids.SOL_RANGE_LABEL}", timeout=10)
    dataset = store.current()
    assert dataset.flights is not None and dataset.samples is not None and dataset.terrain is not None
    return dataset


def layers_in_view(dataset) -> None:
    """Skip unless the page's range holds flights and sample tubes: the fixtures' flights
    (sols 58..91) and tubes (164..337) lie past the fixture rover's sols (13..19), which the
    page's range is; NASA's files (tests.helpers.SHARED_DATA) hold both in range."""
    lo, hi = sol_bounds(dataset)
    for layer in (dataset.flights, dataset.samples):
        if not layer["sol"].between(lo, hi).any():
            pytest.skip(f"no flight or tube in the page's sols {lo}..{hi}: these checks need NASA's files")


TRACES_JS = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!gd || !gd._fullData) return null;
return gd._fullData.map(t => ({name: t.name, group: t.legendgroup, visible: t.visible, legend: t.showlegend}));
"""


def traces(dash_duo, graph_id):
    return dash_duo.driver.execute_script(TRACES_JS, graph_id)


def wait_traces(dash_duo, graph_id, predicate, timeout=15):
    end = time.monotonic() + timeout
    got = None
    while time.monotonic() < end:
        got = traces(dash_duo, graph_id)
        if got and predicate(got):
            return got
        time.sleep(0.1)
    raise AssertionError(f"{graph_id}: traces {got}")


def test_regional_view_ingenuity_card_and_tubes(dash_duo, mars):
    regional = wait_traces(dash_duo, ids.REGIONAL, lambda t: any(x["name"] == "drive path" for x in t))
    names = [t["name"] for t in regional]
    assert names[0] == "terrain heights" and names[-1].startswith("rover (sol ")
    assert any(n.startswith("Ingenuity: ") for n in names) and any(n.startswith("samples: ") for n in names)
    # the relief is the regional view's layout image, at its fingerprinted (immutable) URL
    url = relief_url(relief(mars.terrain, mars.memo))
    hrefs = dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#' + arguments[0] + ' image')).map(i => i.getAttribute('href'));",
        ids.REGIONAL,
    )
    assert url in hrefs
    # Ingenuity's card and the tubes filled by the range's end
    summary = flight_summary(mars.flights)
    card = dash_duo.find_element(f"#{ids.INGENUITY}").text
    assert f"{summary['flights']}, sols {summary['first_sol']}–{summary['last_sol']}" in card
    assert f"{summary['distance_km']:.1f} km" in card and f"sol {summary['last_sol']}" in card
    hi = sol_bounds(mars)[1]
    tubes = dash_duo.find_element(f"#{ids.now_value(TUBES_LABEL)}").text
    assert tubes == f"{tubes_filled(mars.samples, hi)} of {len(mars.samples)} filled by sol {hi}"
    assert dash_duo.get_logs() == []


CLICK_LEGEND_JS = """
const items = Array.from(document.querySelectorAll('#' + arguments[0] + ' .legend .traces'));
const item = items.find(i => (i.querySelector('.legendtext') || {}).textContent.startsWith(arguments[1]));
if (!item) return false;
const toggle = item.querySelector('.legendtoggle');
toggle.dispatchEvent(new MouseEvent('mousedown', {bubbles: true}));
toggle.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
return true;
"""


def click_legend(dash_duo, graph_id, text):
    """A click on a legend entry, as plotly.js listens for it (mousedown, mouseup)."""
    assert dash_duo.driver.execute_script(CLICK_LEGEND_JS, graph_id, text), f"no legend entry {text!r}"


def legend_toggles_its_group(dash_duo, graph_id, entry, group):
    """A click on ``entry`` hides every trace of ``group``; a second click shows them again."""
    in_group = lambda traces: [t for t in traces if t["group"] == group]  # noqa: E731
    # drawn and shown (the graph may still be taking the range's figure on a busy machine)
    wait_traces(dash_duo, graph_id, lambda t: in_group(t) and all(x["visible"] is True for x in in_group(t)))
    click_legend(dash_duo, graph_id, entry)
    hidden = wait_traces(dash_duo, graph_id, lambda t: all(x["visible"] == "legendonly" for x in in_group(t)))
    assert len(in_group(hidden)) >= 1
    assert all(t["visible"] is True for t in hidden if t["group"] != group)  # the other layers stay
    time.sleep(0.5)  # plotly.js tells a second click apart from a double click
    click_legend(dash_duo, graph_id, entry)
    wait_traces(dash_duo, graph_id, lambda t: all(x["visible"] is True for x in in_group(t)))


def test_layers_toggle_from_the_legend(dash_duo, mars):
    layers_in_view(mars)
    wait_traces(dash_duo, ids.REGIONAL, lambda t: any(x["group"] == "ingenuity" for x in t))
    legend_toggles_its_group(dash_duo, ids.REGIONAL, "Ingenuity: ", "ingenuity")
    legend_toggles_its_group(dash_duo, ids.REGIONAL, "samples: ", "samples")
    # the sample sols on the charts by sol: one legend entry for all the marks
    marks = dash_duo.driver.execute_script(
        "const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');"
        "return gd._fullLayout.shapes.filter(s => s.legendgroup === 'samples').length;",
        ids.GRAPHS["orientation"],
    )
    lo, hi = sol_bounds(mars)
    sols = mars.samples["sol"]
    assert marks == sols[(sols >= lo) & (sols <= hi)].nunique()
    assert dash_duo.get_logs() == []


def test_map_draws_the_relief_and_the_layers(dash_duo, mars):
    """The traverse map's own relief and layers (drawn by the map builder when the dataset
    has them): the relief as an <image> at its fingerprinted URL, the flights and the
    sample sites with their legend entries, each toggled by a click on it."""
    layers_in_view(mars)
    graph = ids.GRAPHS["map"]
    wait_traces(dash_duo, graph, lambda t: len(t) > 0)
    groups = {t["group"] for t in traces(dash_duo, graph)}
    assert {"ingenuity", "samples"} <= groups, groups
    url = relief_url(relief(mars.terrain, mars.memo))
    hrefs = dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#' + arguments[0] + ' image')).map(i => i.getAttribute('href'));",
        graph,
    )
    assert url in hrefs
    legend = [t["name"] for t in traces(dash_duo, graph) if t["legend"]]
    assert any(n.startswith("Ingenuity") for n in legend) and any(n.startswith("samples") for n in legend)
    entry = next(n for n in legend if n.startswith("Ingenuity"))
    legend_toggles_its_group(dash_duo, graph, entry[:10], "ingenuity")
    assert dash_duo.get_logs() == []
