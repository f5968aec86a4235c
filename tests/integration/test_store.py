"""The dataset store against a real Redis."""

from __future__ import annotations

import shutil
import threading
import time

import pandas as pd
import pytest
import redis

from dashboard.data.load import LoadBusy, load
from dashboard.data.parse import parse_traverse, parse_waypoints
from dashboard.data.store import DatasetStore, LockLost
from dashboard.embedded_redis import EmbeddedRedis, server_binary


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


def test_a_save_whose_lock_was_taken_over_writes_nothing(store, layers, redis_client, key_prefix):
    """The switch checks the lock's token in the same atomic step: a loader whose lock
    expired and was taken by another gets LockLost, and its version is nowhere."""
    store.save(*layers, {})
    lock = store.load_lock()
    assert lock.acquire()
    try:
        redis_client.set(f"{key_prefix}load:lock", "another-loader", px=30_000)  # expired, then taken
        assert not lock.lost  # the heartbeat has not looked yet: only the switch can tell
        with pytest.raises(LockLost):
            store.save(*layers, {}, lock=lock)
    finally:
        lock.release()
    assert redis_client.get(f"{key_prefix}load:lock") == b"another-loader"  # never released another's
    assert store.current_version() == "1" and store.versions() == ["1"]
    assert sorted(redis_client.scan_iter(match=f"{key_prefix}dataset:v:*")) == [f"{key_prefix}dataset:v:1".encode()]
    assert store.save(*layers, {}, lock=None).version == "3"  # the lost one's number is not reused


def test_a_save_under_its_own_lock_becomes_current(store, layers):
    lock = store.load_lock()
    assert lock.acquire()
    try:
        assert store.save(*layers, {}, lock=lock).version == "1"
    finally:
        lock.release()
    assert store.current().version == "1"


def test_cleanup_never_deletes_the_current_version(redis_client, key_prefix, layers):
    """A slower overlapping saver may have made an older version current after a newer
    one was saved: clean-up keeps it, even with keep_versions=1."""
    store = DatasetStore(redis_client, key_prefix, keep_versions=1)
    for _ in range(3):
        store.save(*layers, {})
    redis_client.zadd(f"{key_prefix}dataset:versions", {"1": 1, "2": 2})  # as if still kept
    for version in ("1", "2"):
        redis_client.hset(f"{key_prefix}dataset:v:{version}", "meta", b'{"version": "%s"}' % version.encode())
    redis_client.set(f"{key_prefix}dataset:current", "2")
    assert store.cleanup() == 1  # version 1 only
    assert store.versions() == ["2", "3"] and store.current_version() == "2"
    assert store.meta() == {"version": "2"}


def test_the_load_lock_is_renewed_while_held_and_freed_when_its_holder_stops(store, redis_client, key_prefix):
    key = f"{key_prefix}load:lock"
    lock = store.load_lock(timeout=0.6)
    assert lock.acquire()
    try:
        other = store.load_lock(timeout=0.6)
        for _ in range(10):  # 1.5 s: 2.5 lifetimes, renewed every 0.2 s
            assert 0 < redis_client.pttl(key) <= 600 and not other.acquire()
            time.sleep(0.15)
        redis_client.set(key, "someone else")  # taken over: the heartbeat notices
        end = time.monotonic() + 2
        while not lock.lost:
            assert time.monotonic() < end, "the heartbeat did not notice the lost lock"
            time.sleep(0.05)
        with pytest.raises(LockLost):
            lock.check()
    finally:
        lock.release()
    assert redis_client.get(key) == b"someone else"


def test_load_says_busy_by_its_type(store, settings):
    lock = store.load_lock()
    assert lock.acquire()
    try:
        with pytest.raises(LoadBusy, match="another load is already running"):
            load(store, settings)
    finally:
        lock.release()
    assert load(store, settings)["status"] == "loaded"


@pytest.mark.parametrize("binary", [server_binary(), shutil.which("redis-server")], ids=["shipped", "system"])
def test_a_full_redis_refuses_the_switch_as_out_of_memory(tmp_path, layers, binary):
    """Redis fills up between the version number and the switch: the switch's refusal is
    an OutOfMemoryError (what the routes answer 503 for) on Redis 6 and 7 alike, and
    nothing of the version is written."""
    if binary is None:
        pytest.skip("no redis-server on PATH")
    with EmbeddedRedis(tmp_path / "var", binary=binary) as server:
        client = server.client()
        store = DatasetStore(client, "p:")
        store.save(*layers, {})
        client.set("filler", b"x" * 2_000_000)
        incr = client.incr

        def incr_then_full(key):
            value = incr(key)
            client.config_set("maxmemory-policy", "noeviction")
            client.config_set("maxmemory", 1024 * 1024)
            return value

        client.incr = incr_then_full
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            store.save(*layers, {})
        assert store.current_version() == "1" and store.versions() == ["1"] and not client.exists("p:dataset:v:2")
