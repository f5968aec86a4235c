"""Exports end to end: a real worker process (the Procfile's command), a private Redis."""

from __future__ import annotations

import os
import signal
import struct
import time
import xml.etree.ElementTree as ET

import pytest
from rq import Queue

from dashboard.app import create_app
from dashboard.data.load import load
from dashboard.exports.admission import pending
from dashboard.exports.errors import ExportError, QueueFull
from dashboard.exports.queue import JOB_FUNCTION, QUEUE_NAME, SERIALIZER
from dashboard.exports.request import validate
from dashboard.exports.status import download, recent, status_of
from dashboard.exports.submit import request_export
from dashboard.figures import BUILDERS, TITLES
from tests.helpers import queue_export, real_data


@pytest.fixture
def dataset(store, settings):
    load(store, real_data(settings))
    return store.current()


def wait_done(redis_client, job_ids, timeout=90):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        infos = [status_of(redis_client, j) for j in job_ids]
        if all(i and i["status"] in ("finished", "failed") for i in infos):
            return infos
        time.sleep(0.2)
    pytest.fail(f"exports not done within {timeout} s: {[status_of(redis_client, j) for j in job_ids]}")


def png_size(body: bytes) -> tuple[int, int]:
    assert body[:8] == b"\x89PNG\r\n\x1a\n"
    assert body[12:16] == b"IHDR"
    return struct.unpack(">II", body[16:24])


def test_every_chart_exports_the_current_figure(redis_client, store, dataset, start_worker):
    start_worker()
    version = dataset.version
    lo, hi = int(dataset.waypoints["sol"].min()), int(dataset.waypoints["sol"].max())
    jobs = {}
    for i, chart in enumerate(BUILDERS):
        request = validate(chart, lo, hi, "png", 600 + 10 * i, 400, 1 if i % 2 else 2, bounds=(lo, hi))
        jobs[chart] = (request, queue_export(store, version, request))
    svg_req = validate("map", lo, hi, "svg", 800, 600)
    pdf_req = validate("distance", lo, hi, "pdf", 900, 500)
    svg_job = queue_export(store, version, svg_req)
    pdf_job = queue_export(store, version, pdf_req)
    ids = [job.id for _, job in jobs.values()] + [svg_job.id, pdf_job.id]
    infos = wait_done(redis_client, ids)
    assert [i["status"] for i in infos] == ["finished"] * len(ids), infos
    for chart, (request, job) in jobs.items():
        body, content_type, filename = download(redis_client, store.prefix, job.id)
        assert content_type == "image/png" and filename == request.filename
        assert png_size(body) == (int(request.width * request.scale), int(request.height * request.scale)), chart
    svg, content_type, _ = download(redis_client, store.prefix, svg_job.id)
    assert content_type == "image/svg+xml"
    root = ET.fromstring(svg)  # parses
    assert root.tag.endswith("svg") and root.get("width") == "800"
    text = "".join(root.itertext())
    assert f"{TITLES['map']} (sols {lo}–{hi})" in text  # the page's figure title
    assert "Longitude (°E)" in text
    pdf, content_type, _ = download(redis_client, store.prefix, pdf_job.id)
    assert content_type == "application/pdf" and pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-1024:]
    # the same request on the same dataset is the same job: nothing is rendered again
    again = queue_export(store, version, svg_req)
    assert again.id == svg_job.id and again.get_status().value == "finished"
    assert Queue(QUEUE_NAME, connection=redis_client).count == 0


