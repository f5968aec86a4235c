"""jobs.vector: the export's copy of a figure is vector and thinned to its pixels."""

from __future__ import annotations

import numpy as np

from dashboard.exports.vector import for_export, thin_keep
from dashboard.figures import Frames, View, arr, build, values


def test_scattergl_becomes_scatter_and_the_page_figure_is_untouched():
    x = np.linspace(0, 1, 5000)
    fig = {"data": [{"type": "scattergl", "x": arr(x), "y": arr(np.sin(x)), "mode": "lines"}], "layout": {}}
    out = for_export(fig, 800, 400)
    assert out["data"][0]["type"] == "scatter"
    assert fig["data"][0]["type"] == "scattergl" and len(values(fig["data"][0]["x"])) == 5000


def test_thinning_keeps_one_vertex_per_pixel_run_breaks_and_ends():
    x = np.concatenate([np.linspace(0, 1, 4000), [np.nan], np.linspace(1, 2, 4000)])
    y = np.concatenate([np.zeros(4000), [np.nan], np.ones(4000)])
    keep = thin_keep(x, y, 200, 100)
    assert len(keep) < 1000
    assert 0 in keep and len(x) - 1 in keep and 4000 in keep  # first, last, the break
    kx = x[keep]
    assert np.isnan(kx).sum() == 1
    # no two consecutive kept vertices more than ~1 pixel apart where the original was dense
    finite = kx[np.isfinite(kx)]
    assert np.max(np.diff(finite[: len(finite) // 2])) <= 2 / 200 + 1e-9


def test_per_point_arrays_and_selection_follow_the_thinning():
    n = 3000
    x = np.repeat(np.arange(n // 3), 3).astype(float)  # triples on one spot
    trace = {
        "type": "scattergl",
        "x": arr(x),
        "y": arr(x),
        "mode": "markers",
        "text": [str(i) for i in range(n)],
        "customdata": list(range(n)),
        "marker": {"color": arr(np.arange(n), "i4"), "size": 5},
        "selectedpoints": [0, 1, 2, 5, 2999],
    }
    out = for_export({"data": [trace], "layout": {}}, 40, 40)["data"][0]
    kept = len(values(out["x"]))
    assert kept < n
    assert len(out["text"]) == len(out["customdata"]) == len(values(out["marker"]["color"])) == kept
    assert out["marker"]["size"] == 5
    assert all(0 <= i < kept for i in out["selectedpoints"])
    kept_ids = [out["customdata"][i] for i in out["selectedpoints"]]
    assert set(kept_ids) <= {0, 1, 2, 5, 2999} and 2999 in kept_ids


def test_every_chart_of_the_fixtures_is_exportable(fixture_path):
    from dashboard.data.parse import parse_traverse, parse_waypoints

    wp = parse_waypoints(fixture_path("waypoints_v2024.json").read_bytes()).frame
    tr = parse_traverse(fixture_path("traverse_v2026.json").read_bytes())
    view = View.of(int(wp.sol.min()), int(wp.sol.max()))
    for chart in ("map", "orientation", "position", "elevation", "elevation_distance", "distance"):
        out = for_export(build(chart, Frames(wp, tr.frame, tr.points), view), 1200, 600)
        assert all(t.get("type") != "scattergl" for t in out["data"])
