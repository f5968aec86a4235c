"""Figures of the terrain and the context layers: the hillshade and its PNG, the layout
image, the scale bar, the regional view, Ingenuity's flights, the sample sites and the
sample sols on the time charts. Every figure is validated by ``go.Figure``."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import pytest
from PIL import Image

from dashboard.data.ingenuity import parse_flights
from dashboard.data.megdr import PPD
from dashboard.data.memo import Memo
from dashboard.data.samples import parse_samples
from dashboard.data.terrain import MARS_RADIUS_M, parse_crop
from dashboard.figures.common import View, values
from dashboard.figures.layers import FLIGHT_GROUP, SAMPLE_GROUP, flight_traces, sample_sol_marks, sample_traces
from dashboard.figures.regional import regional_map
from dashboard.figures.relief import RAMP, RAMP_NAME, hillshade, ramp_colours, relief, shaded_relief
from dashboard.figures.terrain import (
    ATTRIBUTION,
    data_uri,
    nice_length,
    scale_bar,
    terrain_image,
    thin_track,
)
from dashboard.marstime import sol_instants
from tests.helpers import SHARED_DATA

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REAL = SHARED_DATA  # NASA's real files (tests.helpers)
FLAT = math.sin(math.radians(45))  # the light on level ground, sun 45 degrees up


@pytest.fixture(scope="module")
def crop():
    return parse_crop((FIXTURES / "terrain_tiny.img").read_bytes(), (FIXTURES / "terrain_tiny.json").read_bytes())


@pytest.fixture(scope="module")
def flights():
    return parse_flights((FIXTURES / "heli_flights.json").read_bytes()).frame


@pytest.fixture(scope="module")
def samples():
    return parse_samples((FIXTURES / "sample_sites.json").read_bytes()).frame


# ---------------------------------------------------------------------------------------
# hillshade, colours, PNG


def plane(east_step: float, south_step: float, rows: int = 5, cols: int = 5) -> np.ndarray:
    r, c = np.mgrid[0:rows, 0:cols]
    return east_step * c + south_step * r


def inner(shade: np.ndarray) -> np.ndarray:
    """Away from the border (where the edge pixels repeat and the gradient halves)."""
    return shade[1:-1, 1:-1]


def test_level_ground_gets_the_flat_light():
    assert np.allclose(hillshade(np.zeros((4, 4)), np.full(4, 18.0)), FLAT)


def test_slopes_facing_the_north_west_light_are_brighter():
    lats = np.zeros(5)
    facing_nw = inner(hillshade(plane(50, 50), lats))  # rising to the south-east
    facing_se = inner(hillshade(plane(-50, -50), lats))
    assert (facing_nw > FLAT).all() and (facing_se < FLAT).all()
    # a slope facing north-east is lit from the side: as bright as level ground tilts allow
    facing_ne = inner(hillshade(plane(-50, 50), lats))
    assert np.allclose(facing_ne, facing_ne[0, 0]) and facing_se.max() < facing_ne[0, 0] < facing_nw.min()


@pytest.mark.parametrize("lat", [0.0, 18.4, 60.0])
def test_pixel_spacing_in_metres(lat):
    """Planes rising 100 m a pixel: 462.2 m a pixel north-south, cos(lat) x that east-west."""
    dy = MARS_RADIUS_M * math.radians(1 / PPD)
    dx = dy * math.cos(math.radians(lat))
    zenith = math.radians(45)

    def lit(slope: float, off_sun_deg: float) -> float:
        return math.cos(zenith) * math.cos(slope) + math.sin(zenith) * math.sin(slope) * math.cos(
            math.radians(off_sun_deg)
        )

    # rising eastward faces west, 45 degrees off the light (azimuth 315); rising northward
    # faces south, 135 degrees off it
    assert dy == pytest.approx(462.17, abs=0.01)
    assert np.allclose(inner(hillshade(plane(100, 0), np.full(5, lat))), lit(math.atan(100 / dx), 45))
    assert np.allclose(inner(hillshade(plane(0, -100), np.full(5, lat))), lit(math.atan(100 / dy), 135))


def test_ramp_is_plotlys_turbid_reversed_and_ordered_in_lightness():
    plotly_stops = [tuple(int(v) for v in c[4:-1].split(",")) for c in plotly.colors.cmocean.turbid]
    assert [tuple(int(v) for v in rgb) for rgb in RAMP] == plotly_stops[::-1]
    assert RAMP_NAME == "turbid_r"
    luma = RAMP @ np.array([0.2126, 0.7152, 0.0722])
    assert (np.diff(luma) > 0).all()  # dark low, light high, with no reversal
    colours = ramp_colours(np.array([-10.0, 0.0, 10.0, 99.0]), 0.0, 10.0)
    assert np.allclose(colours[0], RAMP[0]) and np.allclose(colours[2], RAMP[-1]) and np.allclose(colours[3], RAMP[-1])


def test_shaded_relief_and_png(crop):
    rgb = shaded_relief(crop)
    assert rgb.shape == (4, 6, 3) and rgb.dtype == np.uint8
    r = relief(crop)
    assert r.png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(r.png))
    assert image.size == (6, 4) and image.mode == "RGB"
    assert np.array_equal(np.asarray(image), rgb)
    assert (r.low, r.high) == (-2560.0, -2450.0) and r.bbox == crop.bbox and r.terrain_version == crop.version
    assert len(r.fingerprint) == 16 and relief(crop).fingerprint == r.fingerprint  # same bytes every time
    assert relief(crop, exaggeration=5.0).fingerprint != r.fingerprint


def test_relief_is_built_once_per_terrain_version(crop, monkeypatch):
    memo = Memo()
    first = relief(crop, memo.get)
    monkeypatch.setattr("dashboard.figures.relief.png_bytes", lambda rgb: pytest.fail("built twice"))
    assert relief(crop, memo.get) is first


# ---------------------------------------------------------------------------------------
# the layout image, scale bar, regional view


def test_terrain_image_entry(crop):
    entry = terrain_image(crop.bbox, "/api/terrain/perseverance/abc.png")
    assert (entry["x"], entry["y"]) == (crop.bbox.min_lon, crop.bbox.max_lat)
    assert (entry["sizex"], entry["sizey"]) == (6 / PPD, 4 / PPD)
    assert (entry["sizing"], entry["layer"], entry["xanchor"], entry["yanchor"]) == ("stretch", "below", "left", "top")
    go.Figure({"data": [], "layout": {"images": [entry]}})
    assert data_uri(b"\x89PNG").startswith("data:image/png;base64,")


@pytest.mark.parametrize("km, nice", [(3.7, 2), (0.37, 0.2), (12, 10), (5, 5), (1, 1), (0.099, 0.05), (73, 50)])
def test_nice_length(km, nice):
    assert nice_length(km) == pytest.approx(nice)


def test_scale_bar_is_true_to_the_ground():
    bar = scale_bar((76.21875, 78.21875), (17.4296875, 19.4296875))
    line = bar["shapes"][0]
    metres = (line["x1"] - line["x0"]) * MARS_RADIUS_M * math.radians(1) * math.cos(math.radians(18.4296875))
    assert metres == pytest.approx(20_000) and bar["annotations"][0]["text"] == "20 km"
    assert len(bar["shapes"]) == 3 and all(s["xref"] == "x" and s["yref"] == "y" for s in bar["shapes"])
    small = scale_bar((77.40, 77.42), (18.45, 18.46), lat=18.45)
    assert small["annotations"][0]["text"] == "200 m"
    go.Figure({"data": [], "layout": bar})
    with pytest.raises(ValueError, match="no scale bar"):
        scale_bar((77.0, 77.0), (18.0, 18.1))


def test_thin_track_keeps_ends_and_breaks():
    lon = np.arange(10_000, dtype=float)
    lat = np.zeros(10_000)
    lon[5001] = np.nan
    xs, ys = thin_track(lon, lat, budget=1000)
    assert len(xs) < 1100 and xs[0] == 0 and xs[-1] == 9999
    assert np.isnan(xs).sum() == 1 and 5000 in xs and 5002 in xs
    few = thin_track([1.0, 2.0], [3.0, 4.0])
    assert few[0].tolist() == [1.0, 2.0]


def test_regional_map(crop, flights, samples):
    r = relief(crop)
    fig = regional_map(
        r,
        "/terrain/x.png",
        track_lon=[77.01, 77.02, np.nan, 77.03],
        track_lat=[18.49, 18.48, np.nan, 18.47],
        position=(77.03, 18.47),
        position_label="sol 19",
        layers=flight_traces(flights) + sample_traces(samples),
    )
    checked = go.Figure(fig)
    layout = fig["layout"]
    assert layout["images"] == [terrain_image(crop.bbox, "/terrain/x.png")]
    assert layout["xaxis"]["range"] == [crop.bbox.min_lon, crop.bbox.max_lon]
    assert layout["yaxis"]["scaleratio"] == pytest.approx(1 / math.cos(math.radians(18.484375)))
    names = [t.name for t in checked.data]
    assert names[:2] == ["terrain heights", "drive path"] and names[-1] == "rover (sol 19)"
    track = fig["data"][1]
    assert np.allclose(values(track["x"]), [77.01, 77.02, np.nan, 77.03], equal_nan=True)
    scale = fig["data"][0]["marker"]
    assert (scale["cmin"], scale["cmax"]) == (-2560.0, -2450.0)
    # the ramp itself (plotly.js knows no "turbid_r" by name), from dark brown to pale yellow
    assert scale["colorscale"][0] == [0.0, "rgb(34,30,27)"] and scale["colorscale"][-1] == [1.0, "rgb(232,245,171)"]
    assert len(scale["colorscale"]) == len(RAMP)
    assert any(a["text"] == ATTRIBUTION for a in layout["annotations"])


def test_regional_map_without_a_track(crop):
    fig = regional_map(relief(crop), data_uri(relief(crop).png))
    go.Figure(fig)
    assert [t["name"] for t in fig["data"]] == ["terrain heights"]


# ---------------------------------------------------------------------------------------
# Ingenuity and the samples


def test_flight_traces(flights):
    traces = flight_traces(flights)
    go.Figure({"data": traces})
    assert {t["legendgroup"] for t in traces} == {FLIGHT_GROUP}
    assert [t["showlegend"] for t in traces] == [True, False, False]
    lines, middles, airfields = traces
    assert lines["name"] == "Ingenuity: 4 flights"
    f = flights.set_index("flight")
    # flights 1, 2 and 6 (flight 5's take-off is unknown): from the previous landing to this one
    xs = values(lines["x"]).reshape(-1, 3)
    assert xs.shape == (3, 3) and np.isnan(xs[:, 2]).all()
    assert xs[2, :2].tolist() == [f.loc[5, "lon"], f.loc[6, "lon"]]
    assert middles["text"] == ["1", "2", "5", "6"] and middles["mode"] == "markers+text"
    assert values(middles["x"])[2] == f.loc[5, "lon"]  # no take-off known: at its landing
    hover = middles["hovertext"][3]
    for words in (
        "flight 6",
        "Sol 91",
        "May 22, 2021",
        "Airfield B → Airfield C",
        "flown 202.4 m",
        "in 140 s",
        "up to 10 m",
    ):
        assert words in hover
    assert "flown unknown" in middles["hovertext"][2] and "up to unknown" in middles["hovertext"][2]
    assert airfields["hovertext"][0].startswith("Wright Brothers Field<br>deployed (sol 43), flight 1 (sol 58)")
    assert flight_traces(flights, numbers=False)[1]["mode"] == "markers"


def test_flight_traces_in_a_sol_range(flights):
    lines, middles, airfields = flight_traces(flights, View.of(60, 80))
    assert middles["text"] == ["2", "5"] and lines["name"] == "Ingenuity: 2 flights"
    assert len(values(lines["x"])) == 3  # flight 2, from flight 1's landing (before the range)
    empty = flight_traces(flights, View.of(2000, 2100))
    go.Figure({"data": empty})
    assert empty[0]["name"] == "Ingenuity: 0 flights"


def test_sample_traces(samples):
    (trace,) = sample_traces(samples)
    go.Figure({"data": [trace]})
    assert trace["legendgroup"] == SAMPLE_GROUP and trace["name"] == "samples: 7 tubes at 5 sites"
    assert len(values(trace["x"])) == 5 and trace["marker"]["symbol"][0] == "diamond"  # commonest type first
    two = next(h for h in trace["hovertext"] if "Montdenier + Montagnac" in h)
    assert "Rock Core, Rochette, Artuby Ridge" in two
    assert "tube 2: Montdenier, sol 194 (2021-09-06)" in two and "tube 3: Montagnac, sol 196 (2021-09-08)" in two
    (first_tube_only,) = sample_traces(samples, View.of(190, 195))
    assert "sol 196" not in first_tube_only["hovertext"][0] and first_tube_only["name"] == "samples: 1 tube at 1 site"


def test_sample_sol_marks(samples):
    marks = sample_sol_marks(samples, View.of(190, 300))
    assert [m["x0"] for m in marks] == [194, 196, 262, 271, 298]
    assert all(m["yref"] == "paper" and m["x0"] == m["x1"] for m in marks)
    assert marks[0]["name"] == "sample sol 194: Montdenier"
    dated = sample_sol_marks(samples, View.of(190, 300, time_axis="date"))
    assert [m["x0"] for m in dated] == sol_instants([194, 196, 262, 271, 298])
    go.Figure({"data": [], "layout": {"shapes": marks + dated}})


# ---------------------------------------------------------------------------------------
# NASA's files


@pytest.fixture(scope="module")
def real():
    if not (REAL / "m20_heli_waypoints.json").exists():
        pytest.skip(f"NASA data files not found in {REAL}")
    return {
        "crop": parse_crop(
            (REAL / "M20_mola128_jezero.img").read_bytes(), (REAL / "M20_mola128_jezero.json").read_bytes()
        ),
        "flights": parse_flights((REAL / "m20_heli_waypoints.json").read_bytes()).frame,
        "samples": parse_samples((REAL / "M20_SAMPLE_v3.json").read_bytes()).frame,
        "current": json.loads((REAL / "M20_waypoints_current.json").read_bytes())["features"][0]["properties"],
    }


@pytest.mark.realdata
def test_real_regional_view(real):
    r = relief(real["crop"])
    assert Image.open(io.BytesIO(r.png)).size == (256, 256)
    layers = flight_traces(real["flights"]) + sample_traces(real["samples"])
    cur = real["current"]
    fig = regional_map(
        r, data_uri(r.png), position=(cur["lon"], cur["lat"]), position_label=f"sol {cur['sol']}", layers=layers
    )
    go.Figure(fig)
    lines, middles, _, sites = layers
    assert lines["name"] == "Ingenuity: 72 flights" and len(middles["text"]) == 72
    assert len(values(lines["x"])) == 72 * 3 and sites["name"] == "samples: 25 tubes at 17 sites"
    assert next(b for b in fig["layout"]["annotations"] if b["text"].endswith("km"))["text"] == "20 km"


@pytest.mark.realdata
def test_real_sample_sol_marks(real):
    marks = sample_sol_marks(real["samples"], View.of(0, 1840))
    assert len(marks) == 25 and {194, 196} <= {m["x0"] for m in marks}
