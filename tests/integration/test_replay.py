"""Replays of the drive end to end: asked through the API, drawn by a real worker process
(the Procfile's command) on a private Redis, downloaded and checked with ffmpeg's own
reader (imageio-ffmpeg); the real NASA files are used when they are there."""

from __future__ import annotations

import os
import signal
import time

import imageio_ffmpeg
import numpy as np
import pytest
from rq import Queue

from dashboard.app import create_app
from dashboard.data.load import load
from dashboard.data.timeline import sol_bounds
from dashboard.exports.budget import Budgets
from dashboard.exports.errors import RateLimited
from dashboard.exports.queue import QUEUE_NAME, file_key
from dashboard.exports.request import REPLAY, validate
from dashboard.exports.status import status_of
from dashboard.exports.submit import REPLAY_FUNCTION, request_export, request_replay
from dashboard.page import ids
from tests.helpers import queue_export, real_data

#: seconds a replay may take here: two cores shared with other test runs draw ~2-5 frames a second
REPLAY_WAIT = 420


@pytest.fixture
def dataset(store, settings):
    load(store, real_data(settings))
    return store.current()


@pytest.fixture(params=["fixtures", "nasa"])
def each_dataset(request, store, settings):
    """The fixture files, then NASA's real files (skipped when they are not there)."""
    if request.param == "nasa":
        if real_data(settings) == settings:
            pytest.skip("NASA's data files are not there")
        settings = real_data(settings)
    load(store, settings)
    return store.current()


