"""The dataset store against a real Redis."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from dashboard.data.parse import parse_traverse, parse_waypoints
from dashboard.data.store import DatasetStore


@pytest.fixture
def layers(fixture_path):
    wp = parse_waypoints(fixture_path("waypoints_v2024.json").read_bytes(), "wp")
    tr = parse_traverse(fixture_path("traverse_v2026.json").read_bytes(), "tr")
    return wp.frame, tr.frame, tr.points


def test_empty_store_has_no_dataset(store):
    assert store.current() is None
    assert store.current_version() is None
    assert store.meta() is None
    assert store.versions() == []


def test_round_trip_keeps_values_and_types(store, layers, redis_client, key_prefix):
    waypoints, traverse, points = layers
    store.save(waypoints, traverse, points, {"note": "first"})
    other = DatasetStore(redis_client, key_prefix)  # another process: cold cache
    ds = other.current()
    assert ds.version == "1"
    assert ds.meta == {"note": "first", "version": "1"}
    pd.testing.assert_frame_equal(ds.waypoints, waypoints)
    pd.testing.assert_frame_equal(ds.traverse, traverse)
    pd.testing.assert_frame_equal(ds.traverse_points, points)
    # missing values survive as missing, not as 0 or "None"
    assert ds.waypoints["sclk_start"].isna().all()
    assert ds.waypoints["dist_m"].isna().sum() == 2


def test_warm_read_uses_the_cache_until_the_version_changes(store, layers, redis_client, key_prefix):
    store.save(*layers, {})
    reader = DatasetStore(redis_client, key_prefix)
    first = reader.current()
    assert reader.current() is first  # same object: nothing decoded again
    store.save(*layers, {"n": 2})  # another writer
    second = reader.current()
    assert second is not first and second.version == "2" and second.meta["n"] == 2


def test_old_versions_are_cleaned_up(store, layers, redis_client, key_prefix):
    for _ in range(5):
        store.save(*layers, {})
    assert store.versions() == ["3", "4", "5"]
    assert store.current_version() == "5"
    assert not redis_client.exists(f"{key_prefix}dataset:v:1")
    assert not redis_client.exists(f"{key_prefix}dataset:v:2")
    assert store.read("4") is not None


def test_a_failed_save_leaves_the_current_dataset(store, layers):
    waypoints, traverse, points = layers
    store.save(waypoints, traverse, points, {})
    with pytest.raises(KeyError):
        store.save(waypoints.drop(columns=["sol"]), traverse, points, {})
    assert store.current_version() == "1"
    assert store.versions() == ["1"]
    assert len(store.current().waypoints) == len(waypoints)


def test_readers_never_see_half_a_dataset(store, layers, redis_client, key_prefix):
    waypoints, traverse, points = layers
    small = waypoints.iloc[:3].reset_index(drop=True)
    errors: list[str] = []
    done = threading.Event()

    def read_loop():
        reader = DatasetStore(redis_client, key_prefix)
        while not done.is_set():
            ds = reader.current()
            if ds is not None and len(ds.waypoints) != ds.meta["rows"]:
                errors.append(f"version {ds.version}: {len(ds.waypoints)} rows, meta says {ds.meta['rows']}")

    thread = threading.Thread(target=read_loop)
    thread.start()
    try:
        for i in range(30):
            frame = small if i % 2 else waypoints
            store.save(frame, traverse, points, {"rows": len(frame)})
    finally:
        done.set()
        thread.join()
    assert errors == []
    assert store.versions() == ["28", "29", "30"]


def test_keys_stay_under_the_prefix(store, layers, redis_client, key_prefix):
    store.save(*layers, {})
    store.record_load({"ok": True})
    keys = [k.decode() for k in redis_client.scan_iter(match="*")]
    mine = [k for k in keys if k.startswith(key_prefix)]
    assert sorted(mine) == sorted(
        f"{key_prefix}{k}" for k in ["dataset:seq", "dataset:current", "dataset:versions", "dataset:v:1", "load:last"]
    )


def test_a_version_saved_before_the_current_layer_existed_still_reads(store, layers, redis_client, key_prefix):
    """Versions written by older releases (before the current-position layer) have no
    'current' table and no 'layer' column."""
    wp, legs, points = layers
    dataset = store.save(wp, legs, points, {"loaded_at": "t", "layers": {}})
    key = f"{key_prefix}dataset:v:{dataset.version}"
    redis_client.hdel(key, "current")
    import orjson

    doc = orjson.loads(redis_client.hget(key, "waypoints"))
    del doc["columns"]["layer"]
    redis_client.hset(key, "waypoints", orjson.dumps(doc))
    old = DatasetStore(redis_client, key_prefix).current()
    assert old.current is None and (old.waypoints["layer"] == "waypoints").all()
    assert len(old.waypoint_layer) == len(wp)
