"""The web process as deployed: the Procfile's gunicorn command, and `python -m dashboard run`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import requests

from dashboard.exports.request import validate
from dashboard.run import procfile_command
from tests.helpers import (
    ROOT,
    check_page_assets,
    free_port,
    procfile_env,
    queue_export,
    start_procfile,
    stop,
    wait_http,
)


def test_procfile_web_command_serves_the_page_from_every_worker(redis_url, key_prefix, redis_client, store, settings):
    from dashboard.data.load import load

    load(store, settings)
    port = free_port()
    env = procfile_env(redis_url, key_prefix, port)
    proc = subprocess.Popen(
        procfile_command("web"), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/_dash-layout", proc)  # not "/": rendering the index is what is checked
        check_page_assets(base)
    finally:
        out = stop(proc)
    assert "Traceback" not in out, out[-3000:]
    assert out.count("Booting worker") >= 2


def test_dashboard_run_uses_an_embedded_redis_and_loads_on_start(tmp_path, fixture_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        PORT=str(port),
        HOST="127.0.0.1",
        WEB_CONCURRENCY="1",
        PTRACKER_DATA_DIR=str(tmp_path / "var"),
        PTRACKER_WAYPOINTS_SOURCE=str(fixture_path("waypoints_v2024.json")),
        PTRACKER_TRAVERSE_SOURCE=str(fixture_path("traverse_v2026.json")),
    )
    base = f"http://127.0.0.1:{port}"

    def run_once() -> str:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_http(base + "/_dash-layout", proc)  # not "/": rendering the index is what is checked
            check_page_assets(base)
        finally:
            out = stop(proc)
        return out

    first = run_once()
    assert "embedded Redis" in first
    assert "Listening on exports" in first  # make run starts an export worker too
    assert "loaded version 1: 8 waypoints (sols 13..18)" in first
    assert (tmp_path / "var" / "redis.db").exists()
    second = run_once()  # the data persisted in PTRACKER_DATA_DIR: nothing to load
    assert "dataset version 1 already loaded" in second
    assert "Traceback" not in first + second


def test_procfile_web_and_worker_answer_health_and_an_export(redis_url, key_prefix, redis_client, store, settings):
    """The two Procfile processes, as a platform would start them: health, readiness,
    and one export rendered by the worker and downloaded from the web server."""
    from dashboard.data.load import load

    port = free_port()
    env = procfile_env(redis_url, key_prefix, port)
    web = start_procfile("web", env)
    worker = start_procfile("worker", env, own_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_http(base + "/healthz", web).json() == {"status": "ok", "checks": {"process": "ok"}}
        empty = requests.get(base + "/readyz", timeout=5)  # ready without data: the page offers loading
        checks = empty.json()["checks"]
        assert empty.status_code == 200 and checks.pop("version_watch") in ("not started", "live")
        assert checks == {
            "app": "ok",
            "redis": "ok",
            "dataset": "none loaded",
            "datasets": {"perseverance": "none loaded"},  # the processes serve Perseverance alone
        }
        load(store, settings)
        # the load reaches the process within milliseconds; a process's watch is live once it has read
        ready = until_ready(base, lambda c: c["dataset"] == "version 1" and c["version_watch"] == "live")
        assert ready["datasets"] == {"perseverance": "version 1"}
        request = validate("map", 13, 18, "png", 640, 480)
        job = queue_export(store, store.current_version(), request)
        end = time.monotonic() + 60
        while True:
            resp = requests.get(f"{base}/download/{job.id}", timeout=5)
            if resp.status_code == 200:
                break
            assert resp.status_code == 409, resp.text
            assert time.monotonic() < end, requests.get(f"{base}/jobs/{job.id}", timeout=5).text
            time.sleep(0.3)
        assert resp.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert resp.headers["Content-Disposition"] == f'attachment; filename="{request.filename}"'
    finally:
        out = stop(web)
        os.killpg(worker.pid, signal.SIGTERM)
        worker_out, _ = worker.communicate(timeout=30)
    assert "Traceback" not in out + worker_out, (out + worker_out)[-3000:]


def test_the_original_readme_curl_lines_against_a_real_server(redis_url, key_prefix, redis_client, tmp_path):
    """gunicorn + a worker, driven with curl exactly as the original tracker's README does."""
    import json
    import shutil

    curl = shutil.which("curl")
    assert curl, "curl is not installed (make test installs it)"
    port = free_port()
    env = procfile_env(
        redis_url,
        key_prefix,
        port,
        PTRACKER_WAYPOINTS_SOURCE=str(ROOT / "tests" / "fixtures" / "waypoints_v2024.json"),
        PTRACKER_TRAVERSE_SOURCE=str(ROOT / "tests" / "fixtures" / "traverse_v2026.json"),
    )
    web = start_procfile("web", env)
    worker = start_procfile("worker", env, own_session=True)
    host = f"127.0.0.1:{port}"

    def sh(*args) -> str:
        res = subprocess.run([curl, "-s", *args], capture_output=True, text=True, timeout=30)
        assert res.returncode == 0, res.stderr
        return res.stdout

    try:
        wait_http(f"http://{host}/healthz", web)
        assert "POST  /perseverance/orientation/yaw" in sh(f"{host}/")  # plain curl gets the help
        assert json.loads(sh(f"{host}/load", "-X", "POST"))["waypoints"]["rows"] == 8
        assert sh(f"{host}/perseverance/sol") == "Most recent data waypoint is at Sol-18"
        answer = json.loads(
            sh(
                f"{host}/perseverance/orientation/yaw",
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-d",
                '{"start":"0","end":"400"}',
            )
        )
        assert answer["status"] in ("queued", "started", "finished")
        image = tmp_path / "yaw.png"
        end = time.monotonic() + 60
        while True:
            code = sh("-o", str(image), "-w", "%{http_code}", f"{host}{answer['download_url']}")
            if code == "200":
                break
            assert code == "409" and time.monotonic() < end, (code, image.read_text(errors="replace"))
            time.sleep(0.3)
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        out = stop(web)
        os.killpg(worker.pid, signal.SIGTERM)
        worker_out, _ = worker.communicate(timeout=30)
    assert "Traceback" not in out + worker_out, (out + worker_out)[-3000:]


