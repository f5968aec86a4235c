"""Server-assisted client-side caching of the few small keys every data request reads.

Each data request needs the current dataset version (``dataset:current``) and the live
route the latest load record (``load:last``). Asking Redis on every request costs a round
trip (~200 µs in-process, as much as the rest of a cached answer); not asking means two
web processes could answer two versions after a load. Redis solves both: a connection that
turns on ``CLIENT TRACKING ON BCAST PREFIX <key> …`` (RESP3, Redis 6 or later) is pushed
an ``invalidate`` message whenever *any* client writes, deletes, renames, expires or
flushes one of those keys (a Lua script's writes included). :class:`KeyWatch` keeps one
such connection per process, in a daemon thread, and remembers each watched key's value
between invalidations, so a request reads the version from memory and every process drops
the old one within milliseconds of the load's switch (tested with 1,000 requests over
three gunicorn workers: ``test_every_web_process_answers_the_new_version_within_100_ms_of_a_load``).

redis-py's own client-side cache (``cache_config``) would do the same but refuses Redis
before 7.4; Debian's is 7.0. Broadcasting mode on a connection of its own needs nothing
newer than 6.0.

How old a remembered value can be, at most:

- :data:`TRUST_SECONDS` (80 ms) after a write was acknowledged to its writer. The watch
  PINGs every :data:`PING_SECONDS`; Redis sends a write's invalidation no later than the
  write's own reply, so once the PONG of a PING sent at ``t`` is read, every write
  acknowledged before ``t`` has been handled. Values are served from memory only until
  ``t + TRUST_SECONDS`` of the newest PING answered so far: if the watch thread is slow
  (another thread holds the GIL) or Redis stops answering, requests read Redis instead.
- :data:`MAX_AGE_SECONDS` (1 s) after it was read, whatever Redis said: a few changes send
  no invalidation (``SWAPDB``; a primary that is demoted, not killed, until Sentinel
  disconnects its clients), so each value is read again at least once a second.

On any error (Redis restarted or failed over, the connection cut) everything remembered is
dropped and requests read Redis until the watch is live again on a fresh connection; where
``CLIENT TRACKING`` is refused (an ACL, a proxy) every request reads Redis. A read that
raced an invalidation is not remembered (an epoch counter).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import deque
from functools import partial
from typing import Any

import redis

log = logging.getLogger(__name__)

#: Seconds between PINGs on the watch connection (50 a second per process: nothing for Redis).
PING_SECONDS = 0.02
#: A remembered value is served only until this long after the newest PING answered was
#: sent: the most a process can lag behind an acknowledged write.
TRUST_SECONDS = 0.08
#: A remembered value is read again after this long, whatever Redis said (the changes
#: that send no invalidation: SWAPDB, a demoted primary still connected).
MAX_AGE_SECONDS = 1.0
#: No PONG for this long: the connection is taken for dead and replaced.
DEAD_SECONDS = 1.0
#: Seconds to wait before reconnecting after an error (doubling up to the second figure),
#: and after CLIENT TRACKING was refused.
RETRY_SECONDS = (0.05, 2.0)
REFUSED_RETRY_SECONDS = 60.0
#: Error replies that say "not now" rather than "never" (redis-py's message, without the code's dash).
TRANSIENT = ("BUSY", "LOADING", "MASTERDOWN", "TRYAGAIN", "Redis is loading")


class TrackingRefused(Exception):
    """Redis refused ``CLIENT TRACKING`` (an ACL without it, a proxy, an old server)."""


class KeyWatch:
    """Remembers watched keys' values until Redis says they changed (one per client and process).

    ``get(key)`` answers a watched key from memory when it can, else with a GET of
    ``client`` (remembering the answer). ``watch(key)`` adds a key; keys are tracked by
    exact name (Redis' prefixes must not overlap, so one key must not start another)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        ping_seconds: float = PING_SECONDS,
        trust_seconds: float = TRUST_SECONDS,
        max_age: float = MAX_AGE_SECONDS,
    ):
        self.client = client
        self.ping_seconds = ping_seconds
        self.trust_seconds = trust_seconds
        self.max_age = max_age
        self._keys: set[str] = set()
        self._values: dict[str, tuple[Any, float]] = {}  # key -> (value, when it was read)
        self._lock = threading.Lock()
        self._epoch = 0
        self._trusted_until = 0.0
        self._pid: int | None = None
        self._generation = 0  # bumped to make the thread reconnect (a key was added)
        self._stop = threading.Event()
        self._conn = None  # the watch connection (closed in a forked child)
        self._state = "not started"
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
        now = time.monotonic()
        live = now < self._trusted_until
        if live:
            epoch = self._epoch  # read before the value: a change after this is noticed below
            found = self._values.get(key)  # no lock: one dict read is atomic
            if found is not None and now - found[1] < self.max_age:
                return found[0]
        value = self.client.get(key)
        if live:
            with self._lock:
                if epoch == self._epoch and key in self._keys and time.monotonic() < self._trusted_until:
                    self._values[key] = (value, now)
        return value

    def forget(self, *keys: str) -> None:
        """This process wrote ``keys``: its next read asks Redis (Redis' own message follows)."""
        with self._lock:
            self._epoch += 1
            for key in keys:
                self._values.pop(key, None)

    @property
    def live(self) -> bool:
        return time.monotonic() < self._trusted_until

    @property
    def state(self) -> str:
        """In words, for /readyz: "live", or why requests read Redis."""
        if self._state == "live" and not self.live:
            return "catching up (no PING answered in the last 80 ms): requests read Redis meanwhile"
        return self._state

    def close(self) -> None:
        """Stop the thread (tests; the process's exit stops it anyway: a daemon thread)."""
        self._stop.set()

    # the watching side --------------------------------------------------------------
    def _forget(self) -> None:
        """Drop every remembered value (the caller holds the lock)."""
        self._epoch += 1
        self._values.clear()

    def _set_state(self, state: str, level: int = logging.INFO) -> None:
        if state != self._state:  # a line per change, not per attempt
            log.log(level, "key watch: %s", state)
        self._state = state

    def _distrust(self, why: str, level: int = logging.INFO) -> None:
        with self._lock:
            self._trusted_until = 0.0
            self._forget()
        self._set_state(why, level)

    def _after_fork(self) -> None:
        # a new process (gunicorn forks its workers after the app is built): nothing
        # remembered by the parent, a lock no parent thread can hold, a thread of its own,
        # and not the parent's connection (redis-py closes it here without shutting it down)
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.disconnect()
        self._lock = threading.Lock()
        self._pid = None
        self._trusted_until = 0.0
        self._values = {}
        self._stop = threading.Event()
        self._state = "not started"

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
            parser = conn._parser
            if not hasattr(parser, "set_invalidation_push_handler"):  # e.g. a parser without pushes
                raise TrackingRefused(f"{type(parser).__name__} cannot read Redis' pushed messages")
            parser.set_invalidation_push_handler(partial(_invalidated, weakref.ref(self)))
            with self._lock:
                keys, generation = sorted(self._keys), self._generation
            prefixes = [part for key in keys for part in ("PREFIX", key)]
            conn.send_command("CLIENT", "TRACKING", "ON", "BCAST", *prefixes)
            reply = conn.read_response()
            if isinstance(reply, Exception):
                raise reply
        except redis.ResponseError as exc:
            conn.disconnect()
            if str(exc).startswith(TRANSIENT):  # Redis busy for now: a fresh connection later
                raise redis.ConnectionError(str(exc)) from exc
            raise TrackingRefused(str(exc)) from exc  # NOPERM, unknown command, …
        except BaseException:
            conn.disconnect()
            raise
        with self._lock:
            self._forget()  # nothing heard before this point can be trusted
        self._conn = conn
        self._set_state("live")
        return conn, generation

    def _invalidated(self, keys) -> None:
        with self._lock:
            self._epoch += 1  # first: whatever happens below, a racing read is not remembered
            if keys is None:  # FLUSHDB / FLUSHALL: everything
                self._values.clear()
                return
            try:
                for raw in keys:
                    self._values.pop(raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw, None)
            except Exception:  # redis-py would only log it: forget everything instead
                self._values.clear()

    def _listen(self, conn, generation: int, pings: deque) -> bool:
        """One round: read what has arrived, PING when one is due, wait for more (at most
        until the next PING). False when the connection must be replaced (a key was added)."""
        answered = None
        while conn.can_read(timeout=0):  # everything already here, before trusting anything
            reply = conn.read_response(push_request=True)
            if reply in (b"PONG", "PONG"):
                answered = pings.popleft()
            elif isinstance(reply, Exception):  # BUSY, LOADING, …: a fresh connection later
                raise redis.ConnectionError(f"Redis answered a PING with {reply}")
        with self._lock:
            if generation != self._generation:
                return False
            if answered is not None and answered + self.trust_seconds > self._trusted_until:
                self._trusted_until = answered + self.trust_seconds
        now = time.monotonic()
        if pings and now - pings[0] > DEAD_SECONDS:
            raise TimeoutError(f"no answer to PING for {DEAD_SECONDS:g} s")
        if not pings or now - pings[-1] >= self.ping_seconds:
            conn.send_command("PING")
            pings.append(now)
        conn.can_read(timeout=max(0.0, pings[-1] + self.ping_seconds - time.monotonic()))
        return True


