"""``python -m dashboard run``: everything `make run` needs, in one process tree.

Without ``REDIS_URL`` it starts the embedded Redis (its database in
``PTRACKER_DATA_DIR``), loads the data when the store is empty, then runs the
Procfile's ``web`` (gunicorn), ``worker`` (exports and scheduled refreshes) and ``clock``
(queues a refresh every ``PTRACKER_REFRESH_SECONDS``) commands with ``REDIS_URL``
pointing at the same server, and stops them all on Ctrl-C / SIGTERM (or when one exits).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dashboard.data.load import LoadError, load, one_line
from dashboard.data.store import DatasetStore
from dashboard.embedded_redis import DB_NAME, EmbeddedRedis
from dashboard.redis_conn import session
from dashboard.settings import PROJECT_ROOT, Settings

#: gunicorn's graceful timeout (20 s) and the worker's warm shutdown fit well inside this.
STOP_TIMEOUT = 30
#: How often the supervisor looks whether a child (web, worker, clock) has exited.
SUPERVISE_POLL_SECONDS = 0.2
#: The Procfile's processes ``run`` starts.
PROCESSES = ("web", "worker", "clock")
#: gunicorn's port and address under ``run`` unless PORT / HOST say otherwise (local only).
DEFAULT_PORT, DEFAULT_HOST = "8050", "127.0.0.1"


def procfile_command(process: str) -> list[str]:
    """A Procfile line as argv; its program taken from this interpreter's environment
    (the virtualenv's bin/) when it is there, so PATH need not include the virtualenv."""
    for line in (PROJECT_ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            argv = shlex.split(command.strip())
            local = Path(sys.executable).parent / argv[0]
            if argv[0] == "python":
                argv[0] = sys.executable
            elif local.exists():
                argv[0] = str(local)
            return argv
    raise KeyError(f"no '{process}' line in the Procfile")


def main() -> int:
    settings = Settings.from_env()
    if settings.redis_external:
        return serve(settings, dict(os.environ))
    # The embedded server outlives the processes that use it: stopped (with a save) only
    # after gunicorn and the worker have exited.
    with EmbeddedRedis(settings.data_dir) as server:
        print(f"embedded Redis: database {server.data_dir / DB_NAME}", flush=True)
        return serve(settings, {**os.environ, "REDIS_URL": server.url})


def load_if_empty(store: DatasetStore, settings: Settings, named: bool = False) -> None:
    """Load a rover's layers when its store holds no dataset yet, saying what happened
    (each line starting with the rover's name when ``named``: more than one is served)."""
    prefix = f"{settings.rover}: " if named else ""
    if store.current_version() is not None:
        print(f"{prefix}dataset version {store.current_version()} already loaded", flush=True)
        return
    try:
        print(f"{prefix}{one_line(load(store, settings))}", flush=True)
    except LoadError as exc:
        print(f"{prefix}could not load data: {exc}\nthe page will offer a 'Load data' button", flush=True)


def serve(settings: Settings, env: dict[str, str]) -> int:
    with session(settings if settings.redis_external else settings.replace(redis_url=env["REDIS_URL"])) as client:
        for rover in settings.rovers:  # each rover on its own: one failing never stops another
            named = len(settings.rovers) > 1
            load_if_empty(DatasetStore.of(client, settings, rover), settings.for_rover(rover), named)
    env.setdefault("PORT", DEFAULT_PORT)
    # One Prometheus multiprocess directory for gunicorn's workers and the worker: GET
    # /metrics then also shows the worker's export and refresh series.
    metrics_dir = None
    if not env.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="ptracker-metrics-")
        env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    env.setdefault("HOST", DEFAULT_HOST)
    shown = DEFAULT_HOST if env["HOST"] in ("0.0.0.0", "::") else env["HOST"]
    print(f"serving on http://{shown}:{env['PORT']}/ (bound to {env['HOST']}; Ctrl-C stops)", flush=True)
    procs = [subprocess.Popen(procfile_command(name), cwd=PROJECT_ROOT, env=env) for name in PROCESSES]
    stopping = False

    def stop_all(*_):
        nonlocal stopping
        stopping = True
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_all)
    try:
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(SUPERVISE_POLL_SECONDS)
    except KeyboardInterrupt:  # Ctrl-C: the children got the SIGINT too (same process group)
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan the children
        stop_all()
        codes = []
        for proc in procs:
            try:
                codes.append(proc.wait(timeout=STOP_TIMEOUT))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(proc.wait())
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return max((c for c in codes if c and c > 0), default=0)


if __name__ == "__main__":
    sys.exit(main())
