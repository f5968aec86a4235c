"""Loading into a real Redis: conditional fetches, failures that keep the current dataset."""

from __future__ import annotations

import pytest

from dashboard.data.load import LoadError, load, one_line

BAD_FILES = [
    ("bad_not_json.txt", "not valid JSON"),
    ("bad_truncated.json", "not valid JSON"),
    ("bad_html.html", "got an HTML page, not JSON"),
    ("bad_not_featurecollection.json", "not a GeoJSON FeatureCollection"),
    ("bad_empty_featurecollection.json", "FeatureCollection is empty"),
    ("bad_no_sol.json", "required field 'sol' is missing in every feature"),
    ("does_not_exist.json", "no such file"),
]


def test_load_from_files(store, settings):
    summary = load(store, settings)
    assert summary["status"] == "loaded"
    assert summary["version"] == "1"
    assert summary["waypoints"] == {
        "rows": 8,
        "sol_min": 13,
        "sol_max": 18,
        "skipped": 0,
        "source": "local file waypoints_v2024.json",  # never a server path
    }
    assert summary["traverse"]["rows"] == 4 and summary["traverse"]["points"] == 14
    assert one_line(summary) == (
        "loaded version 1: 8 waypoints (sols 13..18), 4 traverse segments (sols 14..17), "
        "no current-position layer, 0 features skipped"
    )
    meta = store.meta()
    layer = meta["layers"]["waypoints"]
    assert layer["name"] == "M20_waypoints_sol0018_all"
    assert len(layer["sha256"]) == 64 and layer["bytes"] > 0
    assert store.last_load()["ok"] is True


def test_current_position_newer_than_the_waypoints_is_the_newest_waypoint(store, settings, fixture_path):
    summary = load(store, settings, current_source=str(fixture_path("current_v2026.json")))
    assert summary["current"] == {
        "status": "newer",
        "sol": 19,
        "rmc": "4_640",
        "source": "local file current_v2026.json",
    }
    dataset = store.current()
    assert dataset.waypoints["sol"].max() == 19 and dataset.waypoints["layer"].iloc[-1] == "current"
    assert len(dataset.waypoint_layer) == 8 and len(dataset.current) == 1
    assert dataset.current["radius"].isna().all()  # -9999 sentinel
    # read back from Redis by another reader: the same merge
    assert store.read(dataset.version).waypoints["rmc"].tolist()[-1] == "4_640"
    # unchanged on a second load; the waypoints reused are the layer's alone
    again = load(store, settings, current_source=str(fixture_path("current_v2026.json")))
    assert again["status"] == "unchanged" and len(store.current().waypoints) == 9


@pytest.mark.parametrize(
    "bad, problem",
    [
        ("bad_empty_featurecollection.json", "FeatureCollection is empty"),
        ("http://127.0.0.1:1/M20_waypoints_current.json", "cannot connect"),
        ("bad_html.html", "got an HTML page"),
    ],
)
def test_a_failing_current_layer_keeps_the_load_and_the_previous_position(store, settings, fixture_path, bad, problem):
    bad = bad if "://" in bad else str(fixture_path(bad))
    first = load(store, settings.replace(current_source=bad))
    assert first["status"] == "loaded" and first["current"]["status"] == "unavailable"
    assert problem in first["current"]["error"] and "kept" not in first["current"]
    assert "none kept" in one_line(first) and store.current().waypoints["sol"].max() == 18
    load(store, settings, current_source=str(fixture_path("current_v2026.json")))
    kept = load(store, settings.replace(current_source=bad))
    assert kept["current"]["status"] == "unavailable" and kept["current"]["kept"] is True
    assert kept["current"]["sol"] == 19 and "kept sol 19" in one_line(kept)
    assert store.current().waypoints["sol"].max() == 19
    assert store.last_load()["ok"] is True


def test_a_current_position_older_than_the_waypoints_is_not_served(store, settings, tmp_path, fixture_path):
    old = tmp_path / "old_current.json"
    old.write_text(fixture_path("current_v2026.json").read_text().replace('"sol": 19', '"sol": 15'))
    summary = load(store, settings, current_source=str(old))
    assert summary["current"]["status"] == "older" and "older than the waypoints, none kept" in one_line(summary)
    assert store.current().waypoints["sol"].max() == 18


def test_unchanged_sources_make_no_new_version(store, settings):
    load(store, settings)
    again = load(store, settings)
    assert again["status"] == "unchanged" and again["version"] == "1"
    assert store.versions() == ["1"]
    assert load(store, settings, force=True)["version"] == "2"


