"""Mars around the rover without a browser: the elevation charts with the terrain (the
ground's profile, the climb, junk elevations left out), the sample sols on the charts by
sol, the regional view for a range, what the page says (Ingenuity's card, the tubes, the
missing layers), the page's first view and its callback, and the plotly.js bundle."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import flask
import numpy as np
import plotly.graph_objects as go
import pytest
import redis
from dash import no_update

from dashboard.data.ingenuity import parse_flights
from dashboard.data.megdr import PPD
from dashboard.data.samples import parse_samples
from dashboard.data.terrain import parse_crop, sample
from dashboard.figures import BUILDERS, Frames, View, build, values
from dashboard.figures.charts import SAMPLE_MARK_NAME
from dashboard.figures.common import MARKER_BUDGET
from dashboard.figures.profile import JUNK_M, climb_text, junk, metres
from dashboard.figures.regional import position_at_end, regional
from dashboard.figures.relief import relief
from dashboard.figures.terrain import IMAGE_INLINE, IMAGE_URL, relief_source, relief_url
from dashboard.page import ids, layout_cache, vendor
from dashboard.page.callbacks.mars import around, first_call_unchanged
from dashboard.page.first_view import first_view, page_token, search_of
from dashboard.page.mars import ingenuity_items, layer_notes, tubes_text
from tests.helpers import FIXTURES
from tests.unit.page_fixtures import small_dataset

#: a 3 x 3 pixel crop around the fixtures' waypoints (77.45 E, 18.44 N), sloping up to the east
WEST, SOUTH = 9913 / PPD, 2360 / PPD


def crop_here(heights=None):
    grid = np.array(heights if heights is not None else [[-2580, -2570, -2560]] * 3, dtype=">i2")
    rows, cols = grid.shape
    bbox = {"minLon": WEST, "minLat": SOUTH, "maxLon": WEST + cols / PPD, "maxLat": SOUTH + rows / PPD}
    return parse_crop(grid.tobytes(), {"width": cols, "height": rows, "bbox": bbox})


@pytest.fixture(scope="module")
def layers():
    return {
        "flights": parse_flights((FIXTURES / "heli_flights.json").read_bytes()).frame,
        "samples": parse_samples((FIXTURES / "sample_sites.json").read_bytes()).frame,
        "terrain": crop_here(),
    }


@pytest.fixture(scope="module")
def dataset(layers):
    return dataclasses.replace(small_dataset(), **layers)


def with_junk(ds, row: int, elev: float = 0.000022):
    wp = ds.waypoints.copy()
    wp.loc[row, "elev_geoid"] = elev
    return dataclasses.replace(ds, waypoints=wp)


# ---------------------------------------------------------------------------------------
# the elevation charts


def test_terrain_profile_under_the_elevation_by_distance(dataset):
    fig = build("elevation_distance", dataset, View.of(13, 18))
    go.Figure(fig)
    floor, ground = fig["data"][:2]
    assert ground["name"].startswith("terrain under the track") and ground["fill"] == "tonexty"
    assert floor["showlegend"] is False and floor["hoverinfo"] == "skip"
    xs, ys = values(ground["x"]), values(ground["y"])
    assert np.all(np.diff(xs) >= 0)  # by distance driven
    wp = dataset.waypoints
    want = sample(dataset.terrain, wp["lon"], wp["lat"])
    assert ys.min() == pytest.approx(want.min(), abs=0.01) and ys.max() == pytest.approx(want.max(), abs=0.01)
    assert values(floor["y"]).max() < ys.min()  # the area reaches below the profile
    # the rover's own elevations are drawn over it, and the climb is said in words
    assert [t["name"] for t in fig["data"][2:]][:1] == ["elevation"]
    (words,) = [a["text"] for a in fig["layout"]["annotations"]]
    assert words == "From −2570 m to −2568 m: a net climb of 2 m"


def test_no_profile_without_terrain(dataset):
    fig = build("elevation_distance", dataclasses.replace(dataset, terrain=None), View.of(13, 18))
    assert not any(t["name"].startswith("terrain") for t in fig["data"])
    assert fig["layout"]["annotations"][0]["text"].startswith("From −2570 m")  # the climb needs no terrain
    plain = build(
        "elevation_distance", Frames(dataset.waypoints, dataset.traverse, dataset.traverse_points), View.of(13, 18)
    )
    assert [t["name"] for t in plain["data"]][0] == "elevation"


def test_climb_words():
    assert climb_text(-2569.91, -1969.77) == "From −2570 m to −1970 m: a net climb of 600 m"
    assert climb_text(-10.2, -40.4) == "From −10 m to −40 m: a net descent of 30 m"
    assert climb_text(3.0, 3.4) == "From 3 m to 3 m: level"
    assert metres(-0.4) == "0 m" and metres(12.6) == "13 m"


def test_junk_rule():
    crop = crop_here()
    lon, lat = np.full(4, WEST + 1.5 / PPD), np.full(4, SOUTH + 1.5 / PPD)  # the middle pixel: -2570 m
    elev = [-2569.0, 0.00002, -2570.0 + JUNK_M + 1, np.nan]
    assert junk(elev, lon, lat, crop).tolist() == [False, True, True, False]  # NaN is already missing
    # without terrain: a zero where the other elevations are far from zero; never a real height
    assert junk([-2569.0, 0.0, -2400.0], [0] * 3, [0] * 3, None).tolist() == [False, True, False]
    assert junk([12.0, 0.0, -20.0], [0] * 3, [0] * 3, None).tolist() == [False, False, False]  # near sea level
    # outside the crop the median stands in for the ground
    assert junk([0.0, -2500.0, -2501.0], [10.0] * 3, [10.0] * 3, crop).tolist() == [True, False, False]


@pytest.mark.parametrize("terrain", [True, False])
def test_a_junk_elevation_is_not_drawn(dataset, terrain):
    ds = with_junk(dataset if terrain else dataclasses.replace(dataset, terrain=None), 3)
    for chart in ("elevation", "elevation_distance"):
        fig = build(chart, ds, View.of(13, 18))
        rover = next(t for t in fig["data"] if t["name"] == "elevation")
        ys = values(rover["y"])
        assert len(ys) == 7 and ys.min() > -2570 and ys.max() < -2568  # the 0 m row left out, no spike
    fig = build("elevation_distance", ds, View.of(13, 18))
    assert fig["layout"]["annotations"][0]["text"] == "From −2570 m to −2568 m: a net climb of 2 m"


def test_many_markers_are_drawn_at_most_a_budget_at_a_time(dataset):
    wp = dataset.waypoints
    many = wp.loc[wp.index.repeat(60)].assign(sol=lambda f: np.arange(len(f)) // 10)
    fig = build("orientation", Frames(many), View.of(0, 1000))
    assert fig["data"][0]["type"] == "scatter" and fig["data"][0]["marker"]["maxdisplayed"] == MARKER_BUDGET
    few = build("orientation", dataset, View.of(13, 18))
    assert "maxdisplayed" not in few["data"][0]["marker"]
    go.Figure(fig)


# ---------------------------------------------------------------------------------------
# sample sols on the charts by sol


@pytest.mark.parametrize("chart", ["orientation", "position", "elevation"])
def test_sample_sols_marked_on_the_charts_by_sol(dataset, chart):
    fig = build(chart, dataset, View.of(13, 300))
    go.Figure(fig)
    marks = [s for s in fig["layout"]["shapes"] if s.get("legendgroup") == "samples"]
    assert [m["x0"] for m in marks] == [164, 194, 196, 262, 271, 298]
    assert [m["showlegend"] for m in marks] == [True] + [False] * 5  # one legend entry shows or hides them all
    assert marks[0]["name"] == SAMPLE_MARK_NAME and fig["layout"]["showlegend"] is True
    none = build(chart, dataclasses.replace(dataset, samples=None), View.of(13, 300))
    assert not [s for s in none["layout"].get("shapes", []) if s.get("legendgroup") == "samples"]


# ---------------------------------------------------------------------------------------
# the regional view


def test_regional_view_for_a_range(dataset):
    fig = regional(dataset, View.of(13, 18), compact=True)
    go.Figure(fig)
    assert [t["name"] for t in fig["data"]] == [
        "terrain heights",
        "drive path",
        "Ingenuity: 0 flights",  # the first flight was on sol 58
        "Ingenuity flight",
        "Ingenuity airfield",
        "samples: 0 tubes at 0 sites",
        "rover (sol 18)",
    ]
    assert fig["layout"]["images"][0]["source"] == relief_url(relief(dataset.terrain))
    assert fig["layout"]["xaxis"]["title"] == {}  # compact: no axis titles
    assert fig["data"][0]["marker"]["colorbar"]["orientation"] == "h"  # under the map in a narrow column
    full = [t["name"] for t in regional(dataset, View.of(13, 400))["data"]]
    assert "Ingenuity: 4 flights" in full and "samples: 7 tubes at 5 sites" in full


def test_relief_source_is_chosen_in_one_place(dataset):
    shaded = relief(dataset.terrain, dataset.memo)
    assert (
        relief_source(dataset.terrain, dataset.memo, IMAGE_URL)[1]
        == f"/terrain/{shaded.fingerprint}.png"
        == relief_url(shaded)
    )
    assert relief_source(dataset.terrain, dataset.memo, IMAGE_INLINE)[1].startswith("data:image/png;base64,")
    inline = regional(dataset, View.of(13, 18), image_source=IMAGE_INLINE)
    assert inline["layout"]["images"][0]["source"].startswith("data:image/png;base64,")


def test_regional_view_without_terrain_says_so(dataset):
    fig = regional(dataclasses.replace(dataset, terrain=None), View.of(13, 18))
    assert fig["data"] == [] and "No terrain loaded" in fig["layout"]["annotations"][0]["text"]


def test_position_at_the_end_of_the_range(dataset):
    assert position_at_end(dataset, View.of(13, 18))[2] == 18
    lon, lat, sol = position_at_end(dataset, View.of(13, 15))
    assert sol == 15 and (lon, lat) == (77.4512, 18.4441)
    assert position_at_end(dataset, View.of(500, 600)) is None


# ---------------------------------------------------------------------------------------
# what the page says


def test_ingenuity_card(dataset):
    items = dict(ingenuity_items(dataset.flights))
    assert items["Flights"] == "4, sols 58–91"
    assert items["Flown"] == "0.2 km (+1 flights of unknown length)"
    assert items["Last flight"].startswith("flight 6, sol 91, 2021-05-2")


def test_tubes_filled_by_the_end_of_the_range(dataset):
    assert tubes_text(dataset.samples, 195) == "2 of 7 filled by sol 195"
    assert tubes_text(dataset.samples, 18) == "0 of 7 filled by sol 18"
    assert tubes_text(None, 18) == "not loaded"


def test_missing_and_stale_layers_in_the_loaders_words(dataset):
    """The card says what the loader recorded (its statuses and problems, as
    /perseverance/current says them), and what the page lacks without the layer."""
    ok = {name: {"status": "ok"} for name in ("ingenuity", "samples", "terrain")}
    assert layer_notes(dataclasses.replace(dataset, meta={"layers": ok})) == []
    bare = small_dataset()  # no layers and no record of them: off
    notes = layer_notes(dataclasses.replace(bare, meta={"layers": {}}))
    assert notes[0] == "Ingenuity flights: not read (off): no flights on the maps."
    assert len(notes) == 3 and notes[2].startswith("Terrain: not read (off): no relief under the map")
    missing = {**ok, "ingenuity": {"status": "missing", "problem": "HTTP 503 from mars.nasa.gov"}}
    said = layer_notes(dataclasses.replace(bare, meta={"layers": missing}))
    assert said[0] == "Ingenuity flights missing (HTTP 503 from mars.nasa.gov): no flights on the maps."
    stale = {**ok, "samples": {"status": "stale", "problem": "cannot connect"}}
    assert layer_notes(dataclasses.replace(dataset, meta={"layers": stale})) == [
        "Sample tubes stale (cannot connect; previous copy kept)."
    ]


# ---------------------------------------------------------------------------------------
# the first view (in the served layout) and the callback that follows the range


def test_search_of_the_referrer():
    assert search_of("http://host/?sol_min=14&sol_max=16") == "?sol_min=14&sol_max=16"
    assert search_of("http://host/") == "" and search_of(None) == ""
    assert search_of("http://host/?" + "x" * 5000) == ""


def test_first_view_for_the_address(dataset):
    first = first_view(dataset, "?sol_min=14&sol_max=16&axis=date")
    assert (first.lo, first.hi, first.a, first.b, first.axis) == (13, 18, 14, 16, "date")
    assert list(first.figures) == list(BUILDERS)
    assert first.figures["orientation"]["layout"]["title"]["text"].endswith("(sols 14–16)")
    assert first.figures["orientation"]["layout"]["xaxis"]["type"] == "date"
    assert first.regional["data"][-1]["name"] == "rover (sol 16)"
    whole = first_view(dataset, "?junk")
    assert (whole.a, whole.b, whole.axis) == (13, 18, "sol")


def test_the_first_call_answers_nothing_the_layout_already_holds(dataset):
    assert first_call_unchanged(None, page_token(dataset), dataset)
    assert not first_call_unchanged(None, "older", dataset)  # a new version since the page was served
    assert not first_call_unchanged(ids.SOL_RANGE, page_token(dataset), dataset)
    fig, card = around(dataset, [13, 16])
    assert fig["data"][-1]["name"] == "rover (sol 16)"
    assert no_update not in (fig, card) and card[0].children == "Mars around the rover"


# ---------------------------------------------------------------------------------------
# the plotly.js bundle


def test_the_vendored_bundle_is_the_one_noted():
    path = Path(vendor.__file__).parent / vendor.BUNDLE
    assert hashlib.sha256(path.read_bytes()).hexdigest() == vendor.SHA256
    assert vendor.__version__ in path.read_bytes()[:200].decode()


def test_every_trace_the_page_draws_is_in_the_bundle(dataset):
    first = first_view(dataset, "")
    types = {t["type"] for fig in [*first.figures.values(), first.regional] for t in fig["data"]}
    many = dataset.waypoints.loc[dataset.waypoints.index.repeat(400)]
    types |= {t["type"] for t in build("map", Frames(many), View.of(0, 100))["data"]}  # WebGL markers
    assert {"scatter", "scattergl", "bar"} <= types <= vendor.TRACE_TYPES


# ---------------------------------------------------------------------------------------
# the layout's validators


class VersionStore:
    def __init__(self, version):
        self.version = version
        self.record: dict | None = None  # the latest load attempt

    def current_version(self):
        if isinstance(self.version, Exception):
            raise self.version
        return self.version

    def last_load(self):
        return self.record


def layout_server(store):
    server = flask.Flask(__name__)
    built = []

    @server.get(layout_cache.LAYOUT_PATH)
    def layout():
        built.append(flask.request.referrer)
        return flask.jsonify({"figures": "..."})

    layout_cache.install(server, {"perseverance": store})
    return server.test_client(), built


def test_a_reload_revalidates_the_layout():
    store = VersionStore("7")
    client, built = layout_server(store)
    page = {"Referer": "http://host/?sol_min=14&sol_max=16"}
    first = client.get("/_dash-layout", headers=page)
    tag = first.headers["ETag"]
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-cache" and tag.startswith('"L7-')
    again = client.get("/_dash-layout", headers={**page, "If-None-Match": tag})
    assert again.status_code == 304 and again.data == b"" and len(built) == 1  # not built again
    compressed = tag[:-1] + ':br"'  # as a compressing layer rewrites it
    assert client.get("/_dash-layout", headers={**page, "If-None-Match": compressed}).status_code == 304
    # another range, another version: built again
    other = client.get("/_dash-layout", headers={"Referer": "http://host/?sol_min=15", "If-None-Match": tag})
    assert other.status_code == 200 and other.headers["ETag"] != tag
    store.record = {"ok": False, "error": "M20_waypoints.json: HTTP 503"}  # a refresh failed: the page says so
    failing = client.get("/_dash-layout", headers={**page, "If-None-Match": tag})
    assert failing.status_code == 200 and failing.headers["ETag"] != tag
    store.record = None
    store.version = "8"
    assert client.get("/_dash-layout", headers={**page, "If-None-Match": tag}).status_code == 200
    # nothing loaded, or the store away: no validator at all
    for version in (None, redis.ConnectionError("refused")):
        store.version = version
        resp = client.get("/_dash-layout", headers={**page, "If-None-Match": tag})
        assert resp.status_code == 200 and "ETag" not in resp.headers


def test_layout_etag_parts():
    assert layout_cache.layout_etag("7", "", "c") != layout_cache.layout_etag("7", "", "d")  # the code
    assert layout_cache.etag_matches('W/"x", "L7-ab"', "L7-ab") and layout_cache.etag_matches("*", "L7-ab")
    assert not layout_cache.etag_matches(None, "L7-ab") and not layout_cache.etag_matches('"L7-a"', "L7-ab")
    assert len(layout_cache.code_digest()) == 16
