"""change_summary: what a new dataset version changes on the rover's track (pure: datasets
built from the fixture files, no Redis)."""

from __future__ import annotations

import copy
import hashlib
import json

import orjson
import pytest

from dashboard.data.changes import change_summary
from dashboard.data.parse import parse_traverse, parse_waypoints
from dashboard.data.store import Dataset, merge_current
from tests.helpers import FIXTURES

LM = "Wed, 04 Mar 2026 10:00:00 GMT"


def doc(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def digest(value: dict) -> str:
    return hashlib.sha256(orjson.dumps(value)).hexdigest()


def dataset(
    version: str, waypoints: dict, traverse: dict, current: dict | None = None, layer_meta: dict | None = None
) -> Dataset:
    """A dataset as the store would return it, its layers' metadata saying their sha256
    (of the documents), Last-Modified or fetch time (``layer_meta``: per layer, extra keys)."""
    layer_meta = layer_meta or {}
    wp = parse_waypoints(orjson.dumps(waypoints), "waypoints.json").frame
    tr = parse_traverse(orjson.dumps(traverse), "traverse.json")
    cur = parse_waypoints(orjson.dumps(current), "current.json", layer="current").frame if current else None
    layers = {
        name: {"sha256": digest(body), "fetched_at": "2026-03-05T08:00:00Z", **layer_meta.get(name, {})}
        for name, body in (("waypoints", waypoints), ("traverse", traverse), ("current", current))
        if body is not None
    }
    meta = {"version": version, "loaded_at": "2026-03-05T08:00:01Z", "layers": layers}
    return Dataset(
        version=version,
        meta=meta,
        waypoints=merge_current(wp, cur),
        traverse=tr.frame,
        traverse_points=tr.points,
        current=cur,
    )


@pytest.fixture
def v1() -> Dataset:
    return dataset("1", doc("waypoints_v2024.json"), doc("traverse_v2026.json"))


def newer_waypoints(sol: int = 19, total: float = 160.0, elev: float = -2567.0) -> dict:
    """The waypoint fixture with one more waypoint (sol 19)."""
    body = doc("waypoints_v2024.json")
    feature = copy.deepcopy(body["features"][-1])
    props = feature["properties"]
    props.update(sol=sol, RMC="4_700", drive=700, dist_total_m=total, dist_m=total - 133.9, elev_geoid=elev)
    props.update(lon=77.4541, lat=18.4417)
    feature["geometry"]["coordinates"] = [77.4541, 18.4417, elev]
    body["features"].append(feature)
    return body


def newer_traverse(length: float = 42.5) -> dict:
    body = doc("traverse_v2026.json")
    leg = copy.deepcopy(body["features"][-1])
    leg["properties"].update(sol=19, fromRMC="4_522", toRMC="4_700", length=length)
    leg["geometry"]["coordinates"] = [[77.4529, 18.4425, -2568.2], [77.4535, 18.4421, -2567.5]]
    body["features"].append(leg)
    return body


def test_the_first_version_is_all_new_and_compares_nothing(v1):
    change = change_summary(None, v1)
    assert change is not None
    assert change["first"] is True and change["previous_version"] is None and change["version"] == "1"
    assert (change["sol_min"], change["sol_max"]) == (13, 18)
    assert change["new_sols"] == 6 and change["new_waypoints"] == 8 and change["new_legs"] == 4
    assert change["distance_m"] is None and change["elevation_change_m"] is None
    assert change["newest"] == {
        "sol": 18,
        "earth_date": "2021-03-08",
        "lon": 77.4529,
        "lat": 18.4425,
        "elev_geoid_m": -2568.2,
        "layer": "waypoints",
        "rmc": "4_522",
    }
    assert change["layers_changed"] == ["waypoints", "traverse"]
    assert change["data_changed_at"] == "2026-03-05T08:00:00Z"  # no Last-Modified: the fetch time


def test_the_same_data_again_changes_nothing(v1):
    again = dataset("2", doc("waypoints_v2024.json"), doc("traverse_v2026.json"))
    assert change_summary(v1, again) is None


def test_a_reworded_note_is_not_a_change_of_the_track(v1):
    body = doc("waypoints_v2024.json")
    body["features"][3]["properties"]["Note"] = "a new note"
    assert change_summary(v1, dataset("2", body, doc("traverse_v2026.json"))) is None


def test_a_new_waypoint_counts_the_odometry_and_elevation_since_the_previous_version(v1):
    new = dataset("2", newer_waypoints(), doc("traverse_v2026.json"), layer_meta={"waypoints": {"last_modified": LM}})
    change = change_summary(v1, new)
    assert change is not None and change["first"] is False and change["previous_version"] == "1"
    assert (change["sol_min"], change["sol_max"], change["new_sols"]) == (19, 19, 1)
    assert (change["new_waypoints"], change["new_legs"]) == (1, 0)
    assert change["distance_m"] == pytest.approx(160.0 - 133.9)  # the waypoints' odometry grew
    assert change["elevation_change_m"] == pytest.approx(-2567.0 - -2568.2)
    assert change["newest"]["sol"] == 19 and (change["newest"]["lon"], change["newest"]["lat"]) == (77.4541, 18.4417)
    assert change["layers_changed"] == ["waypoints"]
    assert change["data_changed_at"] == "2026-03-04T10:00:00Z"  # the changed layer's Last-Modified


def test_new_traverse_legs_give_the_distance_driven(v1):
    new = dataset(
        "2",
        doc("waypoints_v2024.json"),
        newer_traverse(42.5),
        layer_meta={
            "waypoints": {"last_modified": LM},  # not changed: its Last-Modified is not the change's time
            "traverse": {"last_modified": "Thu, 05 Mar 2026 06:30:00 GMT"},
        },
    )
    change = change_summary(v1, new)
    assert change is not None
    assert (change["new_sols"], change["new_waypoints"], change["new_legs"]) == (1, 0, 1)
    assert change["distance_m"] == pytest.approx(42.5)
    assert change["newest"]["sol"] == 19 and change["newest"]["layer"] == "traverse"
    assert change["layers_changed"] == ["traverse"]
    assert change["data_changed_at"] == "2026-03-05T06:30:00Z"


def test_a_newer_current_position_is_a_new_waypoint(v1):
    new = dataset("2", doc("waypoints_v2024.json"), doc("traverse_v2026.json"), doc("current_v2026.json"))
    change = change_summary(v1, new)
    assert change is not None
    assert (change["new_sols"], change["new_waypoints"], change["new_legs"]) == (1, 1, 0)
    assert change["newest"]["layer"] == "current" and change["newest"]["rmc"] == "4_640"
    assert change["distance_m"] == pytest.approx(140.5 - 133.9)
    assert change["layers_changed"] == ["current"]


def test_new_waypoints_on_known_sols_name_those_sols(v1):
    body = doc("waypoints_v2024.json")
    extra = copy.deepcopy(body["features"][2])  # sol 15
    extra["properties"].update(RMC="3_400", drive=400)
    body["features"].insert(3, extra)
    change = change_summary(v1, dataset("2", body, doc("traverse_v2026.json")))
    assert change is not None
    assert (change["new_sols"], change["new_waypoints"]) == (0, 1)
    assert (change["sol_min"], change["sol_max"]) == (15, 15)
    assert change["newest"]["sol"] == 18  # the rover is where it was
    assert change["distance_m"] == 0.0


def test_the_summary_is_json_and_pure(v1):
    new = dataset("2", newer_waypoints(), newer_traverse())
    first, second = change_summary(v1, new), change_summary(v1, new)
    assert first == second
    assert orjson.loads(orjson.dumps(first)) == first
