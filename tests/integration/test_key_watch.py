"""The key watch (server-assisted client-side caching, ``dashboard/data/watch.py``) against
a real Redis: a watched key is read from memory until any client changes it, every kind
of change reaches it within milliseconds, and when it cannot be sure (Redis gone,
tracking refused, a read racing a change) it reads Redis as if it did not exist."""

from __future__ import annotations

import gc
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from dashboard.data.watch import MAX_AGE_SECONDS, TRUST_SECONDS, KeyWatch
from tests.helpers import free_port

#: a test that flushes the database or adds an ACL user: only on the test's private Redis
SHARED = pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="changes the whole server (REDIS_URL is shared)")


def gets(client: redis.Redis) -> int:
    """GET commands this Redis has run (its command statistics)."""
    return int(client.info("commandstats").get("cmdstat_get", {}).get("calls", 0))


def until(predicate, limit: float = 2.0) -> float:
    """Seconds until ``predicate()`` held (fails after ``limit``)."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < limit, "not within the limit"
        time.sleep(0.001)
    return time.monotonic() - started


def changed_within(watch: KeyWatch, key: str, value: bytes | None) -> float:
    return until(lambda: watch.get(key) == value, 1.0)


@pytest.fixture
def watched(redis_client, key_prefix):
    key = f"{key_prefix}dataset:current"
    redis_client.set(key, b"1")
    watch = KeyWatch(redis.Redis(connection_pool=redis_client.connection_pool)).watch(key, f"{key_prefix}load:last")
    watch.get(key)
    until(lambda: watch.live)
    yield watch, key
    watch.close()


def test_a_watched_key_is_read_from_memory_until_another_client_changes_it(watched, redis_client, redis_url):
    watch, key = watched
    assert watch.get(key) == b"1"
    before = gets(redis_client)
    values = {watch.get(key) for _ in range(1000)}
    assert values == {b"1"}
    assert gets(redis_client) - before <= 1, "the watch asked Redis for a value it remembered"
    redis.Redis.from_url(redis_url).set(key, b"2")  # another client (another connection)
    took = changed_within(watch, key, b"2")
    assert took < 0.05, f"the new value was read {took * 1000:.0f} ms after the write"
    assert watch.state == "live"


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda c, k: c.eval("redis.call('SET', KEYS[1], ARGV[1])", 1, k, "7"), b"7"),  # a Lua script's write
        (lambda c, k: c.delete(k), None),
        pytest.param(lambda c, k: c.flushdb(), None, marks=SHARED),
        (lambda c, k: c.set(k, b"x", px=20), None),  # expiry
        (lambda c, k: c.rename(k, k + ":old"), None),
    ],
    ids=["lua", "del", "flushdb", "expired", "renamed"],
)
def test_every_kind_of_change_is_seen(watched, redis_client, change, expected):
    watch, key = watched
    assert watch.get(key) == b"1"
    change(redis_client, key)
    if expected is None:
        until(lambda: redis_client.get(key) is None)  # an expiry is a change once Redis has expired it
    changed_within(watch, key, expected)


def test_an_unwatched_key_is_always_read_from_redis(watched, redis_client, key_prefix):
    watch, _ = watched
    other = f"{key_prefix}other"
    redis_client.set(other, b"a")
    before = gets(redis_client)
    for _ in range(10):
        assert watch.get(other) == b"a"
    assert gets(redis_client) - before == 10


def test_a_read_that_races_a_change_is_not_remembered(watched, redis_client):
    """The GET answered the old value, and the write landed (and its invalidation was
    handled) before the answer was stored: the old value must not be remembered."""
    watch, key = watched
    watch.forget(key)
    real_get = watch.client.get

    def get_then_change(name):
        value = real_get(name)  # the old value
        epoch = watch._epoch
        redis_client.set(key, b"2")
        until(lambda: watch._epoch != epoch)  # the watch heard of the write meanwhile
        return value

    watch.client.get = get_then_change
    try:
        assert watch.get(key) == b"1"  # what Redis said when asked
    finally:
        watch.client.get = real_get
    assert watch.get(key) == b"2"


@SHARED
def test_tracking_refused_means_every_read_asks_redis(redis_client, key_prefix):
    """An ACL user without the CLIENT command (a managed Redis may forbid it too)."""
    user = f"u{os.getpid()}"
    redis_client.acl_setuser(user, enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-client"])
    try:
        kwargs = redis_client.connection_pool.connection_kwargs
        limited = redis.Redis(host=kwargs["host"], port=kwargs["port"], username=user, password="pw")
        key = f"{key_prefix}dataset:current"
        redis_client.set(key, b"1")
        watch = KeyWatch(limited).watch(key)
        assert watch.get(key) == b"1"
        until(lambda: "refused" in watch.state)
        before = gets(redis_client)
        for _ in range(5):
            assert watch.get(key) == b"1"
        assert gets(redis_client) - before == 5
        assert not watch.live
        watch.close()
    finally:
        redis_client.acl_deluser(user)


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own, to kill, freeze and restart."""
    port = free_port()

    def start():
        proc = subprocess.Popen(
            [
                shutil.which("redis-server"),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
        )
        probe = redis.Redis(port=port, socket_timeout=1)
        until(lambda: _pings(probe), 10)
        return proc

    procs = [start()]
    yield port, procs, start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # a test may have left it stopped
            proc.terminate()
            proc.wait(10)


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def live_watch(port: int) -> tuple[redis.Redis, KeyWatch]:
    """A client of the test's own server (no retries: a failure shows at once) and a live
    watch of its key "k" (value 1)."""
    client = redis.Redis(port=port, socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
    client.set("k", b"1")
    watch = KeyWatch(client).watch("k")
    watch.get("k")
    until(lambda: watch.live)
    return client, watch


def test_redis_gone_then_back_reads_redis_then_remembers_again(own_redis):
    port, procs, start = own_redis
    client, watch = live_watch(port)
    procs[0].kill()
    procs[0].wait(10)
    time.sleep(TRUST_SECONDS)
    with pytest.raises(redis.ConnectionError):  # never the remembered value once Redis is gone
        watch.get("k")
    procs.append(start())
    redis.Redis(port=port).set("k", b"2")  # a new server: the old value must not come back
    until(lambda: watch.live, 5)
    assert watch.get("k") == b"2"
    before = gets(client)
    assert watch.get("k") == b"2"
    assert gets(client) == before
    watch.close()


def test_a_frozen_redis_is_distrusted_within_the_trust_window(own_redis):
    port, procs, _ = own_redis
    client, watch = live_watch(port)
    procs[0].send_signal(signal.SIGSTOP)
    try:
        took = until(lambda: not watch.live, 1.0)
        assert took <= TRUST_SECONDS + 0.05  # (the margin: this thread's own polling on a busy machine)
        with pytest.raises(redis.TimeoutError):
            watch.get("k")
    finally:
        procs[0].send_signal(signal.SIGCONT)
    until(lambda: watch.live, 5)
    assert watch.get("k") == b"1"
    watch.close()


def test_the_thread_ends_with_its_watch(redis_client, key_prefix):
    watch = KeyWatch(redis_client).watch(f"{key_prefix}k")
    watch.get(f"{key_prefix}k")
    until(lambda w=watch: w.live)
    assert any(t.name == "ptracker-key-watch" for t in threading.enumerate())
    count = sum(1 for t in threading.enumerate() if t.name == "ptracker-key-watch")
    del watch
    gc.collect()
    until(lambda: sum(1 for t in threading.enumerate() if t.name == "ptracker-key-watch") < count, 2.0)


def test_a_forked_child_watches_for_itself(watched, redis_url):
    """gunicorn forks its workers from a process that may have watched already: the child
    must not trust the parent's memory, and must hear of changes on its own connection."""
    watch, key = watched
    assert watch.get(key) == b"1"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it reads, before and after a change
        try:
            first = watch.get(key)
            until(lambda: watch.live)
            redis.Redis.from_url(redis_url).set(key, b"3")
            until(lambda: watch.get(key) == b"3", 1.0)
            os.write(write, first + b"," + watch.get(key))
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    answer = os.read(read, 100)
    os.close(read)
    assert status == 0 and answer == b"1,3"
    changed_within(watch, key, b"3")  # the parent heard of the child's write too


def test_a_store_sees_its_own_writes_at_once(store, settings, redis_client, key_prefix):
    """A load in this process is current for this process's next read, without waiting
    for Redis' message (here ignored, as if it were late)."""
    from dashboard.data.load import load

    watch = KeyWatch(redis.Redis(connection_pool=redis_client.connection_pool))
    store.use_watch(watch)
    load(store, settings)
    assert store.current_version() == "1"
    until(lambda: watch.live)
    assert store.current_version() == "1" and store.last_load()["ok"] is True
    watch._invalidated = lambda keys: None  # Redis' messages are not heard
    dataset = store.current()
    store.save(dataset.waypoint_layer, dataset.traverse, dataset.traverse_points, dataset.meta, current=dataset.current)
    assert store.current_version() == "2"
    store.record_load({"ok": False, "error": "boom"})
    assert store.last_load()["error"] == "boom"
    watch.close()


@SHARED
def test_a_change_redis_does_not_announce_is_read_within_the_max_age(watched, redis_client):
    """SWAPDB sends no invalidation: the value is read again once it is MAX_AGE_SECONDS old."""
    watch, key = watched
    other_db = redis.Redis(
        connection_pool=redis.ConnectionPool(**{**redis_client.connection_pool.connection_kwargs, "db": 1})
    )
    other_db.set(key, b"2")  # (tracking ignores the db: this write is announced too, so it comes first)
    until(lambda: watch.get(key) == b"1" and watch.live and key in watch._values)
    try:
        redis_client.swapdb(0, 1)
        swapped = time.monotonic()
        assert redis_client.get(key) == b"2"
        assert watch.get(key) == b"1"  # not announced: still remembered
        until(lambda: watch.get(key) == b"2", MAX_AGE_SECONDS + 0.5)
        assert time.monotonic() - swapped <= MAX_AGE_SECONDS + 0.1
    finally:
        redis_client.swapdb(0, 1)
        other_db.flushdb()


WRITER = """
import sys, time, redis
client = redis.Redis.from_url(sys.argv[1])
for n in range(2, 60):
    client.set(sys.argv[2], str(n))
    print(time.monotonic(), n, flush=True)  # acknowledged (CLOCK_MONOTONIC: the same in every process)
    time.sleep(0.02)
"""


def test_a_starved_watch_never_serves_a_value_older_than_the_trust_window(watched, redis_url):
    """Busy threads hold the GIL (a C sort of a big list holds it throughout; readers do
    Python work), so the watch thread reads Redis' messages late: requests must then read
    Redis, not remember. No read that *started* later than TRUST_SECONDS after a write was
    acknowledged (by a writer in another process) returns an older value."""
    watch, key = watched
    stop = threading.Event()
    seen: list[tuple[float, bytes]] = []

    def hog():
        data = list(range(2_000_000, 0, -1))
        while not stop.is_set():
            sorted(data)  # ~0.2 s with the GIL held

    def read():
        while not stop.is_set():
            started = time.monotonic()
            seen.append((started, watch.get(key)))
            sum(i * i for i in range(2000))  # the rest of a request

    threads = [threading.Thread(target=hog)] + [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        out = subprocess.run(
            [sys.executable, "-c", WRITER, redis_url, key], capture_output=True, text=True, timeout=60, check=True
        ).stdout
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    acked = [(float(t), int(n)) for t, n in (line.split() for line in out.splitlines())]
    late = []
    for started, value in seen:
        known = [n for t, n in acked if t + TRUST_SECONDS < started]  # acknowledged long enough before
        if known and int(value) < known[-1]:
            late.append((round(started - acked[0][0], 3), int(value), known[-1]))
    assert not late, f"{len(late)} reads older than the trust window, e.g. {late[:3]}"
    assert len(seen) > 100


@SHARED
def test_an_error_answer_to_a_ping_reconnects_and_is_not_a_refusal(watched, redis_client):
    """A script running past busy-reply-threshold makes Redis answer BUSY: the watch gives
    up that connection, not tracking itself, and is live again once the script is done."""
    watch, key = watched
    before = redis_client.config_get("busy-reply-threshold")["busy-reply-threshold"]
    redis_client.config_set("busy-reply-threshold", 50)
    slow = (
        "local t = redis.call('TIME') local s = t[1] + t[2] / 1e6 "
        "repeat t = redis.call('TIME') until t[1] + t[2] / 1e6 - s > 0.4"
    )
    try:
        runner = threading.Thread(
            target=lambda: redis.Redis(connection_pool=redis_client.connection_pool).eval(slow, 0)
        )
        runner.start()
        until(lambda: not watch.live, 1.0)
        runner.join(5)
        until(lambda: watch.live, 5)
        assert watch.state == "live" and watch.get(key) == b"1"
    finally:
        redis_client.config_set("busy-reply-threshold", before)


def test_an_undecodable_key_in_an_invalidation_still_forgets(watched):
    watch, key = watched
    assert watch.get(key) == b"1"
    epoch = watch._epoch
    watch._invalidated([key.encode(), b"\xff\xfe"])
    assert watch._epoch != epoch and key not in watch._values
