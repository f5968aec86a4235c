"""The context layers on the traverse map (the builder the page and the export job share),
the page's cards and the layers' states in words. Pure code, no Redis."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard.data.context_load import sidecar_of, terrain_tile_read
from dashboard.data.context_summary import context_now, context_text, ingenuity_card, samples_card
from dashboard.data.fetch import FetchError, fetch
from dashboard.data.ingenuity import parse_flights
from dashboard.data.parse import parse_traverse, parse_waypoints
from dashboard.data.samples import parse_samples
from dashboard.data.terrain import Crop, parse_crop
from dashboard.figures import Frames, View, build, values
from dashboard.figures.map import map_context
from dashboard.figures.relief import relief
from dashboard.figures.terrain import IMAGE_INLINE, IMAGE_URL, relief_source, relief_url
from tests.helpers import SHARED_DATA

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REAL = SHARED_DATA  # NASA's real files (tests.helpers)


@dataclasses.dataclass(frozen=True)
class WithContext(Frames):
    flights: pd.DataFrame | None = None
    samples: pd.DataFrame | None = None
    terrain: Crop | None = None
    meta: dict = dataclasses.field(default_factory=dict)


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="module")
def data() -> WithContext:
    traverse = parse_traverse(read("traverse_v2026.json"))
    return WithContext(
        parse_waypoints(read("waypoints_v2024.json")).frame,
        traverse.frame,
        traverse.points,
        flights=parse_flights(read("heli_flights.json")).frame,
        samples=parse_samples(read("sample_sites.json")).frame,
        terrain=parse_crop(read("terrain_tiny.img"), read("terrain_tiny.json")),
    )


def test_the_map_draws_the_relief_the_scale_and_the_layers(data):
    fig = build("map", data, View.of(0, 400))
    go.Figure(fig)  # valid
    (image,) = fig["layout"]["images"]
    shaded = relief(data.terrain, data.memo)
    assert image["source"] == relief_url(shaded) == f"/terrain/{shaded.fingerprint}.png"
    assert image["layer"] == "below" and image["x"] == 77.0 and image["y"] == 18.5
    assert [t.get("legendgroup") for t in fig["data"][-4:]] == ["ingenuity"] * 3 + ["samples"]
    assert fig["data"][-4]["name"] == "Ingenuity: 4 flights" and fig["data"][-1]["name"].startswith("samples: 7 tubes")
    bar, credit = fig["layout"]["annotations"]
    assert bar["text"].endswith((" m", " km")) and len(fig["layout"]["shapes"]) == 3 and "MOLA" in credit["text"]
    # the bar lies inside what the map draws
    xs = [x for t in fig["data"] for x in values(t["x"]).tolist() if x == x]
    assert min(xs) <= fig["layout"]["shapes"][0]["x0"] < fig["layout"]["shapes"][0]["x1"] <= max(xs)


def test_exports_get_the_relief_inline_and_the_same_figure_otherwise(data):
    page, export = build("map", data, View.of(0, 400)), build("map", data, View.of(0, 400), image_source=IMAGE_INLINE)
    assert export["layout"]["images"][0]["source"].startswith("data:image/png;base64,")
    page["layout"]["images"][0]["source"] = export["layout"]["images"][0]["source"]
    assert page == export
    with pytest.raises(ValueError, match="image_source"):
        relief_source(data.terrain, data.memo, "ftp")
    _, url = relief_source(data.terrain, data.memo, IMAGE_URL)
    assert url.startswith("/terrain/")


def test_the_sol_range_picks_the_layers_rows(data):
    early = build("map", data, View.of(13, 18))  # before the first flight and the first tube
    assert not any(t.get("legendgroup") for t in early["data"]) and early["layout"]["images"]
    flights_only = map_context(data, View.of(50, 100))
    assert [t["name"] for t in flights_only["traces"]][0] == "Ingenuity: 4 flights"
    assert all(t.get("legendgroup") == "ingenuity" for t in flights_only["traces"])


def test_a_map_without_context_layers_is_unchanged(data):
    bare = Frames(data.waypoints, data.traverse, data.traverse_points)
    fig = build("map", bare, View.of(13, 18))
    assert "images" not in fig["layout"] and "shapes" not in fig["layout"]
    assert map_context(bare, View.of(13, 18)) == {"traces": [], "layout": {}}


# --- cards and words ---------------------------------------------------------------------------


def test_cards_on_the_fixtures(data):
    assert ingenuity_card(None) is None and samples_card(None) is None
    card = ingenuity_card(data.flights)
    assert (card["flights"], card["last_flight"], card["last_sol"]) == (4, 6, 91)
    assert card["text"] == "4 flights, 0.2 km flown, last flight sol 91"
    assert ingenuity_card(data.flights, 50)["text"] == "deployed on sol 43, no flight yet"
    assert ingenuity_card(data.flights, 58)["text"].startswith("1 flight, ")
    assert samples_card(data.samples, 195)["text"] == "2 of 7 tubes filled, at 2 sites; the last on sol 194"
    assert samples_card(data.samples, 100)["text"] == "0 of 7 tubes filled"


@pytest.mark.skipif(not (REAL / "m20_heli_waypoints.json").exists(), reason="NASA's files not in the shared data")
def test_cards_on_nasas_files():
    flights = parse_flights((REAL / "m20_heli_waypoints.json").read_bytes()).frame
    assert ingenuity_card(flights)["text"] == "72 flights, 17.2 km flown, last flight sol 1036"
    samples = parse_samples((REAL / "M20_SAMPLE_v3.json").read_bytes()).frame
    card = samples_card(samples, 196)
    assert (card["tubes_filled"], card["sites"], card["last_name"]) == (3, 2, "Montagnac")
    assert samples_card(samples)["text"] == "25 of 25 tubes filled, at 17 sites; the last on sol 1215"


def test_states_in_words():
    assert context_text("terrain", {"status": "off"}) == ""
    assert context_text("samples", {"status": "ok", "rows": 25, "sites": 17, "sol_min": 164, "sol_max": 1215}) == (
        "sample tubes: 25 at 17 sites (sols 164..1215)"
    )
    stale = context_text("ingenuity", {"status": "stale", "problem": "cannot connect: " + "x" * 100})
    assert stale.startswith("Ingenuity flights stale (cannot connect: xxx") and stale.endswith("…; previous copy kept)")
    assert context_text("terrain", {"status": "missing", "problem": "HTTP 404"}) == "terrain missing (HTTP 404)"


def test_now_without_context_metadata_says_off_or_ok(data):
    layers = context_now(data)  # frames without a load's metadata: loaded means ok
    assert [layers[n]["status"] for n in ("ingenuity", "samples", "terrain")] == ["ok"] * 3
    off = context_now(Frames(data.waypoints))
    assert off["terrain"] == {"status": "off", "source": None, "text": "terrain: not read (off)"}


# --- sources ---------------------------------------------------------------------------------


def test_terrain_sources():
    read_rows = terrain_tile_read("https://pds.example/meg128/megt44n000hb.img")
    assert read_rows is not None and (read_rows.row1 - read_rows.row0, read_rows.col1 - read_rows.col0) == (256, 256)
    assert terrain_tile_read("/data/M20_mola128_jezero.img") is None
    assert sidecar_of("/data/M20_mola128_jezero.img") == "/data/M20_mola128_jezero.json"
    assert sidecar_of("https://h.example/dem/a.img?x=1") == "https://h.example/dem/a.json?x=1"


def test_a_byte_range_of_a_local_file(tmp_path):
    path = tmp_path / "tile.img"
    path.write_bytes(bytes(range(100)))
    assert fetch(str(path), byte_range=(10, 19)).body == bytes(range(10, 20))
    with pytest.raises(FetchError, match="it has no bytes 95-104"):
        fetch(str(path), byte_range=(95, 104))
    with pytest.raises(FetchError, match="over the 1,024-byte cap"):
        fetch(str(path), byte_range=(0, 4999), max_bytes=1024)
