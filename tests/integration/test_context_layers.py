"""The context layers (Ingenuity's flights, the sample tubes, the terrain) loaded into a real
Redis and served by the API: every layer optional, its failures said in words."""

from __future__ import annotations

import csv
import io

import numpy as np
import orjson
import pytest
from werkzeug import Response as WResponse

from dashboard.data.context_load import JEZERO_BBOX, terrain_tile_read
from dashboard.data.load import load, one_line
from dashboard.data.megdr import ROW_BYTES, TILE_COLS
from dashboard.data.terrain import parse_crop
from dashboard.figures import View, build, values
from dashboard.figures.regional import regional
from dashboard.page.mars import layer_notes
from dashboard.page.ranges import sol_bounds
from tests.helpers import SHARED_DATA, real_data

HELI, SAMPLES, TERRAIN = "heli_flights.json", "sample_sites.json", "terrain_tiny.img"
CLOSED = "http://127.0.0.1:1/"  # nothing listens on port 1


@pytest.fixture
def context(settings, fixture_path):
    """The settings with the context fixtures as sources."""
    return settings.replace(
        heli_source=str(fixture_path(HELI)),
        samples_source=str(fixture_path(SAMPLES)),
        terrain_source=str(fixture_path(TERRAIN)),
    )


@pytest.fixture
def real(settings, shared_data):
    """NASA's real files, every layer (skipped without them)."""
    if not (shared_data / "M20_mola128_jezero.img").exists():
        pytest.skip("the context layers' real files are not in the shared data")
    return real_data(settings, current=True).replace(
        heli_source=str(shared_data / "m20_heli_waypoints.json"),
        samples_source=str(shared_data / "M20_SAMPLE_v3.json"),
        terrain_source=str(shared_data / "M20_mola128_jezero.img"),
    )


def test_every_layer_loads_is_stored_and_reused(store, context):
    summary = load(store, context)
    assert summary["status"] == "loaded"
    assert summary["ingenuity"] | {"source": None} == {
        "status": "ok",
        "source": None,
        "rows": 5,
        "sol_min": 43,
        "sol_max": 91,
        "flights": 4,
        "skipped": 5,
    }
    assert summary["samples"]["rows"] == 7 and summary["samples"]["sites"] == 5
    assert summary["terrain"]["status"] == "ok" and summary["terrain"]["bbox"]["minLon"] == 77.0
    assert one_line(summary).endswith(
        "Ingenuity flights: 4 (sols 43..91), sample tubes: 7 at 5 sites (sols 164..337), "
        "terrain: 6 x 4 px MOLA crop, 0 features skipped"
    )
    dataset = store.current()
    assert len(dataset.flights) == 5 and len(dataset.samples) == 7 and dataset.terrain.shape == (4, 6)
    # another reader decodes the same layers from Redis
    again = store.read(dataset.version)
    assert again.flights.equals(dataset.flights) and again.samples.equals(dataset.samples)
    assert again.terrain.version == dataset.terrain.version and again.terrain.sha256 == dataset.terrain.sha256
    # nothing changed: no new version, nothing parsed again
    assert load(store, context)["status"] == "unchanged" and store.versions() == ["1"]
    # a layer switched off is a change: the new version says so
    off = load(store, context.replace(terrain_source=None))
    assert off["status"] == "loaded" and off["terrain"]["status"] == "off" and store.current().terrain is None
    assert "terrain" not in one_line(off)


def _broken(kind: str, layer: str, fixture_path, tmp_path) -> tuple[str, str]:
    """A broken source of ``layer`` and the words its failure is said in."""
    if kind == "closed port":
        name = {"heli": "m20_heli_waypoints.json", "samples": "M20_SAMPLE_v3.json", "terrain": "M20_mola128_jezero.img"}
        return CLOSED + name[layer], "cannot connect"
    if layer != "terrain":
        return {
            "html": (str(fixture_path("bad_html.html")), "got an HTML page"),
            "empty": (str(fixture_path("bad_empty_featurecollection.json")), "FeatureCollection is empty"),
            "junk": (str(fixture_path("bad_not_json.txt")), "not valid JSON"),
        }[kind]
    body, problem = {
        "html": (b"<html><body>Not Found</body></html>", "HTML/XML page"),
        "empty": (b"", "empty terrain file"),
        "bad size": (bytes(46), "bad crop size: 46 bytes, expected 4 x 6 x 2 = 48"),
    }[kind]
    (tmp_path / "crop.img").write_bytes(body)
    (tmp_path / "crop.json").write_bytes(fixture_path("terrain_tiny.json").read_bytes())
    return str(tmp_path / "crop.img"), problem


