"""Plain helpers shared by the tests (paths, ports, processes). Fixtures live in conftest.py;
test modules import these from here, never from a conftest."""

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

from dashboard.run import procfile_command

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATA = Path(os.environ.get("PTRACKER_SHARED_DATA", ROOT.parent / "shared" / "data"))

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
