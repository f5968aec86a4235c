"""Replays of the drive: the request's limits (refused in words before anything is queued),
the frame plan (which sol, which points and where the rover is on each frame) and the
figure the frames are drawn from. No browser here: tests/integration/test_replay.py."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard.data.ingenuity import parse_flights
from dashboard.data.samples import parse_samples
from dashboard.data.store import Dataset
from dashboard.data.terrain import parse_crop
from dashboard.exports.errors import ExportError
from dashboard.exports.replay import (
    GHOST_NAME,
    MARS_RADIUS_M,
    ROVER_NAME,
    frame_sols,
    nice_length,
    path_sols,
    positions,
    replay_of,
    rover_at,
    scale_bar,
    stamp_text,
)
from dashboard.exports.request import CONTENT_TYPES, ExportRequest, validate
from dashboard.exports.submit import REPLAY_SECONDS_PER_FRAME, job_timeout
from dashboard.figures import View, values
from dashboard.figures.map import path_levels
from dashboard.figures.terrain import IMAGE_URL
from dashboard.settings import Settings
from tests.helpers import FIXTURES
from tests.unit.page_fixtures import dataset_with_current, small_dataset


def replay(**kwargs) -> ExportRequest:
    return validate("replay", kwargs.pop("start", 13), kwargs.pop("end", 18), **kwargs)


# --- the request ------------------------------------------------------------------------------


def test_a_replay_request_has_defaults_and_a_deterministic_job():
    req = replay(bounds=(13, 1840))
    assert (req.fmt, req.frames, req.fps, req.width, req.height, req.scale) == ("mp4", 120, 12, 1280, 720, 1.0)
    assert req.filename == "perseverance-replay-sols-13-18.mp4"
    assert req.job_id("7").startswith("export-replay-")
    assert req.job_id("7") == validate("replay", "13", "18.0", "MP4", frames="120", fps=12.0).job_id("7")
    assert req.job_id("7") != replay(frames=121).job_id("7")
    assert req.job_id("7") != replay(fps=10).job_id("7")
    assert req.job_id("7") != replay(fmt="gif").job_id("7")
    assert req.job_id("7") != req.job_id("8")
    assert req.public()["frames"] == 120 and req.public()["selected"] == 0
    assert ExportRequest.from_json(req.to_json()) == req
    assert replay(fmt="gif").filename.endswith(".gif") and CONTENT_TYPES["gif"] == "image/gif"
    assert CONTENT_TYPES["mp4"] == "video/mp4"


def test_a_chart_request_keeps_its_json_and_job_id():
    """The replay's fields are left out of a chart's JSON, so its job id did not change."""
    chart = validate("map", 13, 400)
    assert "frames" not in chart.to_json() and "fps" not in chart.to_json()
    assert "frames" not in chart.public()
    assert chart.rate_cost == 1


def test_mp4_and_webm_sizes_are_rounded_down_to_even_gif_keeps_them():
    assert (replay(width=641, height=361).width, replay(width=641, height=361).height) == (640, 360)
    assert replay(fmt="webm", width=1919).width == 1918
    assert (replay(fmt="gif", width=641, height=361).width, replay(fmt="gif", height=361).height) == (641, 361)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"frames": 1}, "frames 1 is out of bounds: use 2..600"),
        ({"frames": 601}, "frames 601 is out of bounds: use 2..600"),
        ({"frames": "many"}, "frames must be a number, not 'many'"),
        ({"frames": 12.5}, "frames must be a whole number"),
        ({"fps": 0}, "fps 0 is out of bounds: use 1..30"),
        ({"fps": 31}, "fps 31 is out of bounds: use 1..30"),
        ({"frames": 600, "fps": 5}, "600 frames at 5 frames a second last 120 s; a replay lasts at most 60 s"),
        ({"frames": 61, "fps": 1}, "last 61 s"),
        ({"width": 299}, "width 299 is out of bounds for a replay: use 300..1920 pixels"),
        ({"height": 1921}, "height 1921 is out of bounds for a replay: use 300..1920 pixels"),
        ({"width": 4000}, "width 4000 is out of bounds for a replay"),
        ({"fmt": "png"}, "unknown replay format 'png'; choose one of: mp4, gif, webm"),
        ({"fmt": "avi"}, "unknown replay format 'avi'"),
        ({"fmt": 3}, "unknown replay format 3"),
        ({"start": 18, "end": 13}, "sol range is reversed"),
        ({"start": 2000, "end": 3000, "bounds": (13, 1840)}, "sols 2000..3000 are outside the data"),
        ({"scale": 2}, "scale does not apply to a replay"),
        ({"selection": ["3_0"], "names": ["3_0"]}, "a replay draws the whole traverse map"),
        ({"xkey": "sol"}, "a replay draws the whole traverse map"),
    ],
)
def test_each_limit_is_refused_in_words(kwargs, message):
    with pytest.raises(ExportError) as err:
        replay(**kwargs)
    assert message in str(err.value)


def test_frames_and_fps_belong_to_a_replay():
    with pytest.raises(ExportError, match="frames and fps apply to a replay only, not to the 'map' chart"):
        validate("map", 13, 18, frames=120)


def test_a_replay_counts_against_the_rate_as_several_exports_and_gets_time_for_its_frames():
    assert replay(frames=120).rate_cost == 4
    assert replay(frames=600, fps=10).rate_cost == 20
    assert replay(frames=2).rate_cost == 1
    settings = Settings(export_timeout=60)
    assert job_timeout(replay(frames=120), settings) == 60 + math.ceil(120 * REPLAY_SECONDS_PER_FRAME)
    assert job_timeout(validate("map", 13, 18), settings) == 60


# --- the frame plan ---------------------------------------------------------------------------


def test_frames_spread_the_sols_evenly_first_to_last():
    assert frame_sols(13, 18, 6) == [13, 14, 15, 16, 17, 18]
    assert frame_sols(13, 18, 2) == [13, 18]
    assert frame_sols(100, 100, 4) == [100] * 4
    assert frame_sols(13, 15, 6) == [13, 13, 13, 14, 14, 15]  # more frames than sols: each shown on several
    sols = frame_sols(13, 1840, 120)
    assert (sols[0], sols[-1], len(sols)) == (13, 1840, 120)
    steps = np.diff(sols)
    assert steps.min() >= 15 and steps.max() <= 16  # (1840 - 13) / 119 = 15.35 sols a frame


def test_each_frame_shows_the_points_of_its_sols_and_the_rover_where_it_was():
    dataset = small_dataset()  # waypoints on sols 13..18 (two on 16, two on 18), traverse legs on 14..17
    rep = replay_of(dataset, replay(frames=6, width=640, height=360))
    names = [t["name"] for t in rep.figure["data"]]
    assert names == [GHOST_NAME, "drive path (traverse layer)", "waypoints (waypoint layer)", ROVER_NAME]
    assert rep.sols == [13, 14, 15, 16, 17, 18]
    ghost, path, points, rover = zip(*rep.cuts, strict=True)
    assert ghost == (None,) * 6 and rover == (None,) * 6  # the whole path always; the rover moves
    assert list(points) == [1, 2, 3, 5, 6, 8]  # waypoints of sols up to the frame's
    drawn = values(rep.figure["data"][1]["x"])
    assert path[0] == 0 and path[-1] == len(drawn) and list(path) == sorted(path)
    wp = dataset.waypoints
    last_of = {sol: (row.lon, row.lat) for row in wp.itertuples() for sol in [row.sol]}
    assert rep.rover == [pytest.approx(list(last_of[s])) for s in rep.sols]  # the sol's last localization
    assert rep.stamps[0] == stamp_text(13) == "<b>Sol 13</b> · 2021-03-03 (UTC)"
    layout = rep.figure["layout"]
    assert layout["annotations"][rep.stamp_annotation]["text"] == rep.stamps[0]
    assert (layout["width"], layout["height"]) == (640, 360)


def test_the_rover_goes_on_with_the_traverse_where_the_waypoints_stop():
    full = small_dataset()
    early = full.waypoints[full.waypoints["sol"] <= 15].reset_index(drop=True)
    dataset = Dataset("5", {}, early, full.traverse, full.traverse_points)
    table = positions(dataset)
    assert table["sol"].tolist() == [13, 14, 15, 16, 17]  # sols 16 and 17 from the traverse alone
    at = rover_at(table, [12, 13, 15, 16, 17, 30])
    assert at[0] is None  # before any position: no marker
    assert at[2] == pytest.approx([early.iloc[-1]["lon"], early.iloc[-1]["lat"]])  # a waypoint wins its sol
    legs = full.traverse_points
    last_vertex = legs[legs["seg"] == legs["seg"].max()].iloc[-1]
    assert at[4] == at[5] == pytest.approx([last_vertex["lon"], last_vertex["lat"]])  # then it stays there


def test_the_current_position_appears_on_its_sol():
    dataset = dataset_with_current()  # current position on sol 19
    rep = replay_of(dataset, replay(end=19, frames=7))
    names = [t["name"] for t in rep.figure["data"]]
    current = next(i for i, n in enumerate(names) if n.startswith("current position"))
    assert [cut[current] for cut in rep.cuts] == [0, 0, 0, 0, 0, 0, 1]
    assert rep.rover[-1] == pytest.approx([77.4533, 18.4422])


def test_path_vertices_get_the_sol_of_their_leg():
    dataset = small_dataset()
    full = path_levels(dataset.traverse, dataset.traverse_points)[0]
    view = View.of(13, 18)
    sols = path_sols(dataset, full.lon.astype("f4"), full.lat.astype("f4"), view)
    # every vertex found, with its leg's sol; a leg's first vertex is where the leg before
    # ended (the same place): it counts from that earlier sol
    place = pd.Series(list(zip(full.lon.astype("f4").tolist(), full.lat.astype("f4").tolist(), strict=True)))
    first_reached = pd.Series(full.sol).groupby(place).transform("min")
    assert sols.tolist() == first_reached.tolist()
    assert (first_reached != full.sol).sum() <= len(dataset.traverse)  # junctions only
    with_break = path_sols(
        dataset, np.array([full.lon[0], np.nan, full.lon[-1]]), np.array([full.lat[0], np.nan, full.lat[-1]]), view
    )
    assert with_break.tolist() == [full.sol[0], full.sol[0], full.sol[-1]]  # a break takes the sol before
    unknown = path_sols(dataset, np.array([1.0, 2.0]), np.array([1.0, 2.0]), view)
    assert unknown.tolist() == [13, 13]  # nothing found: the range's first sol, never decreasing


def test_the_figure_is_valid_plotly_with_a_legend_a_scale_bar_and_fixed_ranges():
    rep = replay_of(small_dataset(), replay(frames=4))
    go.Figure(rep.figure)  # validates every attribute
    layout = rep.figure["layout"]
    assert layout["showlegend"] and layout["xaxis"]["autorange"] is False and layout["yaxis"]["autorange"] is False
    (x0, x1), (y0, y1) = layout["xaxis"]["range"], layout["yaxis"]["range"]
    for trace in rep.figure["data"][:-1]:
        x, y = values(trace["x"]).astype(float), values(trace["y"]).astype(float)
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
        assert ((x > x0) & (x < x1)).all() and ((y > y0) & (y < y1)).all()
    texts = [a["text"] for a in layout["annotations"]]
    assert texts[-2].endswith(" m") and texts[-1].startswith("<b>Sol 13</b>")
    assert len(layout["shapes"]) == 4
    assert all("text" not in t and "hovertemplate" not in t for t in rep.figure["data"])  # still frames: no hover


def test_the_scale_bar_is_a_round_length_at_the_maps_latitude():
    metres_per_degree = 2 * math.pi * MARS_RADIUS_M / 360  # 59,157 m at the equator
    shapes, label = scale_bar([0.0, 1.0], [-0.1, 0.1])
    bar = shapes[1]
    assert label["text"] == "10 km"  # a fifth of the 59 km width, rounded down to 1, 2 or 5 x 10^k
    assert bar["x1"] - bar["x0"] == pytest.approx(10_000 / metres_per_degree)
    shapes, label = scale_bar([77.2, 77.5], [18.4, 18.5])  # Jezero: cos(18.45°) shrinks a degree to 56.1 km
    assert label["text"] == "2 km"
    assert shapes[1]["x1"] - shapes[1]["x0"] == pytest.approx(
        2000 / (metres_per_degree * math.cos(math.radians(18.45)))
    )
    assert scale_bar([77.4509, 77.4530], [18.4424, 18.4447])[1]["text"] == "20 m"
    assert [nice_length(m) for m in (0.3, 1, 7, 19, 20, 49, 51, 999, 3000)] == [1, 1, 5, 10, 20, 20, 50, 500, 2000]


def test_a_range_with_nothing_in_it_still_has_a_map_and_the_rover():
    dataset = small_dataset()
    gap = Dataset("6", {}, dataset.waypoints.iloc[0:0], dataset.traverse.iloc[0:0], dataset.traverse_points.iloc[0:0])
    rep = replay_of(gap, replay(frames=3))
    assert rep.rover == [None, None, None]
    x0, x1 = rep.figure["layout"]["xaxis"]["range"]
    assert x0 < 77.45 < x1  # Jezero
    assert isinstance(positions(gap), pd.DataFrame) and positions(gap).empty


def with_context() -> Dataset:
    """The small dataset with every context layer: the relief, Ingenuity's flights, the samples."""
    read = lambda name: (FIXTURES / name).read_bytes()  # noqa: E731
    return dataclasses.replace(
        small_dataset(),
        terrain=parse_crop(read("terrain_tiny.img"), read("terrain_tiny.json")),
        flights=parse_flights(read("heli_flights.json")).frame,
        samples=parse_samples(read("sample_sites.json")).frame,
    )


