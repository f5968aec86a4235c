"""Figure builders: traces, axis titles and point counts for a given range."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import figures
from dashboard.data.parse import parse_traverse, parse_waypoints
from dashboard.figures import BUILDERS, Frames, View, build, path_xy, thin_indices, values
from dashboard.figures.common import GL_THRESHOLD


@pytest.fixture(scope="module")
def frames():
    from tests.helpers import FIXTURES

    wp = parse_waypoints((FIXTURES / "waypoints_v2024.json").read_bytes(), "wp").frame
    tr = parse_traverse((FIXTURES / "traverse_v2026.json").read_bytes(), "tr")
    return wp, tr.frame, tr.points


def make(chart, frames, lo, hi, sols=None):
    wp, legs, pts = frames
    return build(chart, Frames(wp, legs, pts), View.of(lo, hi, sols))


def finite(spec) -> int:
    """Points drawn (NaN breaks a line and is not a point)."""
    return int(np.isfinite(values(spec).astype(float)).sum())


def titles(fig, axis):
    return fig["layout"][axis]["title"]["text"]


@pytest.mark.parametrize("chart", list(BUILDERS))
def test_every_figure_is_valid_plotly(frames, chart):
    fig = make(chart, frames, 13, 18)
    go.Figure(fig)  # raises on anything plotly does not accept
    assert fig["layout"]["title"]["text"].endswith("(sols 13–18)")


def test_orientation(frames):
    fig = make("orientation", frames, 13, 18)
    assert [t["name"] for t in fig["data"]] == ["yaw", "pitch", "roll", "tilt"]
    assert [t.get("yaxis", "y") for t in fig["data"]] == ["y", "y2", "y2", "y2"]
    assert all(finite(t["x"]) == 8 for t in fig["data"])
    assert titles(fig, "yaxis") == "Yaw (°)" and titles(fig, "yaxis2") == "Pitch / roll / tilt (°)"
    assert titles(fig, "xaxis") == "Sol"
    assert values(fig["data"][0]["y"])[0] == pytest.approx(130.8816)
    # sol, Earth date and layer in the hover
    assert fig["data"][0]["text"][0] == "2021-03-03"
    assert fig["data"][0]["hovertemplate"].startswith("Sol %{x} · %{text} (UTC)<br>from the waypoint layer")


def test_yaw_breaks_where_it_wraps(frames):
    yaw = make("orientation", frames, 13, 18)["data"][0]
    ys = values(yaw["y"])
    # 95.5 (sol 15) -> -170.2 (sol 16) wraps at ±180: a gap, not a vertical stroke
    assert np.isnan(ys).sum() == 1 and ys[2] == pytest.approx(95.5) and ys[4] == pytest.approx(-170.2)
    assert yaw["text"][3] == ""
    pitch = make("orientation", frames, 13, 18)["data"][1]
    assert not np.isnan(values(pitch["y"])).any()


def test_range_changes_point_counts(frames):
    for lo, hi, n in [(13, 18, 8), (14, 16, 4), (16, 16, 2), (18, 13, 8)]:
        fig = make("position", frames, lo, hi)
        assert [finite(t["x"]) for t in fig["data"]] == [n, n]
        assert set(values(fig["data"][0]["x"]).tolist()) <= set(range(min(lo, hi), max(lo, hi) + 1))


def test_position_axes(frames):
    fig = make("position", frames, 13, 18)
    assert [t["name"] for t in fig["data"]] == ["latitude", "longitude"]
    assert titles(fig, "yaxis") == "Latitude (°N)" and titles(fig, "yaxis2") == "Longitude (°E)"


def test_map(frames):
    fig = make("map", frames, 13, 18)
    path, pts = fig["data"]
    assert path["name"] == "drive path (traverse layer)" and path["type"] == "scatter"  # one SVG path
    assert pts["name"] == "waypoints (waypoint layer)" and len(values(pts["x"])) == 8
    assert values(pts["marker"]["color"]).tolist() == [13, 14, 15, 16, 16, 17, 18, 18]  # coloured by sol
    assert pts["customdata"][0] == "3_0"  # what a click or a selection names
    assert pts["text"][0].startswith("Sol 13<br>2021-03-03 (UTC)<br>site_drive 3_0<br>elevation -2569.9 m")
    assert pts["hovertemplate"] == "%{text}<br>from the waypoint layer<extra></extra>"
    assert fig["layout"]["legend"]["x"] == 0 and fig["layout"]["title"]["yref"] == "container"
    assert fig["layout"]["yaxis"]["scaleanchor"] == "x"  # equal aspect
    assert titles(fig, "xaxis") == "Longitude (°E)" and titles(fig, "yaxis") == "Latitude (°N)"
    # 4 legs (sols 14..17), 14 vertices: legs that meet are one line; repeated vertices
    # within a leg are dropped (each leg keeps its first); one break where sol 17's leg
    # starts away from where sol 16's ended
    xs = values(path["x"])
    assert np.isnan(xs).sum() == 1 and (~np.isnan(xs)).sum() == 11


def test_map_range_limits_the_path(frames):
    fig = make("map", frames, 14, 15)
    xs = values(fig["data"][0]["x"])
    assert np.isnan(xs).sum() == 0 and len(xs) == 7  # two legs that meet: one line
    assert len(values(fig["data"][1]["x"])) == 2


def test_selection_narrows_other_charts_but_not_the_map(frames):
    fig = make("orientation", frames, 13, 18, sols=[14, 16])
    assert finite(fig["data"][0]["x"]) == 3
    assert "2 selected" in fig["layout"]["title"]["text"]
    m = make("map", frames, 13, 18, sols=[14, 16])
    assert len(values(m["data"][1]["x"])) == 8
    assert m["data"][1]["selectedpoints"] == [1, 3, 4]


def test_elevation_charts(frames):
    by_sol = make("elevation", frames, 13, 18)
    assert titles(by_sol, "yaxis") == "Elevation above geoid (m)" and titles(by_sol, "xaxis") == "Sol"
    by_dist = make("elevation_distance", frames, 13, 18)
    assert titles(by_dist, "xaxis") == "Distance driven (km)"
    assert values(by_dist["data"][0]["x"]).tolist() == pytest.approx(
        [0, 0.00625, 0.04264, 0.04264, 0.04264, 0.09384, 0.09384, 0.1339]
    )


def test_distance_bars_and_odometry(frames):
    fig = make("distance", frames, 13, 18)
    bars, odo, legs = fig["data"]
    assert legs["name"] == "odometry · traverse legs (km)"
    assert values(legs["y"]).tolist() == pytest.approx([0.00625, 0.04264, 0.04264, 0.09384])
    assert bars["type"] == "bar" and values(bars["x"]).tolist() == [13, 14, 15, 16, 17, 18]
    assert values(bars["y"]).tolist() == pytest.approx([0, 6.25, 36.39, 0, 51.2, 40.06])
    assert values(odo["y"]).tolist() == pytest.approx([0, 0.00625, 0.04264, 0.04264, 0.09384, 0.1339])
    assert titles(fig, "yaxis") == "Driven per sol (m)" and fig["layout"]["yaxis2"]["title"]["text"] == "Odometry (km)"
    # a range starting later still counts that sol's drive, not the odometry so far
    later = make("distance", frames, 15, 18)
    assert values(later["data"][0]["y"]).tolist() == pytest.approx([36.39, 0, 51.2, 40.06])


def test_empty_range_says_so(frames):
    fig = make("orientation", frames, 100, 200)
    assert fig["layout"]["annotations"][0]["text"] == "No waypoints in this sol range"
    assert len(values(fig["data"][0]["x"])) == 0


def test_unknown_chart(frames):
    with pytest.raises(KeyError):
        make("pie", frames, 13, 18)


def test_thinning_keeps_extremes():
    y = np.sin(np.linspace(0, 50, 100_000))
    y[12345] = 9.0
    y[77777] = -9.0
    idx = thin_indices(y, 2000)
    assert len(idx) <= 2000
    assert 12345 in idx and 77777 in idx and idx[0] == 0 and idx[-1] == len(y) - 1
    assert thin_indices(y[:100], 2000).tolist() == list(range(100))


def test_large_series_stay_within_budget_and_svg(frames):
    """Thinned to SERIES_BUDGET points (fewer than GL_THRESHOLD): drawn as SVG, which a
    fresh browser draws faster than it starts a WebGL context per chart."""
    wp = frames[0]
    big = pd.concat([wp.assign(sol=wp["sol"] + 10 * k) for k in range(1000)], ignore_index=True)
    fig = build("orientation", Frames(big, frames[1], frames[2]), View.of(0, 20_000))
    assert figures.SERIES_BUDGET < GL_THRESHOLD and all(t["type"] == "scatter" for t in fig["data"])
    many = build("map", Frames(big, frames[1], frames[2]), View.of(0, 20_000))
    markers = next(t for t in many["data"] if t["name"].startswith("waypoints"))
    assert markers["type"] == "scattergl" and len(values(markers["x"])) == figures.MAP_POINT_BUDGET > GL_THRESHOLD
    assert all(finite(t["x"]) <= figures.SERIES_BUDGET for t in fig["data"])  # plus NaN breaks at yaw wraps
    bars = build("distance", Frames(big, frames[1], frames[2]), View.of(0, 20_000))["data"][0]
    assert len(values(bars["x"])) <= figures.BAR_BUDGET


def test_path_budget(frames):
    legs = frames[1]
    n = 40_000
    many = pd.DataFrame(
        {
            "seg": np.zeros(n, dtype=np.int64),
            "part": np.zeros(n, dtype=np.int64),
            "lon": np.linspace(77.0, 77.5, n),
            "lat": np.linspace(18.0, 18.5, n),
            "elev": np.zeros(n),
        }
    )
    xs, _ = path_xy(legs.iloc[:1], many, View.of(0, 100))
    assert len(xs) <= figures.PATH_BUDGET + 2
    assert xs[0] == 77.0 and xs[-1] == 77.5


def test_path_breaks_only_at_real_gaps():
    legs = pd.DataFrame({"seg": [0, 1, 2], "sol": pd.array([5, 6, 7], dtype="Int64")})
    pts = pd.DataFrame(
        {
            "seg": [0, 0, 1, 1, 2, 2],
            "part": [0] * 6,
            "lon": [77.0, 77.001, 77.001, 77.002, 77.1, 77.101],  # leg 2 starts ~5 km away
            "lat": [18.0, 18.0, 18.0, 18.0, 18.0, 18.0],
        }
    )
    xs, ys = path_xy(legs, pts, View.of(0, 10))
    assert np.isnan(xs).tolist() == [False, False, False, False, True, False, False]
    xs, _ = path_xy(legs, pts, View.of(6, 6))
    assert xs.tolist() == [77.001, 77.002]


@pytest.fixture(scope="module")
def late_current(frames):
    """The fixtures plus a current position at sol 200: far after the last waypoint (18)."""
    from dashboard.data.store import merge_current
    from tests.helpers import FIXTURES

    cur = parse_waypoints((FIXTURES / "current_v2026.json").read_bytes(), "cur", layer="current").frame
    cur = cur.assign(sol=200)
    return merge_current(frames[0], cur), frames[1], frames[2]


def test_current_position_is_a_named_star(late_current):
    fig = make("map", late_current, 13, 200)
    star = fig["data"][-1]
    assert star["name"] == "current position, sol 200 (current-position layer)"
    assert star["marker"]["symbol"] == "star" and star["customdata"] == ["4_640"]
    assert "from the current-position layer" in star["hovertemplate"]
    assert len(values(fig["data"][1]["x"])) == 8  # the waypoint layer's markers
    orient = make("orientation", late_current, 13, 200)
    assert [t["name"] for t in orient["data"]][4:] == ["current position"] * 4
    assert [t["showlegend"] for t in orient["data"][4:]] == [True, False, False, False]


def test_a_long_stretch_without_waypoints_is_a_gap_with_words(late_current):
    fig = make("orientation", late_current, 13, 200)
    assert fig["layout"]["annotations"][0]["text"].startswith("No orientation for<br>sols 19–199:")
    assert fig["layout"]["shapes"][0]["x0"] == 18 and fig["layout"]["shapes"][0]["x1"] == 200
    assert all(np.nanmax(values(t["x"])) == 18 for t in fig["data"][:4])  # no line out to sol 200
    # a view starting after the last waypoint: the gap runs from the view's start
    late = make("orientation", late_current, 100, 200)
    assert late["layout"]["annotations"][0]["text"].startswith("No orientation for<br>sols 101–199")
    assert (
        "annotations" not in make("orientation", late_current, 13, 18)["layout"]
        or not make("orientation", late_current, 13, 18)["layout"]["annotations"]
    )


def test_earth_date_axis(frames):
    wp, legs, pts = frames
    fig = build("orientation", Frames(wp, legs, pts), View.of(13, 18, time_axis="date"))
    assert fig["layout"]["xaxis"]["type"] == "date"
    assert titles(fig, "xaxis") == "Earth date (UTC, start of sol)"
    xs = fig["data"][0]["x"]
    assert xs[0] == "2021-03-03T12:58:53" and None in xs  # sol 13's start; the yaw wrap's break
    assert fig["data"][0]["text"][0] == "13"  # the hover still names the sol
    assert fig["data"][0]["hovertemplate"].startswith("Sol %{text} · %{x|%Y-%m-%d} (UTC)")
    dist = build("distance", Frames(wp, legs, pts), View.of(13, 18, time_axis="date"))
    assert dist["layout"]["xaxis"]["type"] == "date" and dist["data"][0]["x"][0].startswith("2021-03-03")
    assert View.of(1, 2, time_axis="junk").time_axis == "sol"


def test_traverse_fills_sols_without_waypoints(frames):
    from dashboard.data.memo import Memo
    from dashboard.data.timeline import traverse_by_sol, traverse_only

    wp, legs, pts = frames
    memo = Memo().get  # a dataset version's memo (Dataset.memo)
    by_sol = traverse_by_sol(legs, pts, memo)
    assert by_sol["sol"].tolist() == [14, 15, 16, 17]
    assert by_sol["total_m"].tolist() == pytest.approx([6.25, 42.64, 42.64, 93.84])
    assert by_sol["lon"].iloc[-1] == pytest.approx(77.4521) and by_sol["elev"].iloc[-1] == pytest.approx(-2568.9)
    assert traverse_by_sol(legs, pts, memo) is by_sol  # memoised per dataset version
    assert traverse_by_sol(legs, pts).equals(by_sol)  # without a memo: the same table, built again
    few = wp[wp["sol"] <= 15]
    only = traverse_only(few, legs, pts)
    assert only["sol"].tolist() == [16, 17]
    fig = build("position", Frames(few, legs, pts), View.of(13, 18))
    names = [t["name"] for t in fig["data"]]
    assert names == ["latitude", "longitude", "latitude · traverse", "longitude · traverse"]
    assert values(fig["data"][2]["x"]).tolist() == [16, 17]
    assert "from the traverse layer" in fig["data"][2]["hovertemplate"]
    dist = build("distance", Frames(few, legs, pts), View.of(13, 18))
    assert [t["name"] for t in dist["data"]][:2] == ["driven per sol (m)", "driven per sol · traverse (m)"]
    assert values(dist["data"][1]["y"]).tolist() == pytest.approx([0, 51.2])


def test_mission_folder_and_panoramas():
    from dashboard.data.timeline import mission_folder, panorama_url

    assert (
        mission_folder("https://mars.nasa.gov/mmgis-maps/M20/Layers/json/M20_waypoints.json")
        == "https://mars.nasa.gov/mmgis-maps/M20/"
    )
    assert mission_folder("http://mirror.example/m20/M20_waypoints.json") == "http://mirror.example/m20/"
    assert mission_folder("/data/M20_waypoints.json") == "https://mars.nasa.gov/mmgis-maps/M20/"
    assert panorama_url("Layers/mosaics/N.jpg", None) == "https://mars.nasa.gov/mmgis-maps/M20/Layers/mosaics/N.jpg"
    assert panorama_url("https://x.example/p.jpg", None) == "https://x.example/p.jpg"
    assert panorama_url(None, None) is None and panorama_url(float("nan"), None) is None


def test_map_path_levels_are_cached_on_the_dataset_version(frames):
    """What a figure derives from a dataset version's frames alone (the map's path levels,
    the traverse by sol) is built once per version, through the data's memo, not kept in a
    module-level cache; the figure is the same either way."""
    from dashboard.data.timeline import BY_SOL_MEMO_KEY

    class Counting:
        """Frames whose memo counts what it had to build."""

        def __init__(self, inner: Frames):
            self.inner, self.built = inner, []
            self.waypoints, self.traverse, self.traverse_points = inner.waypoints, inner.traverse, inner.traverse_points

        def memo(self, key, build):
            return self.inner.memo(key, lambda: self.built.append(key) or build())

    data = Counting(Frames(*frames))
    first = build("map", data, View.of(13, 18))
    again = build("map", data, View.of(14, 16))
    assert data.built == [figures.PATH_MEMO_KEY]
    assert build("map", Frames(*frames), View.of(13, 18)) == first
    assert build("map", Frames(*frames), View.of(14, 16)) == again
    build("distance", data, View.of(13, 18))
    build("distance", data, View.of(14, 16))
    assert data.built == [figures.PATH_MEMO_KEY, BY_SOL_MEMO_KEY]
    assert not [name for name in vars(figures) if name.endswith("_CACHE")]  # no module-level caches
