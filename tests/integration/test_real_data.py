"""NASA's real files (PTRACKER_SHARED_DATA, by default the shared data folder beside the
checkout); skipped when absent."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.data.load import load
from dashboard.data.parse import parse_traverse, parse_waypoints
from dashboard.data.schema import WAYPOINT_COLUMNS

pytestmark = pytest.mark.realdata


def test_waypoints_sol1110(shared_data):
    layer = parse_waypoints((shared_data / "M20_waypoints.json").read_bytes(), "M20_waypoints.json")
    f = layer.frame
    assert len(f) == 380 and layer.skipped == {}
    assert (f["sol"].min(), f["sol"].max()) == (13, 1110)
    assert (~f["final"]).sum() == 85
    # NASA's file drops dist_total_m back to 0 sixty times; ours never decreases
    assert f["dist_total_m"].is_monotonic_increasing
    assert f["dist_total_m"].iloc[-1] == pytest.approx(f[f["final"]]["dist_total_m"].max())
    assert f["yaw"].between(-180, 180).all() and f["tilt"].max() == pytest.approx(20.3, abs=0.1)


def test_old_schema_has_the_same_columns(shared_data):
    old = parse_waypoints((shared_data / "M20_waypoints_tosol0402.json").read_bytes(), "tosol0402").frame
    new = parse_waypoints((shared_data / "M20_waypoints.json").read_bytes(), "sol1110").frame
    assert len(old) == 124
    assert (old["sol"].min(), old["sol"].max()) == (13, 402)
    assert list(old.columns) == list(new.columns) == list(WAYPOINT_COLUMNS)
    assert (old.dtypes == new.dtypes).all()
    assert old["dist_total_m"].is_monotonic_increasing
    assert old["sclk_start"].notna().all()


def test_current_position_has_missing_radius_not_sentinel(shared_data):
    f = parse_waypoints((shared_data / "M20_waypoints_current.json").read_bytes(), "current").frame
    assert len(f) == 1
    row = f.iloc[0]
    assert row["sol"] == 1840 and row["rmc"] == "87_5154"
    assert pytest.approx(41737.781) == row["dist_total_m"]
    assert f["elev_radii"].isna().all() and f["radius"].isna().all()


def test_traverse_to_sol1840(shared_data):
    layer = parse_traverse((shared_data / "M20_traverse.json").read_bytes(), "M20_traverse.json")
    legs = layer.frame
    assert len(legs) == 522 and layer.skipped == {}
    assert (legs["sol"].min(), legs["sol"].max()) == (14, 1840)
    assert len(layer.points) == 33749
    assert legs["length_m"].sum() / 1000 == pytest.approx(42.54, abs=0.01)
    assert (legs["length_m"] == 0).sum() == 5


def test_full_load_into_redis(store, settings, shared_data):
    summary = load(
        store,
        settings.replace(max_bytes=10 * 1024 * 1024),
        waypoints_source=str(shared_data / "M20_waypoints.json"),
        traverse_source=str(shared_data / "M20_traverse.json"),
    )
    assert summary["waypoints"]["rows"] == 380 and summary["traverse"]["rows"] == 522
    meta = store.meta()
    assert meta["layers"]["waypoints"]["sha256"] == "28d4d130a52091aa915eff4adbfccf348eb5efd443b7f4f7277b9e8d72923cc4"
    assert meta["layers"]["traverse"]["sha256"] == "68b32fa39d12e2751640e0abfc311da03f83ebf6c7ff43dbe5acdbe82121651e"
    assert len(store.current().traverse_points) == 33749


def test_the_whole_drive_and_where_the_rover_is_now(store, settings, shared_data):
    """Waypoints to sol 1110, traverse and current position to sol 1840: one timeline."""
    from dashboard.app import create_app
    from dashboard.figures import values
    from dashboard.page.callbacks.charts import chart_figures
    from dashboard.page.pieces import now_items
    from dashboard.page.ranges import sol_bounds

    summary = load(
        store,
        settings.replace(max_bytes=10 * 1024 * 1024),
        waypoints_source=str(shared_data / "M20_waypoints.json"),
        traverse_source=str(shared_data / "M20_traverse.json"),
        current_source=str(shared_data / "M20_waypoints_current.json"),
    )
    assert summary["current"] == {
        "status": "newer",
        "sol": 1840,
        "rmc": "87_5154",
        "source": "local file M20_waypoints_current.json",  # never a server path
    }
    dataset = store.current()
    assert sol_bounds(dataset) == (13, 1840)
    figs = chart_figures(dataset, 13, 1840)
    # the map's path at the full range ends at the traverse's last vertex
    path = figs["map"]["data"][0]
    xs, ys = values(path["x"]), values(path["y"])
    assert xs[-1] == pytest.approx(77.2201, abs=1e-4) and ys[-1] == pytest.approx(18.4325, abs=1e-4)
    # the distance chart's traverse odometry ends near 42.5 km
    legs = next(t for t in figs["distance"]["data"] if t["name"].startswith("odometry · traverse"))
    assert values(legs["y"])[-1] == pytest.approx(42.54, abs=0.01)
    assert values(legs["x"])[-1] == 1840
    # position and elevation beyond the last waypoint come from the traverse
    pos = next(t for t in figs["position"]["data"] if t["name"] == "latitude · traverse")
    sols = values(pos["x"])
    assert (sols > 1110).sum() > 200 and np.nanmax(sols) == 1835  # sol 1840 is the current position's
    assert "from the traverse layer" in pos["hovertemplate"]
    elev = next(t for t in figs["elevation"]["data"] if t["name"] == "elevation · traverse")
    assert np.nanmax(values(elev["y"])) - np.nanmin(values(elev["y"])) > 300  # the climb after sol 1110
    # orientation: a gap with words, not a line across 700 sols
    notes = figs["orientation"]["layout"]["annotations"]
    assert any("No orientation for<br>sols 1111–1839" in a["text"] for a in notes)
    yaw = figs["orientation"]["data"][0]
    assert np.nanmax(values(yaw["x"])) == 1110
    # the now card and the API
    where, fresh = (dict(x) for x in now_items(dataset))
    assert where["Latest sol"] == "sol 1840" and where["Earth date"].startswith("2026-04-23 UTC")
    assert fresh == {"Waypoints": "to sol 1110", "Traverse": "to sol 1840", "Current position": "sol 1840"}
    client = create_app(settings, store).server.test_client()
    assert client.get("/perseverance/sol").data == b"Most recent data waypoint is at Sol-1840"
    now = client.get("/perseverance/current").get_json()
    assert now["sol"] == 1840 and now["earth_date"] == "2026-04-23" and now["layer"] == "current"
    assert now["odometry_km"] == pytest.approx(41.738, abs=0.001)
