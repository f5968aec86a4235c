"""The load lock: one load at a time, held for as long as the load runs and no longer.

The lock is a Redis key holding a random token, set with a short lifetime (``ttl``). While
its holder runs, a heartbeat thread renews that lifetime every ``ttl / 3`` seconds, so a
load may take as long as its fetches need (three fetch deadlines and the parsing), while
a holder that dies without releasing it (SIGKILL, a lost machine) frees it within ``ttl``
seconds: the next scheduled load is not kept waiting for minutes.

A holder can still lose its lock: a process stopped (SIGSTOP, a frozen VM) or cut off from
Redis for longer than ``ttl`` finds another loader holding it when it comes back. That is
why the store's switch to a new version checks the token inside the same atomic step
(:meth:`DatasetStore.save` with ``lock=``): a loader that lost its lock writes nothing.
"""

from __future__ import annotations

import logging
import threading
import uuid

import redis
from redis.exceptions import LockError, LockNotOwnedError

log = logging.getLogger(__name__)

#: Seconds the lock outlives a holder that stopped renewing it (a killed loader).
LOCK_TTL = 30.0


class LockLost(RuntimeError):
    """The lock expired and may be held by another loader: this holder must not write."""


class LoadLock:
    """A non-blocking Redis lock renewed by a heartbeat thread while it is held.

    ``acquire()`` answers False at once when another holder has the key; ``release()``
    stops the heartbeat and deletes the key if it still holds this lock's ``token``."""

    def __init__(self, client: redis.Redis, key: str, ttl: float = LOCK_TTL):
        if ttl <= 0:
            raise ValueError("the lock's ttl must be positive")
        self.key = key
        self.ttl = ttl
        self.token = uuid.uuid4().hex
        # not thread-local: the heartbeat thread renews the token the caller's thread took
        self._lock = client.lock(key, timeout=ttl, blocking=False, thread_local=False)
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        if not self._lock.acquire(token=self.token):
            return False
        self._stop.clear()
        self._lost.clear()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat {self.key}", daemon=True)
        self._thread.start()
        return True

    @property
    def lost(self) -> bool:
        """True once the heartbeat found the key gone or holding another token."""
        return self._lost.is_set()

    def check(self) -> None:
        """Raise :class:`LockLost` if the heartbeat found the lock lost."""
        if self.lost:
            raise LockLost("the load lock expired while this load ran")

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self._lock.reacquire()  # the whole ttl again, if the key still holds our token
            except LockNotOwnedError:
                log.warning("lost the lock %s: it expired before the heartbeat renewed it", self.key)
                self._lost.set()
                return
            except (LockError, redis.RedisError) as exc:  # Redis away for a moment: try again
                log.warning("could not renew the lock %s (%s); trying again", self.key, exc)

    def release(self) -> None:
        """Stop the heartbeat; delete the key if it still holds our token (never another's)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            self._lock.release()
        except (LockError, redis.RedisError):  # expired, taken over, or Redis gone: nothing to release
            pass