def test_one_changed_layer_reuses_the_other(store, settings, fixture_path):
    load(store, settings)
    before = store.current()
    summary = load(store, settings, waypoints_source=str(fixture_path("waypoints_v2022_sclk.json")))
    assert summary["status"] == "loaded" and summary["version"] == "2"
    after = store.current()
    assert len(after.waypoints) == 6
    assert after.meta["layers"]["traverse"]["sha256"] == before.meta["layers"]["traverse"]["sha256"]
    assert after.traverse.equals(before.traverse)


def test_skipped_features_are_counted(store, settings, fixture_path):
    summary = load(store, settings, waypoints_source=str(fixture_path("waypoints_some_bad.json")))
    assert summary["waypoints"]["rows"] == 5 and summary["waypoints"]["skipped"] == 5
    assert store.meta()["layers"]["waypoints"]["skipped"]["no usable lon/lat"] == 2


@pytest.mark.parametrize("name, problem", BAD_FILES)
def test_bad_source_keeps_the_current_dataset(store, settings, fixture_path, name, problem):
    load(store, settings)
    before = store.meta()
    source = str(fixture_path(name))
    with pytest.raises(LoadError) as err:
        load(store, settings, waypoints_source=source)
    assert str(err.value).startswith(f"local file {name}: ")  # named by file, never by server path
    assert problem in str(err.value)
    assert store.meta() == before
    assert store.current_version() == "1" and len(store.current().waypoints) == 8
    last = store.last_load()
    assert last["ok"] is False and problem in last["error"]


def test_bad_traverse_keeps_the_current_dataset(store, settings, fixture_path):
    load(store, settings)
    source = str(fixture_path("waypoints_v2024.json"))  # points, not lines
    with pytest.raises(LoadError, match="no usable features"):
        load(store, settings, traverse_source=source)
    assert store.current_version() == "1"


def test_first_load_failing_leaves_no_dataset(store, settings, fixture_path):
    with pytest.raises(LoadError):
        load(store, settings, waypoints_source=str(fixture_path("bad_html.html")))
    assert store.current() is None


def test_a_running_load_blocks_another(store, settings):
    lock = store.load_lock()
    assert lock.acquire()
    try:
        with pytest.raises(LoadError, match="another load is already running"):
            load(store, settings)
    finally:
        lock.release()
    assert load(store, settings)["status"] == "loaded"


def test_http_sources_use_conditional_requests(store, settings, httpserver, fixture_path):
    wp = fixture_path("waypoints_v2024.json").read_bytes()
    tr = fixture_path("traverse_v2026.json").read_bytes()
    httpserver.expect_ordered_request("/wp.json").respond_with_data(wp, headers={"ETag": '"w1"'})
    httpserver.expect_ordered_request("/tr.json").respond_with_data(
        tr, headers={"Last-Modified": "Thu, 23 Apr 2026 08:00:00 GMT"}
    )
    httpserver.expect_ordered_request("/wp.json", headers={"If-None-Match": '"w1"'}).respond_with_data("", status=304)
    httpserver.expect_ordered_request(
        "/tr.json", headers={"If-Modified-Since": "Thu, 23 Apr 2026 08:00:00 GMT"}
    ).respond_with_data("", status=304)
    urls = {"waypoints_source": httpserver.url_for("/wp.json"), "traverse_source": httpserver.url_for("/tr.json")}
    assert load(store, settings, **urls)["status"] == "loaded"
    assert load(store, settings, **urls)["status"] == "unchanged"
    httpserver.check_assertions()
    assert store.versions() == ["1"]


@pytest.mark.parametrize(
    "respond, problem",
    [
        (dict(response_data="boom", status=500), "HTTP 500"),
        (dict(response_data="<html><body>Maintenance</body></html>", content_type="text/html"), "got an HTML page"),
        (dict(response_data='{"type": "FeatureCollection", "features": []}'), "FeatureCollection is empty"),
        (dict(response_data='{"type": "FeatureCollection", "features": [{"type": "Fea'), "not valid JSON"),
    ],
)
def test_upstream_failure_keeps_the_current_dataset(store, settings, httpserver, respond, problem):
    load(store, settings)
    before = store.meta()
    httpserver.expect_request("/wp.json").respond_with_data(**respond)
    with pytest.raises(LoadError, match=problem):
        load(store, settings, waypoints_source=httpserver.url_for("/wp.json"))
    assert store.meta() == before