BROKEN = [
    ("heli", "closed port"),
    ("heli", "html"),
    ("heli", "empty"),
    ("heli", "junk"),
    ("samples", "closed port"),
    ("samples", "html"),
    ("samples", "empty"),
    ("terrain", "closed port"),
    ("terrain", "html"),
    ("terrain", "empty"),
    ("terrain", "bad size"),
]
NAMES = {
    "heli": ("ingenuity", "Ingenuity flights"),
    "samples": ("samples", "sample tubes"),
    "terrain": ("terrain",) * 2,
}


@pytest.mark.parametrize("layer, kind", BROKEN)
def test_a_broken_context_source_keeps_the_load_and_says_so(
    store, context, client, fixture_path, tmp_path, layer, kind
):
    name, label = NAMES[layer]
    bad, problem = _broken(kind, layer, fixture_path, tmp_path)
    broken = context.replace(**{f"{layer}_source": bad})
    # no previous copy: missing
    first = load(store, broken)
    assert first["status"] == "loaded" and first[name]["status"] == "missing"
    assert problem in first[name]["error"]
    assert f"{label} missing (" in one_line(first) and store.last_load()["ok"] is True
    now = client.get("/perseverance/current").get_json()["layers"][name]
    assert now["status"] == "missing" and now["text"].startswith(f"{label} missing (")
    assert any(note.lower().startswith(f"{label.lower()} missing (") for note in layer_notes(store.current()))
    path = {"ingenuity": "/ingenuity/flights", "samples": "/perseverance/samples", "terrain": "/terrain"}[name]
    answer = client.get(path)
    assert answer.status_code == 404 and answer.get_json()["status"] == "missing"
    assert answer.get_json()["error"].startswith(f"the {label} layer is not loaded (the last load could not read it")
    # with a copy: kept, and said to be stale
    load(store, context)
    kept = load(store, broken)
    assert kept["status"] == "loaded" and kept[name]["status"] == "stale" and problem in kept[name]["error"]
    assert f"{label} stale (" in one_line(kept) and "previous copy kept" in one_line(kept)
    assert getattr(store.current(), {"ingenuity": "flights"}.get(name, name)) is not None
    now = client.get("/perseverance/current").get_json()["layers"][name]
    assert now["status"] == "stale" and "previous copy kept" in now["text"]
    assert any(note.lower().startswith(f"{label.lower()} stale (") for note in layer_notes(store.current()))
    assert client.get(path).status_code == 200
    # the same failure again is no change
    assert load(store, broken)["status"] == "unchanged"


def test_the_real_layers_through_the_api(store, real, client):
    load(store, real)
    flights = orjson.loads(client.get("/ingenuity/flights").data)
    assert [f["flight"] for f in flights] == list(range(73))
    assert flights[0]["deployment"] is True and flights[0]["sol"] == 43
    assert flights[-1]["sol"] == 1036 and flights[-1]["earth_date"] == "2024-01-18"
    assert sum(f["distance_m"] for f in flights[1:]) == pytest.approx(17247.3, abs=0.1)
    window = orjson.loads(client.get("/ingenuity/flights?sol_min=100&sol_max=200").data)
    assert window and all(100 <= f["sol"] <= 200 for f in window)
    assert client.get("/ingenuity/flights?sol_min=200&sol_max=100").status_code == 400
    assert "sol_min must be a number" in client.get("/ingenuity/flights?sol_min=abc").get_json()["error"]
    rows = list(csv.DictReader(io.StringIO(client.get("/ingenuity/flights.csv?sol_min=1036").data.decode())))
    assert [r["flight"] for r in rows] == ["72"] and rows[0]["to_airfield"] == "Airfield Chi"
    geo = client.get("/ingenuity/flights.geojson?sol_max=43")
    assert (
        geo.content_type == "application/geo+json"
        and "ingenuity-flights-sols-43-43" in geo.headers["Content-Disposition"]
    )
    assert orjson.loads(geo.data)["features"][0]["geometry"]["type"] == "Point"
    tubes = orjson.loads(client.get("/perseverance/samples").data)
    assert len({t["site"] for t in tubes}) == 17 and len(tubes) == 25
    two = [t for t in tubes if t["sol_text"] == "194 & 196"]
    assert [(t["sol"], t["name"]) for t in two] == [(194, "Montdenier"), (196, "Montagnac")]
    assert [t["sol"] for t in orjson.loads(client.get("/perseverance/samples?sol_min=195&sol_max=196").data)] == [196]
    features = orjson.loads(client.get("/perseverance/samples.geojson?sol_min=194&sol_max=196").data)["features"]
    assert [f["properties"]["sol"] for f in features] == [194, 196]
    assert len(list(csv.DictReader(io.StringIO(client.get("/perseverance/samples.csv").data.decode())))) == 25


