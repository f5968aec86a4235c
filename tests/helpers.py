"""Plain helpers shared by the tests (paths, ports, processes, the Procfile's environment,
the real-data settings). Fixtures live in conftest.py; test modules import these from here,
never from a conftest.

Tests use no private attribute of this project's code. They touch a library's internals
only where it guards a hook we rely on, and only these:

- RQ's ``SimpleWorker._install_signal_handlers`` (tests/unit/test_worker.py): the export
  worker extends it to honour a Ctrl-C that came before RQ was ready; the test fails first
  if an RQ upgrade renames it.
- Dash's ``dash._callback_context.context_value`` and ``dash._utils.AttributeDict``
  (tests/unit/test_callbacks.py): Dash's own documented way to call a callback that reads
  ``ctx`` as a plain function.
- plotly.js's ``gd._fullData`` / ``gd._fullLayout`` (browser tests): the figure as plotly.js
  drew it (typed arrays decoded, defaults applied), which is what the user sees.
- RQ 3.0's ``CronJob.enqueue`` (by a fingerprint of its source), ``CronScheduler._cron_jobs``
  and ``CronScheduler._request_stop`` (tests/unit/test_clock.py): the clock copies the first
  to queue its job JSON-serialised, and extends the other two; the tests fail first if an RQ
  upgrade changes them.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from dashboard.exports.submit import submit
from dashboard.run import procfile_command
from dashboard.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATA = Path(os.environ.get("PTRACKER_SHARED_DATA", ROOT.parent / "shared" / "data"))

#: Settings without the optional context layers (their defaults are NASA's and PDS's URLs).
NO_CONTEXT = {"heli_source": None, "samples_source": None, "terrain_source": None}

#: Worker tuning for tests: abandoned jobs noticed within seconds, not minutes.
TUNED_WORKER = {"PTRACKER_HEARTBEAT_GRACE": "2", "PTRACKER_MAINTENANCE_INTERVAL": "1", "PTRACKER_WORKER_TTL": "15"}


def free_port() -> int:
    """A TCP port nothing listens on right now (for servers the tests start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_procfile(name: str, env: dict, *, own_session: bool = False) -> subprocess.Popen:
    """The Procfile's ``name`` command (web, worker) from the project root, output as text on
    a pipe; ``own_session``: in a process group of its own (so it can be signalled whole)."""
    return subprocess.Popen(
        procfile_command(name),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=own_session,
    )


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> requests.Response:
    """Poll ``url`` until it answers 200; fail at once (with its output) if ``proc`` exits."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"process exited with {proc.returncode}:\n{out[-3000:]}")
        try:
            resp = requests.get(url, timeout=5)
            if resp.status_code == 200:
                return resp
        except requests.RequestException:  # not listening yet, or workers still booting
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {timeout} s")


def stop(proc: subprocess.Popen) -> str:
    """SIGTERM, then SIGKILL after 20 s; the process's output."""
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""


def check_page_assets(base: str) -> None:
    """Every script and stylesheet the page names is served, by every worker."""
    html = requests.get(base + "/", headers={"Accept": "text/html"}, timeout=5).text
    assert "<title>Perseverance Tracker</title>" in html
    urls = re.findall(r'(?:src|href)="(/[^"]+)"', html)
    assert any("dash_renderer" in u for u in urls)

    def status(url: str) -> tuple[str, int]:
        with requests.Session() as fresh:  # a new connection each time
            return url, fresh.get(base + url, timeout=10).status_code

    # many parallel connections, as a browser opens them: every worker gets some
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(status, urls * 6))
    assert [r for r in results if r[1] != 200] == []
    layout = requests.get(base + "/_dash-layout", timeout=5)
    assert layout.status_code == 200 and "sol-range" in layout.text


def queue_export(store, version: str, request, **settings):
    """Queue ``request`` (an ExportRequest) on ``version`` as the web side does, with the
    store's key prefix and any Settings field given (``export_timeout=8``...)."""
    return submit(store.redis, version, request, Settings(key_prefix=store.prefix, **settings))


def procfile_env(redis_url: str, key_prefix: str, port: int | None = None, **extra: str) -> dict[str, str]:
    """The environment a platform gives the Procfile's processes: the Redis, the key prefix
    and, for ``web``, its ``port`` on loopback with two gunicorn workers. ``extra`` adds or
    overrides variables."""
    env = {**os.environ, "REDIS_URL": redis_url, "PTRACKER_KEY_PREFIX": key_prefix}
    env.update({"HOST": "127.0.0.1", "WEB_CONCURRENCY": "2"})
    if port is not None:
        env["PORT"] = str(port)
    env.update(extra)
    return env


def real_data(settings: Settings, *, current: bool = False) -> Settings:
    """``settings`` with NASA's real files (SHARED_DATA) as the sources when they are there,
    unchanged otherwise; ``current`` adds the current-position layer."""
    if not (SHARED_DATA / "M20_waypoints.json").exists():
        return settings
    return settings.replace(
        waypoints_source=str(SHARED_DATA / "M20_waypoints.json"),
        traverse_source=str(SHARED_DATA / "M20_traverse.json"),
        current_source=str(SHARED_DATA / "M20_waypoints_current.json") if current else settings.current_source,
        max_bytes=20 * 1024 * 1024,
    )