def test_download_route(redis_client, store, dataset, start_worker, settings):
    start_worker()
    lo, hi = int(dataset.waypoints["sol"].min()), int(dataset.waypoints["sol"].max())
    request = validate("position", lo, hi, "png", 500, 300)
    app = create_app(settings, store)
    client = app.server.test_client()
    job = queue_export(store, dataset.version, request)
    early = client.get(f"/download/{job.id}")
    assert early.status_code in (409, 200)
    if early.status_code == 409:
        assert early.get_json()["status"] in ("queued", "started")
    wait_done(redis_client, [job.id])
    resp = client.get(f"/download/{job.id}")
    assert resp.status_code == 200 and resp.content_type == "image/png"
    assert resp.headers["Content-Disposition"] == f'attachment; filename="{request.filename}"'
    assert png_size(resp.data) == (500, 300)
    assert client.get(f"/jobs/{job.id}").get_json()["status"] == "finished"
    missing = client.get("/download/export-map-0123456789abcdef0123")
    assert missing.status_code == 404 and "no export" in missing.get_json()["error"]
    assert client.get("/download/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_a_killed_worker_loses_nothing(redis_client, store, dataset, start_worker):
    """SIGKILL the worker (and its browser) mid-render: the job is retried by a fresh
    worker within the tuned window, jobs queued behind it still run, new jobs run."""
    first = start_worker(PTRACKER_WARM_BROWSER="0")  # the first render starts the browser: a few seconds
    lo, hi = int(dataset.waypoints["sol"].min()), int(dataset.waypoints["sol"].max())
    tuned = {"export_timeout": 8, "export_retries": 1}
    requests_ = [validate(c, lo, hi, "png", 400, 300) for c in ("map", "orientation", "position")]
    jobs = [queue_export(store, dataset.version, r, **tuned) for r in requests_]
    end = time.monotonic() + 30
    while jobs[0].get_status().value != "started":
        assert time.monotonic() < end, "the first export never started"
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)  # the worker and its Chromium
    killed_at = time.monotonic()
    first.wait(10)
    start_worker()
    infos = wait_done(redis_client, [j.id for j in jobs], timeout=60)
    assert [i["status"] for i in infos] == ["finished"] * 3, infos
    assert status_of(redis_client, jobs[0].id)["retries_left"] == 0  # it was retried once
    # detected within job timeout + grace + maintenance (8 + 2 + 1 s), plus the re-render
    assert time.monotonic() - killed_at < 8 + 2 + 1 + 15
    fresh = queue_export(store, dataset.version, validate("elevation", lo, hi), **tuned)
    assert wait_done(redis_client, [fresh.id])[0]["status"] == "finished"


def test_killed_twice_fails_with_a_clear_reason(redis_client, store, dataset, start_worker):
    lo, hi = int(dataset.waypoints["sol"].min()), int(dataset.waypoints["sol"].max())
    job = queue_export(
        store, dataset.version, validate("map", lo, hi, "png", 400, 300), export_timeout=6, export_retries=0
    )
    worker = start_worker(PTRACKER_WARM_BROWSER="0")
    end = time.monotonic() + 30
    while job.get_status().value != "started":
        assert time.monotonic() < end
        time.sleep(0.05)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(10)
    start_worker()
    info = wait_done(redis_client, [job.id], timeout=40)[0]
    assert info["status"] == "failed"
    assert info["error"] == "the worker rendering this export stopped (killed or crashed) before finishing"
    # asking again re-queues it, and a healthy worker finishes it
    again = queue_export(store, dataset.version, validate("map", lo, hi, "png", 400, 300))
    assert again.id == job.id
    assert wait_done(redis_client, [again.id])[0]["status"] == "finished"


def test_bad_parameters_queue_nothing(redis_client, store, dataset):
    lo, hi = int(dataset.waypoints["sol"].min()), int(dataset.waypoints["sol"].max())
    for args in [
        ("pie", lo, hi),
        ("map", hi, lo),
        ("map", hi + 1000, hi + 2000),
        ("map", lo, hi, "exe"),
        ("map", lo, hi, "png", 100000),
    ]:
        with pytest.raises(ExportError):
            queue_export(store, dataset.version, validate(*args, bounds=(lo, hi)))
    assert Queue(QUEUE_NAME, connection=redis_client).count == 0


