"""Parsing and normalising every published shape of NASA's layers (pure code)."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pandas as pd
import pytest

from dashboard.data.parse import parse_traverse, parse_waypoints
from dashboard.data.schema import TRAVERSE_COLUMNS, TRAVERSE_POINT_COLUMNS, WAYPOINT_COLUMNS, DataError, to_number


def read(fixture_path, name: str) -> bytes:
    return fixture_path(name).read_bytes()


def assert_schema(frame: pd.DataFrame, columns: dict[str, str]) -> None:
    assert list(frame.columns) == list(columns)
    for name, dtype in columns.items():
        assert str(frame[name].dtype) == dtype, (name, frame[name].dtype)


WAYPOINT_VARIANTS = [
    "waypoints_v2024.json",
    "waypoints_v2022_sclk.json",
    "waypoints_strings_geometry.json",
    "waypoints_shapefile.json",
    "waypoints_sentinels.json",
    "waypoints_some_bad.json",
]


@pytest.mark.parametrize("name", WAYPOINT_VARIANTS)
def test_every_variant_has_the_same_schema(fixture_path, name):
    layer = parse_waypoints(read(fixture_path, name), name)
    assert_schema(layer.frame, WAYPOINT_COLUMNS)
    frame = layer.frame
    assert len(frame) > 0
    assert frame["sol"].is_monotonic_increasing
    assert frame["dist_total_m"].is_monotonic_increasing
    assert frame["dist_total_m"].notna().all()
    assert (frame["rmc"] == frame["site"].astype(str) + "_" + frame["drive"].astype(str)).all()
    assert np.allclose(frame["yaw_rad"], np.radians(frame["yaw"]), equal_nan=True)
    assert frame["lat"].between(-90, 90).all() and frame["lon"].between(-180, 360).all()


def test_current_schema_values(fixture_path):
    layer = parse_waypoints(read(fixture_path, "waypoints_v2024.json"), "v2024")
    f = layer.frame
    assert layer.name == "M20_waypoints_sol0018_all"
    assert layer.skipped == {}
    assert len(f) == 8
    first = f.iloc[0]
    assert first["sol"] == 13 and first["rmc"] == "3_0"
    assert first["lon"] == pytest.approx(77.45088572)
    assert first["elev_geoid"] == pytest.approx(-2569.91)
    assert first["note"] == "Site increment, no motion."
    assert first["image_url"] == "Layers/mosaics/N_0013_3_0.jpg"
    assert f["sclk_start"].isna().all()  # this shape has no SCLK fields
    assert f["final"].tolist() == [True, True, True, True, False, True, False, True]


def test_mid_drive_zeros_do_not_reset_odometry(fixture_path):
    f = parse_waypoints(read(fixture_path, "waypoints_v2024.json"), "v2024").frame
    # NASA writes 0 for both distances of the mid-drive rows (4_120 and 4_410).
    mid = f[~f["final"]]
    assert mid["rmc"].tolist() == ["4_120", "4_410"]
    assert mid["dist_total_m"].tolist() == [42.64, 93.84]  # carried from the drive before
    assert mid["dist_m"].isna().all()  # unknown, not zero
    assert f["dist_total_m"].tolist() == [0, 6.25, 42.64, 42.64, 42.64, 93.84, 93.84, 133.9]
    assert f["dist_total_m"].diff().dropna().ge(0).all()


def test_old_sclk_schema(fixture_path):
    layer = parse_waypoints(read(fixture_path, "waypoints_v2022_sclk.json"), "v2022")
    f = layer.frame
    assert len(f) == 6
    assert f["sclk_start"].iloc[0] == 0 and f["sclk_start"].iloc[1] > 0
    assert f["dist_total_m"].iloc[-1] == pytest.approx(93.84)  # from 'dist_total'
    assert f["image_url"].isna().all()


def test_numeric_strings_and_lonlat_from_geometry(fixture_path):
    f = parse_waypoints(read(fixture_path, "waypoints_strings_geometry.json"), "strings").frame
    assert f["sol"].tolist() == [13, 14, 15, 16, 16]
    assert f["lon"].iloc[0] == pytest.approx(77.45088572)  # 2-D geometry
    assert f["lat"].iloc[0] == pytest.approx(18.44462715)
    assert f["roll"].iloc[0] == pytest.approx(-1.1817)
    # the third feature has no elev_geoid property: its 3-D geometry gives it
    assert f["elev_geoid"].iloc[2] == pytest.approx(-2569.7)
    assert math.isnan(f["elev_radii"].iloc[0])


def test_shapefile_truncated_names(fixture_path):
    layer = parse_waypoints(read(fixture_path, "waypoints_shapefile.json"), "shp")
    f = layer.frame
    assert layer.name is None
    assert len(f) == 8
    assert f["dist_m"].iloc[2] == pytest.approx(36.39)  # drive__m
    assert f["dist_total_m"].iloc[-1] == pytest.approx(133.9)  # drive_tota
    assert f["final"].tolist() == [True, True, True, True, False, True, False, True]  # final_
    assert f["yaw_rad"].iloc[1] == pytest.approx(math.radians(140.25))  # computed: no yaw_rad
    assert "oid_" not in f.columns and (f["layer"] == "waypoints").all()  # the GIS LAYER column is not ours


def test_sentinels_become_missing(fixture_path):
    f = parse_waypoints(read(fixture_path, "waypoints_sentinels.json"), "sentinels").frame
    assert f["elev_radii"].isna().all() and f["radius"].isna().all()
    assert math.isnan(f["roll"].iloc[1])  # the string "-9999"
    assert f["roll"].iloc[0] == pytest.approx(-1.1817)


def test_bad_features_are_skipped_and_counted(fixture_path):
    layer = parse_waypoints(read(fixture_path, "waypoints_some_bad.json"), "some_bad")
    assert len(layer.frame) == 5
    assert layer.features == 10
    assert layer.skipped == {
        "not a GeoJSON Feature object": 1,
        "no usable sol": 1,
        "no usable lon/lat": 2,
        "no usable site/drive": 1,
    }
    assert layer.skipped_total == 5


def test_duplicate_rmc_keeps_the_later_value(fixture_path):
    doc = orjson.loads(read(fixture_path, "waypoints_v2024.json"))
    again = orjson.loads(orjson.dumps(doc["features"][1]))
    again["properties"]["roll"] = -0.95  # reprocessed
    doc["features"].insert(2, again)
    layer = parse_waypoints(orjson.dumps(doc), "dup")
    assert len(layer.frame) == 8
    assert layer.frame.set_index("rmc").loc["3_110", "roll"] == pytest.approx(-0.95)
    assert layer.skipped == {"duplicate site_drive (kept the later one)": 1}


def test_unsorted_file_is_sorted_by_sol_site_drive(fixture_path):
    doc = orjson.loads(read(fixture_path, "waypoints_v2024.json"))
    doc["features"].reverse()
    f = parse_waypoints(orjson.dumps(doc), "reversed").frame
    assert f["rmc"].iloc[0] == "3_0" and f["rmc"].iloc[-1] == "4_522"
    assert f["dist_total_m"].is_monotonic_increasing


@pytest.mark.parametrize(
    "value, expected",
    [
        (1, 1.0),
        (1.5, 1.5),
        ("2.25", 2.25),
        (" 7 ", 7.0),
        (-9999, None),
        ("-9999", None),
        (-9999.0, None),
        ("abc", None),
        (None, None),
        (True, None),
        ([], None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_to_number(value, expected):
    result = to_number(value)
    if expected is None:
        assert math.isnan(result)
    else:
        assert result == expected


# --- traverse -------------------------------------------------------------------------


def test_traverse_linestrings(fixture_path):
    layer = parse_traverse(read(fixture_path, "traverse_v2026.json"), "traverse")
    assert_schema(layer.frame, TRAVERSE_COLUMNS)
    assert_schema(layer.points, TRAVERSE_POINT_COLUMNS)
    legs, pts = layer.frame, layer.points
    assert legs["sol"].tolist() == [14, 15, 16, 17]
    assert legs["from_rmc"].tolist() == ["3_0", "3_110", "3_386", "4_120"]
    assert legs["length_m"].tolist() == [6.25, 36.39, 0.0, 51.2]
    assert legs["n_points"].tolist() == [5, 4, 2, 3]
    assert len(pts) == 14
    assert pts.groupby("seg").size().tolist() == [5, 4, 2, 3]
    assert pts["elev"].iloc[0] == pytest.approx(-2569.91)


def test_traverse_multilinestring_without_sol(fixture_path):
    layer = parse_traverse(read(fixture_path, "traverse_multiline_nosol.json"), "msl")
    legs, pts = layer.frame, layer.points
    assert len(legs) == 2
    assert legs["sol"].isna().all()
    assert legs["length_m"].tolist() == [120.5, 80.25]
    assert legs["n_points"].tolist() == [5, 2]
    assert pts[pts["seg"] == 0]["part"].tolist() == [0, 0, 1, 1, 1]
    assert pts["elev"].isna().all()  # 2-D vertices
    assert layer.skipped == {"no LineString/MultiLineString geometry": 1}


def test_traverse_bad_vertices_are_dropped():
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"sol": "5"},
                "geometry": {
                    "type": "LineString",
                    "coordinates": [
                        [77.1, 18.1, -2500],
                        [77.2, 18.2],
                        ["x", 18.3, 1],
                        [77.3, 95.0, 1],
                        [77.4, 18.4, -9999],
                    ],
                },
            },
        ],
    }
    layer = parse_traverse(orjson.dumps(doc), "t")
    assert layer.frame["sol"].tolist() == [5]
    assert layer.points["lon"].tolist() == [77.1, 77.2, 77.4]
    assert layer.points["elev"].isna().tolist() == [False, True, True]


# --- what cannot be understood --------------------------------------------------------


@pytest.mark.parametrize(
    "name, message",
    [
        ("bad_not_json.txt", "not valid JSON"),
        ("bad_truncated.json", "not valid JSON"),
        ("bad_html.html", "got an HTML page, not JSON"),
        ("bad_not_featurecollection.json", "not a GeoJSON FeatureCollection (JSON object with type 'Feature')"),
        ("bad_empty_featurecollection.json", "FeatureCollection is empty: no features"),
        ("bad_no_sol.json", "required field 'sol' is missing in every feature"),
    ],
)
def test_bad_waypoint_files_are_rejected_with_a_clear_error(fixture_path, name, message):
    with pytest.raises(DataError) as err:
        parse_waypoints(read(fixture_path, name), f"/data/{name}")
    assert str(err.value).startswith(f"local file {name}: ")  # never the server path
    assert message in str(err.value)


@pytest.mark.parametrize(
    "body, message",
    [
        (b"", "empty response"),
        (b"[1, 2]", "JSON list is not a GeoJSON FeatureCollection"),
        (b'{"features": []}', "no 'type'"),
        (b'{"type": "FeatureCollection", "features": {}}', "has no 'features' list"),
        (b'{"type": "FeatureCollection", "features": [1, 2, 3]}', "no usable features: all 3 features were skipped"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"  <?xml version='1.0'?><error/>", "got XML/HTML markup"),
    ],
)
def test_bad_bodies(body, message):
    with pytest.raises(DataError, match=None) as err:
        parse_waypoints(body, "src")
    assert message in str(err.value)


def test_no_site_drive_anywhere_is_rejected(fixture_path):
    # the traverse file given as the waypoint source
    with pytest.raises(DataError) as err:
        parse_waypoints(read(fixture_path, "traverse_v2026.json"), "wrong-file")
    assert "missing in every feature" in str(err.value)


def test_traverse_without_lines_is_rejected(fixture_path):
    with pytest.raises(DataError) as err:
        parse_traverse(read(fixture_path, "waypoints_v2024.json"), "wrong-file")
    assert "no usable features" in str(err.value)
    assert "8 no LineString/MultiLineString geometry" in str(err.value)


def test_dataset_memo_builds_once_per_version_and_stays_bounded():
    import pandas as pd

    from dashboard.data.memo import Memo
    from dashboard.data.store import Dataset

    empty = pd.DataFrame()
    ds = Dataset("1", {}, empty, empty, empty)
    calls = []
    assert ds.memo("k", lambda: calls.append(1) or b"x") == b"x"
    assert ds.memo("k", lambda: calls.append(1) or b"y") == b"x"
    assert calls == [1]
    assert Dataset("2", {}, empty, empty, empty).memo("k", lambda: b"z") == b"z"  # another version, its own memo
    memo = Memo(max_entries=10, max_bytes=10)
    memo.get("a", lambda: b"123456")
    memo.get("b", lambda: b"123456")  # over the byte bound: starts over
    assert memo.get("a", lambda: b"rebuilt") == b"rebuilt"


def test_answers_never_evict_the_values_derived_from_a_version():
    import pandas as pd

    from dashboard.data.memo import MEMO_MAX_ENTRIES
    from dashboard.data.store import Dataset

    empty = pd.DataFrame()
    ds = Dataset("1", {}, empty, empty, empty)
    builds = []
    ds.memo("path levels", lambda: builds.append(1) or "levels")
    for i in range(3 * MEMO_MAX_ENTRIES):  # a crawler cycling through sol ranges
        ds.answer(("perseverance", i), lambda: b"{}")
    assert ds.memo("path levels", lambda: builds.append(1) or "rebuilt") == "levels"
    assert builds == [1]


def test_a_flood_of_distinct_sol_ranges_cannot_evict_the_answers_people_ask_for():
    """Finding 1: 257 (here 10,000) distinct sol ranges, each asked once, used to empty the
    answer memo, the full-range answer every visitor asks for included."""
    import pandas as pd

    from dashboard.data.memo import MEMO_MAX_BYTES, MEMO_MAX_ENTRIES
    from dashboard.data.store import Dataset

    empty = pd.DataFrame()
    ds = Dataset("1", {}, empty, empty, empty)
    builds = []
    full = ("features", 0, 13, 1840)
    for _ in range(3):  # the default view, asked by every visitor
        ds.answer(full, lambda: builds.append("full") or b"F" * 240_000)
    for i in range(10_000):  # a crawler: each range once
        ds.answer(("features", 0, i, i + 1), lambda: b"[]")
    assert ds.answer(full, lambda: builds.append("full") or b"rebuilt") == b"F" * 240_000
    assert builds == ["full"]
    # large one-off answers cannot push it out by bytes either
    for i in range(2 * MEMO_MAX_BYTES // 240_000):
        ds.answer(("features", 0, 0, i), lambda: b"C" * 240_000)
    assert ds.answer(full, lambda: b"rebuilt") == b"F" * 240_000
    # and the memo stays bounded
    for i in range(2 * MEMO_MAX_ENTRIES):
        for _ in range(2):
            ds.answer(("twice", i), lambda: b"t")
    assert ds.answer(("twice", 2 * MEMO_MAX_ENTRIES - 1), lambda: b"rebuilt") == b"t"