def _invalidated(ref: weakref.ref, message) -> None:
    watch = ref()
    if watch is not None:
        watch._invalidated(message[1] if len(message) > 1 else None)


def _watch(ref: weakref.ref, stop: threading.Event) -> None:
    """The watch thread: connect, track, listen; on any error forget everything and
    reconnect. It holds the watch only while it handles one round."""
    delay, conn, generation = RETRY_SECONDS[0], None, 0
    pings: deque[float] = deque()  # the send times of the PINGs not answered yet
    while not stop.is_set():
        watch = ref()
        if watch is None:
            break
        try:
            if conn is None:
                conn, generation = watch._connect()
                pings = deque()
            if watch._listen(conn, generation, pings):
                delay = RETRY_SECONDS[0]
                continue
            watch._distrust("reconnecting to track a new key")
            wait = 0.0
        except TrackingRefused as exc:
            watch._distrust(f"every request reads Redis: CLIENT TRACKING refused ({exc})", logging.WARNING)
            wait = REFUSED_RETRY_SECONDS
        except Exception as exc:  # cut, restarted, failed over, timed out: try again
            watch._distrust(f"every request reads Redis until the watch reconnects ({type(exc).__name__}: {exc})")
            wait, delay = delay, min(delay * 2, RETRY_SECONDS[1])
        finally:
            del watch
        if conn is not None:
            conn.disconnect()
            conn = None
        stop.wait(wait)
    if conn is not None:
        conn.disconnect()
