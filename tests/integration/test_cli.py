"""``python -m dashboard`` as a user runs it: a real process against a real Redis."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson

from tests.helpers import ROOT


def run(args, redis_url, key_prefix, **env):
    full_env = {**os.environ, "REDIS_URL": redis_url, "PTRACKER_KEY_PREFIX": key_prefix, **env}
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60
    )


def test_load_prints_one_line(redis_url, key_prefix, fixture_path, redis_client):
    wp, tr = fixture_path("waypoints_v2024.json"), fixture_path("traverse_v2026.json")
    cur = fixture_path("current_v2026.json")
    res = run(["load", "--waypoints", str(wp), "--traverse", str(tr), "--current", str(cur)], redis_url, key_prefix)
    assert res.returncode == 0, res.stderr
    assert res.stdout == (
        "loaded version 1: 8 waypoints (sols 13..18), 4 traverse segments (sols 14..17), "
        "current position sol 19 (after the last waypoint), 0 features skipped\n"
    )
    info = run(["info", "--json"], redis_url, key_prefix)
    assert info.returncode == 0
    summary = orjson.loads(info.stdout)
    assert summary["version"] == "1" and summary["waypoints"]["rows"] == 8


def test_current_layer_off_is_said(redis_url, key_prefix, fixture_path, redis_client):
    wp, tr = fixture_path("waypoints_v2024.json"), fixture_path("traverse_v2026.json")
    res = run(
        ["load", "--waypoints", str(wp), "--traverse", str(tr)], redis_url, key_prefix, PTRACKER_CURRENT_SOURCE="off"
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == (
        "loaded version 1: 8 waypoints (sols 13..18), 4 traverse segments (sols 14..17), "
        "no current-position layer, 0 features skipped\n"
    )


def test_empty_or_unreachable_current_layer_keeps_the_load(redis_url, key_prefix, fixture_path, redis_client):
    wp, tr = fixture_path("waypoints_v2024.json"), fixture_path("traverse_v2026.json")
    base = ["load", "--waypoints", str(wp), "--traverse", str(tr)]
    first = run([*base, "--current", str(fixture_path("current_v2026.json"))], redis_url, key_prefix)
    assert first.returncode == 0, first.stderr
    # NASA has served the layer empty: the load succeeds and keeps the previous position
    empty = run([*base, "--current", str(fixture_path("bad_empty_featurecollection.json"))], redis_url, key_prefix)
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout == (
        "unchanged, still version 1: 8 waypoints (sols 13..18), 4 traverse segments (sols 14..17), "
        "current position unavailable (FeatureCollection is empty: no features), kept sol 19, 0 features skipped\n"
    )
    gone = run(
        [*base, "--current", "http://127.0.0.1:1/M20_waypoints_current.json", "--json"],
        redis_url,
        key_prefix,
        PTRACKER_CONNECT_TIMEOUT="1",
    )
    assert gone.returncode == 0, gone.stderr
    summary = orjson.loads(gone.stdout)
    assert summary["current"]["status"] == "unavailable" and summary["current"]["kept"] is True
    assert summary["current"]["sol"] == 19 and "cannot connect" in summary["current"]["error"]
    # without a previous one, nothing is kept, and the load still succeeds
    res = run(
        ["load", "--force", *base[1:], "--current", str(fixture_path("bad_empty_featurecollection.json"))],
        redis_url,
        key_prefix + "b",
    )
    assert res.returncode == 0, res.stderr
    assert "current position unavailable (FeatureCollection is empty: no features), none kept" in res.stdout


def test_load_reads_sources_from_the_environment(redis_url, key_prefix, fixture_path, redis_client):
    res = run(
        ["load", "--json"],
        redis_url,
        key_prefix,
        PTRACKER_WAYPOINTS_SOURCE=str(fixture_path("waypoints_shapefile.json")),
        PTRACKER_TRAVERSE_SOURCE=str(fixture_path("traverse_v2026.json")),
    )
    assert res.returncode == 0, res.stderr
    summary = orjson.loads(res.stdout)
    assert summary["status"] == "loaded"
    assert summary["waypoints"]["rows"] == 8 and summary["traverse"]["rows"] == 4


def test_failure_is_one_line_and_non_zero(redis_url, key_prefix, fixture_path, redis_client):
    bad = fixture_path("bad_html.html")
    res = run(
        ["load", "--waypoints", str(bad), "--traverse", str(fixture_path("traverse_v2026.json"))], redis_url, key_prefix
    )
    assert res.returncode == 1
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: local file bad_html.html: got an HTML page, not JSON")


def test_info_without_data(redis_url, key_prefix, redis_client):
    res = run(["info"], redis_url, key_prefix)
    assert res.returncode == 1
    assert "no dataset loaded yet" in res.stderr


def test_unreachable_redis_is_one_line(key_prefix, fixture_path):
    res = run(
        ["load"],
        "redis://127.0.0.1:1/0",
        key_prefix,
        PTRACKER_WAYPOINTS_SOURCE=str(fixture_path("waypoints_v2024.json")),
    )
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the data store (Redis) is not reachable")


def test_bad_setting_is_one_line(redis_url, key_prefix):
    res = run(["load"], redis_url, key_prefix, PTRACKER_FETCH_DEADLINE="soon")
    assert res.returncode == 1
    assert res.stderr.strip() == "error: PTRACKER_FETCH_DEADLINE='soon' is not a number"


def test_embedded_redis_persists_between_runs(tmp_path, fixture_path):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        PTRACKER_DATA_DIR=str(tmp_path / "var"),
        PTRACKER_WAYPOINTS_SOURCE=str(fixture_path("waypoints_v2024.json")),
        PTRACKER_TRAVERSE_SOURCE=str(fixture_path("traverse_v2026.json")),
    )

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "dashboard", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )

    first = cli("load")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("loaded version 1: 8 waypoints")
    assert (tmp_path / "var" / "redis.db").exists()
    second = cli("info")  # a new process and a new embedded server: the data is still there
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("current version 1: 8 waypoints")