def test_the_context_layers_are_drawn_whole_on_every_frame():
    """Ingenuity's flights and the sample sites (colours by name, no sols) are context, as
    the path ahead is: every frame shows them as the map does; the rover's traces grow."""
    dataset = with_context()
    rep = replay_of(dataset, replay(end=400, frames=3))  # Ingenuity flew from sol 58
    groups = [t.get("legendgroup") for t in rep.figure["data"]]
    assert groups.count("ingenuity") == 3 and groups.count("samples") == 1
    for frame in rep.cuts:
        assert [c for c, g in zip(frame, groups, strict=True) if g in ("ingenuity", "samples")] == [None] * 4
    assert rep.cuts[0][1] is not None and rep.cuts[0][1] <= rep.cuts[-1][1]  # the drive path grows
    # one scale bar, the replay's (the map draws its own with the relief), and MOLA's credit
    texts = [a["text"] for a in rep.figure["layout"]["annotations"]]
    assert sum(t.endswith((" km", " m")) for t in texts) == 1 and any("MOLA" in t for t in texts)
    assert len(rep.figure["layout"]["shapes"]) == 4


def test_the_workers_replay_embeds_the_relief_the_page_links_it():
    """The worker's headless browser has no server to fetch the relief from: its replay
    figure carries the PNG inline (a data: URI); the page's refers to the app's URL."""
    dataset = with_context()
    worker = replay_of(dataset, replay(frames=3))  # inline by default
    (image,) = worker.figure["layout"]["images"]
    assert image["source"].startswith("data:image/png;base64,")
    page = replay_of(dataset, replay(frames=3), image_source=IMAGE_URL)
    assert page.figure["layout"]["images"][0]["source"].startswith("/terrain/")