def test_terrain_route_and_its_immutable_png(store, real, client):
    load(store, real)
    info = client.get("/terrain").get_json()
    assert info["bbox"] == {"minLon": 76.21875, "minLat": 17.4296875, "maxLon": 78.21875, "maxLat": 19.4296875}
    assert (info["width"], info["height"], info["height_min_m"], info["height_max_m"]) == (256, 256, -3323, -187)
    assert info["source"] == "local file M20_mola128_jezero.img" and info["scale"]["metres_per_pixel"] == 462.2
    url = info["image"]["url"]
    assert url == f"/terrain/{info['image']['fingerprint']}.png"
    png = client.get(url)
    assert png.status_code == 200 and png.content_type == "image/png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    again = client.get(url, headers={"If-None-Match": png.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    old = client.get("/terrain/0123456789abcdef.png")
    assert old.status_code == 404 and old.get_json()["current"] == info["image"]["fingerprint"]
    # /terrain is a data answer: the dataset's ETag, 304 on revalidation
    tag = client.get("/terrain").headers["ETag"]
    assert client.get("/terrain", headers={"If-None-Match": tag}).status_code == 304


def test_context_routes_without_data_or_layers(client, store, settings):
    for path in ("/ingenuity/flights", "/perseverance/samples.csv", "/terrain", "/terrain/0123456789abcdef.png"):
        assert client.get(path).status_code == 503
    load(store, settings)  # the context layers off
    answer = client.get("/ingenuity/flights.geojson")
    assert answer.status_code == 404
    assert answer.get_json() == {
        "error": "the Ingenuity flights layer is not loaded (no source is configured)",
        "layer": "ingenuity",
        "status": "off",
    }
    assert client.get("/perseverance/current").get_json()["layers"]["terrain"]["status"] == "off"


# --- the PDS tile: one Range request ----------------------------------------------------------


