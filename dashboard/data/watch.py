"""Server-assisted client-side caching of the few small keys every data request reads.

Each data request needs the current dataset version (``dataset:current``) and the live
route the latest load record (``load:last``). Asking Redis on every request costs a round
trip (~200 µs in-process, as much as the rest of a cached answer); not asking means two
web processes could answer two versions after a load. Redis solves both: a connection that
turns on ``CLIENT TRACKING ON BCAST PREFIX <key> …`` (RESP3, Redis 6 or later) is pushed
an ``invalidate`` message whenever *any* client writes, deletes, expires or flushes one of
those keys (a Lua script's writes included). :class:`KeyWatch` keeps one such connection
per process, in a daemon thread, and remembers each watched key's value between
invalidations, so a request reads the version from memory and every process drops the
old one a few milliseconds after the load's switch (tested with 1,000 requests over three
gunicorn workers: ``test_every_web_process_answers_the_new_version_within_100_ms_of_a_load``).

redis-py's own client-side cache (``cache_config``) would do the same but refuses Redis
before 7.4; Debian's is 7.0. Broadcasting mode on a connection of its own needs nothing
newer than 6.0.

Safety first: a value is served from memory only while the connection is known to be
live (it answered a PING within :data:`TRUST_SECONDS`, 0.2 s; Redis sends the invalidations
before the reply, so a PONG also proves none is missing). On any error (Redis restarted or
failed over, the connection cut, tracking refused by an ACL or a proxy) everything
remembered is dropped and requests read Redis as before until the watch is live again on
a fresh connection: a cache can make a request cheaper, never older than a direct read
would be. A read that raced an invalidation is not remembered (an epoch counter).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from functools import partial
from typing import Any

import redis

log = logging.getLogger(__name__)

#: Seconds between PINGs on the watch connection (20 a second per process: nothing for Redis).
PING_SECONDS = 0.05
#: Remembered values are served only while the watch connection answered a PING this
#: recently: the most a process can miss if Redis stops answering it without closing the
#: connection (frozen, or cut off by the network) before it reads Redis again, and fails.
TRUST_SECONDS = 0.2
#: Seconds to wait before reconnecting after an error (doubling up to the second figure).
RETRY_SECONDS = (0.05, 2.0)
_MISSING = object()


class KeyWatch:
    """Remembers watched keys' values until Redis says they changed (one per client and process).

    ``get(key)`` answers a watched key from memory when it can, else with a GET of
    ``client`` (remembering the answer). ``watch(key)`` adds a key; keys are tracked by
    exact name (Redis' prefixes must not overlap, so one key must not start another)."""

    def __init__(
        self, client: redis.Redis, *, ping_seconds: float = PING_SECONDS, trust_seconds: float = TRUST_SECONDS
    ):
        self.client = client
        self.ping_seconds = ping_seconds
        self.trust_seconds = trust_seconds
        self._keys: set[str] = set()
        self._values: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._epoch = 0
        self._trusted_until = 0.0
        self._pid: int | None = None
        self._generation = 0  # bumped to make the thread reconnect (a key was added)
        self._stop = threading.Event()
        self.state = "not started"  # in words, for /readyz: "live" or why not
        after_fork = weakref.WeakMethod(self._after_fork)
        os.register_at_fork(after_in_child=lambda: (method := after_fork()) is not None and method())

    # the request side ---------------------------------------------------------------
    def watch(self, *keys: str) -> KeyWatch:
        with self._lock:
            new = set(keys) - self._keys
            if new:  # the connection tracks the old keys only: reconnect, trust nothing until then
                self._keys |= new
                self._trusted_until = 0.0
                self._forget()
                self._generation += 1
        return self

    def get(self, key: str) -> Any:
        """``key``'s value (bytes or None), from memory while the watch is live."""
        if self._pid is None:
            self._ensure_thread()
        live = time.monotonic() < self._trusted_until
        if live:
            epoch = self._epoch  # read before the value: a change after this is noticed below
            found = self._values.get(key, _MISSING)  # no lock: one dict read is atomic
            if found is not _MISSING:
                return found
        value = self.client.get(key)
        if live:
            with self._lock:
                if epoch == self._epoch and key in self._keys and time.monotonic() < self._trusted_until:
                    self._values[key] = value
        return value

    def forget(self, *keys: str) -> None:
        """This process wrote ``keys``: its next read asks Redis (Redis' own message follows)."""
        with self._lock:
            for key in keys:
                self._values.pop(key, None)
            self._epoch += 1

    @property
    def live(self) -> bool:
        return time.monotonic() < self._trusted_until

    def close(self) -> None:
        """Stop the thread (tests; the process's exit stops it anyway: a daemon thread)."""
        self._stop.set()

    # the watching side --------------------------------------------------------------
    def _forget(self) -> None:
        """Drop every remembered value (the caller holds the lock)."""
        self._values.clear()
        self._epoch += 1

    def _distrust(self, why: str) -> None:
        with self._lock:
            self._trusted_until = 0.0
            self._forget()
        self.state = why

    def _after_fork(self) -> None:
        # a new process (gunicorn forks its workers after the app is built): nothing
        # remembered by the parent, a lock no parent thread can hold, a thread of its own
        self._lock = threading.Lock()
        self._pid = None
        self._trusted_until = 0.0
        self._values = {}
        self._stop = threading.Event()
        self.state = "not started"

    def _ensure_thread(self) -> None:
        if self._pid is not None:
            return
        with self._lock:
            if self._pid is not None:
                return
            self._pid = os.getpid()
        # the thread holds the watch weakly: once the app that owns it is gone, it stops
        threading.Thread(
            target=_watch, args=(weakref.ref(self), self._stop), name="ptracker-key-watch", daemon=True
        ).start()

    def _connect(self):
        pool = self.client.connection_pool
        # a connection of its own, in RESP3 (invalidations arrive as pushes on it), not pooled
        kwargs = {**pool.connection_kwargs, "protocol": 3, "health_check_interval": 0}
        conn = pool.connection_class(**kwargs)
        try:
            conn.connect()
            conn._parser.set_invalidation_push_handler(partial(_invalidated, weakref.ref(self)))
            with self._lock:
                keys, generation = sorted(self._keys), self._generation
            prefixes = [part for key in keys for part in ("PREFIX", key)]
            conn.send_command("CLIENT", "TRACKING", "ON", "BCAST", *prefixes)
            reply = conn.read_response()
            if isinstance(reply, Exception):
                raise reply
        except BaseException:
            conn.disconnect()
            raise
        with self._lock:  # nothing heard before this point can be trusted
            self._forget()
            self._trusted_until = time.monotonic() + self.trust_seconds
        self.state = "live"
        return conn, generation

    def _invalidated(self, keys) -> None:
        with self._lock:
            if keys is None:  # FLUSHDB / FLUSHALL: everything
                self._forget()
                return
            for raw in keys:
                self._values.pop(raw.decode() if isinstance(raw, bytes) else raw, None)
            self._epoch += 1

    def _listen(self, conn, generation: int, next_ping: float) -> float | None:
        """Wait for one message (at most until ``next_ping``); the next ping time, or None
        when the connection must be replaced (a key was added)."""
        if generation != self._generation:
            return None
        now = time.monotonic()
        if now >= next_ping:
            if now > self._trusted_until:
                raise TimeoutError(f"no answer to PING for {self.trust_seconds:g} s")
            conn.send_command("PING")
            next_ping = now + self.ping_seconds
        if conn.can_read(timeout=max(0.0, min(next_ping - time.monotonic(), self.ping_seconds))):
            reply = conn.read_response(push_request=True)
            if reply in (b"PONG", "PONG"):  # every invalidation sent before it was handled
                self._trusted_until = time.monotonic() + self.trust_seconds
            elif isinstance(reply, Exception):
                raise reply
        return next_ping


def _invalidated(ref: weakref.ref, message) -> None:
    watch = ref()
    if watch is not None:
        watch._invalidated(message[1] if len(message) > 1 else None)


def _watch(ref: weakref.ref, stop: threading.Event) -> None:
    """The watch thread: connect, track, listen; on any error forget everything and
    reconnect. It holds the watch only while it handles one message."""
    delay, conn, generation, next_ping = RETRY_SECONDS[0], None, 0, 0.0
    while not stop.is_set():
        watch = ref()
        if watch is None:
            break
        try:
            if conn is None:
                conn, generation = watch._connect()
                delay, next_ping = RETRY_SECONDS[0], time.monotonic()
            after = watch._listen(conn, generation, next_ping)
            if after is None:
                conn.disconnect()
                conn = None
            else:
                next_ping = after
            continue
        except redis.ResponseError as exc:  # tracking refused (ACL, proxy, old server)
            watch._distrust(f"every request reads Redis: CLIENT TRACKING refused ({exc})")
            log.warning("key watch: CLIENT TRACKING refused (%s); every request reads Redis", exc)
            wait = RETRY_SECONDS[1] * 30
        except Exception as exc:  # cut, restarted, failed over, timed out: try again
            watch._distrust(f"every request reads Redis until it is reachable again ({type(exc).__name__})")
            log.info("key watch: %s: %s; reconnecting", type(exc).__name__, exc)
            wait, delay = delay, min(delay * 2, RETRY_SECONDS[1])
        finally:
            del watch
        if conn is not None:
            conn.disconnect()
            conn = None
        stop.wait(wait)
    if conn is not None:
        conn.disconnect()