def test_the_web_side_never_imports_kaleido():
    import subprocess
    import sys

    code = (
        "import sys, dashboard.app, dashboard.exports.submit, dashboard.exports.status, dashboard.api.routes, "
        "dashboard.wsgi; "
        # (dashboard.exports.replay, the replay's figure and frames, is pure and the page's too)
        "worker_side = ('kaleido', 'choreographer', 'imageio_ffmpeg', 'jobs', 'dashboard.exports.job', "
        "'dashboard.exports.browser', 'dashboard.exports.video'); "
        "print(sorted(m for m in sys.modules if m.startswith(worker_side)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_request_export_is_the_one_submit_path(redis_client, store, settings, dataset):
    """What the page's Export button and the REST routes both call: validate against the
    dataset, admit the client, queue, count it as the client's pending export."""
    lo, hi = int(dataset.waypoints["sol"].min()), int(dataset.waypoints["sol"].max())
    picked = sorted(set(dataset.waypoints["rmc"].astype(str)))[:2]
    kwargs = {"store": store, "settings": settings, "address": "2001:db8:5::7"}
    asked = {"chart": "orientation", "sol_min": lo, "sol_max": hi, "fmt": "svg", "selection": picked}
    job = request_export(dataset, asked, **kwargs)
    assert job.id.startswith("export-orientation-") and job.get_meta()["params"]["selected"] == 2
    assert pending(redis_client, store.prefix, "2001:db8:5::/64") == 1
    assert recent(redis_client, store.prefix, "2001:db8:5::/64") == []  # the page's exports are not listed
    again = request_export(dataset, asked, **kwargs)
    assert again.id == job.id  # the same request on the same version: the same job
    the_map = {"chart": "map", "sol_min": lo, "sol_max": hi}
    listed = request_export(dataset, the_map, listed=True, **kwargs)
    assert [j["id"] for j in recent(redis_client, store.prefix, "2001:db8:5::/64")] == [listed.id]
    assert recent(redis_client, store.prefix, "203.0.113.1") == []  # each client sees its own
    with pytest.raises(ExportError, match="not in this dataset"):
        request_export(dataset, {**asked, "selection": ["made_up"]}, **kwargs)
    with pytest.raises(ExportError, match="unknown format"):
        request_export(dataset, {**the_map, "fmt": "exe"}, **kwargs)
    with pytest.raises(QueueFull) as busy:
        request_export(dataset, {**the_map, "fmt": "pdf"}, **{**kwargs, "settings": settings.replace(queue_max=1)})
    assert busy.value.retry_after > 0


def test_a_failed_job_of_an_older_release_is_queued_afresh(redis_client, store, dataset):
    """A job queued under the function name of a release before the rename fails in the new
    worker; asked for again, it is queued under today's name instead of requeued as it was."""
    lo, hi = int(dataset.waypoints["sol"].min()), int(dataset.waypoints["sol"].max())
    request = validate("elevation", lo, hi, "png")
    queue = Queue(QUEUE_NAME, connection=redis_client, serializer=SERIALIZER)
    old = queue.enqueue(
        "jobs.export_job.export_chart", kwargs=request.to_json(), job_id=request.job_id(dataset.version)
    )
    queue.remove(old)  # as a worker takes it, and fails it:
    old.set_status("failed")
    queue.failed_job_registry.add(old, exc_string="ModuleNotFoundError: No module named 'jobs.export_job'")
    again = queue_export(store, dataset.version, request)
    assert again.id == old.id
    assert again.func_name == JOB_FUNCTION == "dashboard.exports.job.export_chart"
    assert again.get_status().value == "queued"


def test_concurrent_submissions_never_overshoot_the_queue_cap(redis_client, store, dataset, settings):
    """Finding 10: 24 clients ask for 24 different exports at the same instant (no worker
    runs); the queue cap (3) holds: at most 3 are queued, the others hear QueueFull."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    lo, hi = int(dataset.waypoints["sol"].min()), int(dataset.waypoints["sol"].max())
    capped = settings.replace(queue_max=3, queue_client_max=3, export_rate=100)
    start = threading.Barrier(24)

    def ask(i: int) -> str:
        fields = {"chart": "map", "sol_min": lo, "sol_max": hi, "width": 400 + i, "height": 300}
        start.wait()
        try:
            request_export(dataset, fields, store=store, settings=capped, address=f"198.51.100.{i + 1}")
        except QueueFull:
            return "full"
        return "queued"

    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(ask, range(24)))
    assert answers.count("queued") == 3, answers
    assert Queue(QUEUE_NAME, connection=redis_client, serializer=SERIALIZER).count == 3