def wait_for(redis_client, job_ids, timeout=REPLAY_WAIT, seen=None):
    """Statuses once every job has ended; ``seen`` collects the stages met on the way."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        infos = [status_of(redis_client, j) for j in job_ids]
        if seen is not None:
            seen.update(i["stage"] for i in infos if i and i["stage"])
        if all(i and i["status"] in ("finished", "failed") for i in infos):
            return infos
        time.sleep(0.1)
    pytest.fail(f"replays not done within {timeout} s: {[status_of(redis_client, j) for j in job_ids]}")


def probe(body: bytes, name: str, folder) -> tuple[dict, int, np.ndarray, np.ndarray]:
    """(ffmpeg's metadata, frame count, first frame, last frame) of a video file."""
    path = folder / name
    path.write_bytes(body)
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    count, first, last = 0, None, None
    for raw in reader:
        frame = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
        first = frame if first is None else first
        last, count = frame, count + 1
    assert first is not None and last is not None
    return meta, count, first, last


def assert_the_rover_moved(first: np.ndarray, last: np.ndarray) -> None:
    """The frames differ where the rover drove; the axes, legend and colour bar stay."""
    changed = np.abs(first.astype(int) - last.astype(int)).max(axis=2) > 48
    assert changed.mean() > 0.001, "the first and last frames are the same"
    assert changed.mean() < 0.5, "the whole frame changed: the map moved"
    height = first.shape[0]
    legend = slice(height - height // 12, height)  # the legend, at the bottom of the figure
    assert not changed[legend].any(), "the legend changed between the first and last frames"


def test_a_replay_is_drawn_by_the_worker_and_downloaded(
    redis_client, store, settings, each_dataset, start_worker, tmp_path
):
    start_worker()
    client = create_app(settings, store).server.test_client()
    first, last = sol_bounds(each_dataset)  # the timeline: the traverse goes on past the waypoints
    budget = Budgets(redis_client, store.prefix, 0, 0)
    before = budget.usage()
    mp4 = client.post("/perseverance/replay", json={"width": 640, "height": 360})
    gif = client.post(
        "/perseverance/replay", json={"format": "gif", "frames": 40, "fps": 10, "width": 400, "height": 300}
    )
    assert mp4.status_code == 202 and gif.status_code == 202, (mp4.get_json(), gif.get_json())
    answer = mp4.get_json()
    assert answer["id"].startswith("export-replay-") and answer["chart"] == "replay"
    assert answer["params"] == {**answer["params"], "frames": 120, "fps": 12, "fmt": "mp4", "sol_min": first}
    assert mp4.headers["Location"] == answer["status_url"] == f"/jobs/{answer['id']}"
    seen: set[str] = set()
    infos = wait_for(redis_client, [answer["id"], gif.get_json()["id"]], seen=seen)
    assert [i["status"] for i in infos] == ["finished", "finished"], infos
    assert any(stage.startswith("rendering frame") and stage.endswith(" of 120") for stage in seen), seen
    assert client.get(answer["status_url"]).get_json()["progress"] == 100

    got = client.get(answer["download_url"])
    assert got.status_code == 200 and got.content_type == "video/mp4"
    assert f'filename="perseverance-replay-sols-{first}-{last}.mp4"' in got.headers["Content-Disposition"]
    meta, count, first_frame, last_frame = probe(got.data, "replay.mp4", tmp_path)
    assert (meta["codec"], meta["size"], meta["fps"], count) == ("h264", (640, 360), 12.0, 120), meta
    assert meta["pix_fmt"].startswith("yuv420p") and meta["duration"] == pytest.approx(10.0, abs=0.1)
    assert_the_rover_moved(first_frame, last_frame)

    got_gif = client.get(gif.get_json()["download_url"])
    assert got_gif.status_code == 200 and got_gif.content_type == "image/gif"
    assert got_gif.data[:6] == b"GIF89a"
    meta, count, first_frame, last_frame = probe(got_gif.data, "replay.gif", tmp_path)
    assert (meta["size"], count) == ((400, 300), 40) and meta["duration"] == pytest.approx(4.0, abs=0.15), meta
    assert_the_rover_moved(first_frame, last_frame)

    # the files are charged to the byte budgets; asked again, the same replay is the same job
    assert budget.usage() - before >= len(got.data) + len(got_gif.data)
    again = client.post("/perseverance/replay", json={"width": 640, "height": 360}).get_json()
    assert again["id"] == answer["id"] and again["status"] == "finished"
    assert Queue(QUEUE_NAME, connection=redis_client).count == 0


def test_a_replay_over_the_limits_is_refused_in_words_and_queues_nothing(redis_client, store, settings, dataset):
    client = create_app(settings, store).server.test_client()
    for body, words in [
        ({"frames": 601}, "frames 601 is out of bounds: use 2..600"),
        ({"fps": 31}, "fps 31 is out of bounds: use 1..30"),
        ({"frames": 600, "fps": 5}, "a replay lasts at most 60 s"),
        ({"width": 2000}, "width 2000 is out of bounds for a replay: use 300..1920 pixels"),
        ({"format": "png"}, "unknown replay format 'png'; choose one of: mp4, gif, webm"),
        ({"start": 900, "end": 100}, "sol range is reversed: start 900 is after end 100"),
        ({"start": 5000, "end": 6000}, "are outside the data"),
        ({"frames": "lots"}, "frames must be a number, not 'lots'"),
        ({"scale": 2}, "unknown field(s) scale"),
    ]:
        resp = client.post("/perseverance/replay", json=body)
        assert resp.status_code == 400 and words in resp.get_json()["error"], (body, resp.get_json())
    assert Queue(QUEUE_NAME, connection=redis_client).count == 0
    doc = client.get("/openapi.json").get_json()
    assert "ReplayBody" in str(doc["paths"]["/perseverance/replay"]["post"]["requestBody"])
    assert "video/mp4" in doc["paths"]["/download/{job_id}"]["get"]["responses"]["200"]["content"]


def test_a_replay_counts_as_several_exports_against_the_rate(store, settings, dataset):
    lo, hi = sol_bounds(dataset)
    kwargs = {"store": store, "settings": settings.replace(export_rate=9), "address": "198.51.100.23"}
    first = request_replay(dataset, lo - 100, hi, **kwargs)  # the page's "Export replay" button
    assert first.func_name == REPLAY_FUNCTION and first.timeout == settings.export_timeout + 60
    assert first.get_meta()["params"] == {**first.get_meta()["params"], "sol_min": lo, "frames": 120, "fmt": "mp4"}
    request_export(dataset, {"chart": "replay", "sol_min": lo, "sol_max": hi, "frames": 90}, **kwargs)  # 4 + 3
    with pytest.raises(RateLimited, match=r"at most 9 a minute \(this one counts as 4\)"):
        request_export(dataset, {"chart": "replay", "sol_min": lo, "sol_max": hi - 1, "frames": 120}, **kwargs)
    request_export(dataset, {"chart": "map", "sol_min": lo, "sol_max": hi}, **kwargs)  # 8 of 9
    request_export(dataset, {"chart": "map", "sol_min": lo, "sol_max": hi, "fmt": "svg"}, **kwargs)  # 9 of 9
    with pytest.raises(RateLimited, match=r"at most 9 a minute; try again"):
        request_export(dataset, {"chart": "map", "sol_min": lo, "sol_max": hi, "fmt": "pdf"}, **kwargs)


def test_a_replay_over_its_byte_limit_fails_with_the_reason(redis_client, store, dataset, start_worker):
    start_worker(PTRACKER_REPLAY_MAX_BYTES="2000")
    lo, hi = sol_bounds(dataset)
    job = queue_export(store, dataset.version, validate("replay", lo, hi, "gif", 320, 320, frames=6, fps=6))
    info = wait_for(redis_client, [job.id])[0]
    assert info["status"] == "failed" and info["retries_left"] == 0, info
    assert "the GIF replay is " in info["error"] and "over the limit of 0.0 MB for one replay" in info["error"]
    assert "ask for fewer frames or a smaller width and height, or MP4" in info["error"]
    assert redis_client.get(file_key(store.prefix, job.id)) is None


def test_a_killed_worker_s_replay_is_retried(redis_client, store, dataset, start_worker, tmp_path):
    """SIGKILL the worker (and its browsers and encoder) mid-replay: a fresh worker takes
    the replay again within the tuned window and finishes it."""
    lo, hi = sol_bounds(dataset)
    request = validate("replay", lo, hi, "mp4", 320, 320, frames=20, fps=10)
    job = queue_export(store, dataset.version, request, export_timeout=30, export_retries=1)
    assert job.timeout == 30 + 10
    worker = start_worker(PTRACKER_WARM_BROWSER="0")
    end = time.monotonic() + 120
    while not str(job.get_meta().get("stage") or "").startswith("rendering frame"):
        assert time.monotonic() < end, f"the replay never started drawing: {status_of(redis_client, job.id)}"
        time.sleep(0.05)
    os.killpg(worker.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    worker.wait(10)
    start_worker()
    info = wait_for(redis_client, [job.id])[0]
    assert info["status"] == "finished" and info["retries_left"] == 0, info  # it was retried once
    assert time.monotonic() - killed_at < 40 + 2 + 1 + 60  # timeout + grace + maintenance, and the re-draw
    body = redis_client.get(file_key(store.prefix, job.id))
    _, count, _, _ = probe(body, "retried.mp4", tmp_path)
    assert count == 20


def _page_export(client, chart: str, fmt: str, sols: list[int]) -> tuple[int, dict | None]:
    """The page's export callback as the browser posts it, for the button of ``chart``."""
    deps = client.get("/_dash-dependencies").get_json()
    cb = next(d for d in deps if "export-jobs.data" in d["output"])
    parts = [part.rsplit(".", 1) for part in cb["output"].strip(".").split("...")]
    outputs = [{"id": cid, "property": prop} for cid, prop in parts]
    button = {"chart": chart, "type": ids.EXPORT_BUTTON}
    fmt_id = {"chart": chart, "type": ids.EXPORT_FORMAT}
    body = {
        "output": cb["output"],
        "outputs": outputs,
        "inputs": [[{"id": button, "property": "n_clicks", "value": 1}]],
        "changedPropIds": [f'{{"chart":"{chart}","type":"{ids.EXPORT_BUTTON}"}}.n_clicks'],
        "state": [
            [{"id": fmt_id, "property": "value", "value": fmt}],
            [{"id": fmt_id, "property": "id", "value": fmt_id}],
            {"id": ids.SOL_RANGE, "property": "value", "value": sols},
            {"id": ids.SELECTION, "property": "data", "value": None},
            {"id": ids.EXPORT_JOBS, "property": "data", "value": []},
            {"id": ids.ROVER, "property": "data", "value": "perseverance"},
        ],
    }
    resp = client.post("/_dash-update-component", json=body)
    return resp.status_code, resp.get_json(silent=True)


def test_the_page_s_export_replay_button_queues_the_range_s_replay(redis_client, store, settings, dataset):
    """ "Export replay" under the page's replay: the range's replay as a video, queued as
    POST /perseverance/replay queues it (the same request is the same job), on the page's
    export list; an image format for it is refused in words."""
    app = create_app(settings, store)
    client = app.server.test_client()
    first, last = sol_bounds(dataset)
    status, answer = _page_export(client, REPLAY, "gif", [first, last])
    assert status == 200, answer
    jobs = answer["response"]["export-jobs"]["data"]
    assert len(jobs) == 1 and jobs[0].startswith("export-replay-")
    info = status_of(redis_client, jobs[0])
    assert info["status"] == "queued" and info["chart"] == "replay"
    assert info["params"]["fmt"] == "gif" and (info["params"]["sol_min"], info["params"]["sol_max"]) == (first, last)
    api = client.post("/perseverance/replay", json={"format": "gif", "start": first, "end": last}).get_json()
    assert api["id"] == jobs[0]  # the same replay
    status, answer = _page_export(client, REPLAY, "png", [first, last])
    assert status == 400 and "unknown format 'png'" in answer["error"]