def _virtual_tile_rows() -> tuple[np.ndarray, object]:
    """The rows a read of the Jezero bbox asks for, as a virtual tile holds them (heights
    from the shared crop where it lies, a made-up slope elsewhere)."""
    read = terrain_tile_read("megt44n000hb.img")
    rows = read.row1 - read.row0
    block = (np.arange(rows)[:, None] - np.arange(TILE_COLS)[None, :] // 8).astype(">i2") - 2000
    shared = SHARED_DATA / "M20_mola128_jezero.img"
    if shared.exists():
        crop = parse_crop(shared.read_bytes(), (SHARED_DATA / "M20_mola128_jezero.json").read_bytes())
        block[:, read.col0 : read.col1] = crop.heights
    return block, read


def test_the_terrain_is_one_range_request_of_the_tile_and_never_downloaded_again(store, settings, httpserver):
    block, read = _virtual_tile_rows()
    body = block.astype(">i2").tobytes()
    asked = []

    def tile(req):
        asked.append((req.headers.get("Range"), req.headers.get("If-None-Match")))
        if req.headers.get("If-None-Match") == '"mola"':
            return WResponse(status=304, headers={"ETag": '"mola"'})
        headers = {"Content-Range": f"bytes {read.first_byte}-{read.last_byte}/{ROW_BYTES * 5632}", "ETag": '"mola"'}
        return WResponse(body, status=206, headers=headers, content_type="application/octet-stream")

    httpserver.expect_request("/meg128/megt44n000hb.img").respond_with_handler(tile)
    tiled = settings.replace(terrain_source=httpserver.url_for("/meg128/megt44n000hb.img"), max_bytes=8 * 1024 * 1024)
    summary = load(store, tiled)
    assert summary["terrain"]["status"] == "ok" and summary["terrain"]["bbox"] == JEZERO_BBOX.as_sidecar()
    crop = store.current().terrain
    assert crop.shape == (256, 256) and crop.source_tile == "megt44n000hb.img"
    assert np.array_equal(crop.heights, block[:, read.col0 : read.col1])
    assert (
        store.meta()["layers"]["terrain"]["read"] == read.range_header == "bytes=72460800-78359039"
    )  # rows 3145..3400
    # MOLA never changes: the next load asks conditionally and downloads nothing
    assert load(store, tiled)["status"] == "unchanged"
    assert asked == [(read.range_header, None), (read.range_header, '"mola"')]


@pytest.mark.parametrize(
    "answer, problem",
    [
        (dict(status=200), "the server ignored the Range request"),
        (dict(status=206, headers={"Content-Range": "bytes 0-9/100"}), "got Content-Range 'bytes 0-9/100'"),
        (dict(status=416), "HTTP 416"),
        (dict(status=206, content_type="text/html", short=True), "range answer is 10 bytes, expected 5,898,240"),
    ],
)
def test_a_bad_range_answer_is_said(store, settings, httpserver, answer, problem):
    read = terrain_tile_read("megt44n000hb.img")
    short = answer.pop("short", False)
    if short:
        answer["headers"] = {"Content-Range": f"bytes {read.first_byte}-{read.last_byte}/{ROW_BYTES * 5632}"}
    httpserver.expect_request("/megt44n000hb.img").respond_with_data(b"0123456789", **answer)
    tiled = settings.replace(terrain_source=httpserver.url_for("/megt44n000hb.img"), max_bytes=8 * 1024 * 1024)
    summary = load(store, tiled)
    assert summary["status"] == "loaded" and summary["terrain"]["status"] == "missing"
    assert problem in summary["terrain"]["error"]


def test_the_real_terrain_under_the_figures(store, real):
    """The issue's own reading of NASA's files: the relief under the map, the regional view
    with the track at the crater's western edge, and the climb of about 600 m (from
    -2570 m to -1970 m) over the ground's profile, with no junk vertex (a few traverse
    vertices say 0 m) drawn as a spike."""
    load(store, real)
    dataset = store.current()
    view = View.of(*sol_bounds(dataset))
    the_map = build("map", dataset, view)
    assert the_map["layout"]["images"][0]["source"].startswith("/terrain/")
    # the regional view: the whole 2-degree crop, the track in its western part, the rover marked
    regional_view = regional(dataset, view)
    box = dataset.terrain.bbox
    track = next(t for t in regional_view["data"] if t["name"] == "drive path")
    lon = values(track["x"])
    lon = lon[np.isfinite(lon)]
    assert box.min_lon < lon.min() and lon.max() < box.max_lon
    # Jezero's centre is at 77.58 E (its rim about 0.38 degrees, 22 km, out): the track
    # stays west of it and ends ~0.23 degrees (13 km) west of the landing site, on the rim
    assert lon.max() < 77.58 and lon[-1] < lon[0] - 0.2 and lon[-1] < 77.58 - 0.3
    assert regional_view["data"][-1]["name"] == "rover (sol 1840)"
    # the profile: the rover's elevations over the terrain's, the climb in words
    profile = build("elevation_distance", dataset, view)
    names = [t["name"] for t in profile["data"]]
    assert "terrain under the track (MOLA, 463 m pixels)" in names
    words = profile["layout"]["annotations"][0]["text"]
    assert words.startswith("From −2570 m to −19") and "a net climb of 6" in words, words
    for trace in profile["data"]:
        if trace["name"].startswith("elevation"):
            y = values(trace["y"])
            y = y[np.isfinite(y)]
            assert y.min() > -2700 and y.max() < -1700, (trace["name"], y.min(), y.max())  # no 0 m spike