def until_ready(base: str, ok, limit: float = 5.0) -> dict:
    """/readyz's checks once ``ok(checks)`` holds (gunicorn's workers answer in turn)."""
    end = time.monotonic() + limit
    while True:
        checks = requests.get(base + "/readyz", timeout=5).json()["checks"]
        if ok(checks):
            return checks
        assert time.monotonic() < end, checks
        time.sleep(0.05)


def test_every_web_process_answers_the_new_version_within_100_ms_of_a_load(redis_url, key_prefix, store, settings):
    """Issue 24 A: after a load switches ``dataset:current``, 1,000 requests spread over
    three gunicorn workers (a new connection each, so the kernel hands them to any worker)
    never answer the old version when they were sent more than 100 ms after the switch.
    The answer names its version in its ETag (``"v<version>-…"``)."""
    from concurrent.futures import ThreadPoolExecutor

    from dashboard.data.load import load

    load(store, settings)
    old = store.current()
    port = free_port()
    env = procfile_env(redis_url, key_prefix, port, WEB_CONCURRENCY="3", PTRACKER_LOG_LEVEL="WARNING")
    web = start_procfile("web", env)
    url = f"http://127.0.0.1:{port}/perseverance/sol"
    switched: list[float] = []

    def one(i: int) -> tuple[float, str]:
        if i == 300:  # the load, in the middle of the flood
            new = store.save(old.waypoint_layer, old.traverse, old.traverse_points, old.meta, current=old.current)
            switched.append(time.monotonic())
            assert new.version == "2"
        sent = time.monotonic()
        resp = requests.get(url, headers={"Connection": "close"}, timeout=10)
        assert resp.status_code == 200, resp.text
        return sent, resp.headers["ETag"].strip('"').split("-", 1)[0]

    try:
        wait_http(url, web)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(one, range(1000)))
    finally:
        out = stop(web)
    assert "Traceback" not in out, out[-3000:]
    assert {v for _, v in answers} == {"v1", "v2"}
    late = [sent - switched[0] for sent, v in answers if v == "v1" and sent > switched[0] + 0.1]
    assert not late, f"{len(late)} answers of the old version sent up to {max(late) * 1000:.0f} ms after the switch"
    assert sum(1 for sent, v in answers if sent > switched[0] + 0.1) > 300
