"""The map export with the context layers: a real worker draws the relief under the track
(inline: the export browser has no server to fetch it from), Ingenuity's flights and the
sample sites, as the page's map does (its replay video too); and the CLI's flags for the context layers."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from dashboard.data.load import load
from dashboard.exports.request import validate
from dashboard.exports.status import download, status_of
from dashboard.figures import View, build
from tests.helpers import ROOT, queue_export, real_data


def wait_done(redis_client, job_ids, timeout=90):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        infos = [status_of(redis_client, j) for j in job_ids]
        if all(i and i["status"] in ("finished", "failed") for i in infos):
            return infos
        time.sleep(0.2)
    pytest.fail(f"exports not done within {timeout} s")


@pytest.fixture
def real(settings, shared_data):
    if not (shared_data / "M20_mola128_jezero.img").exists():
        pytest.skip("the context layers' real files are not in the shared data")
    return real_data(settings).replace(
        heli_source=str(shared_data / "m20_heli_waypoints.json"),
        samples_source=str(shared_data / "M20_SAMPLE_v3.json"),
        terrain_source=str(shared_data / "M20_mola128_jezero.img"),
    )


def _plot_area(png: bytes) -> np.ndarray:
    """The middle of the map's plot area, as RGB values."""
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)
    height, width, _ = image.shape
    return image[int(height * 0.3) : int(height * 0.7), int(width * 0.3) : int(width * 0.6)]


def test_the_map_export_draws_the_relief_and_the_layers(redis_client, store, real, start_worker):
    load(store, real)
    bare = store.current()
    load(store, real.replace(heli_source=None, samples_source=None, terrain_source=None))
    without = store.current()
    start_worker()
    lo, hi = int(bare.waypoints["sol"].min()), int(bare.waypoints["sol"].max())
    jobs = {
        "png": queue_export(store, bare.version, validate("map", lo, hi, "png", 800, 600)),
        "svg": queue_export(store, bare.version, validate("map", lo, hi, "svg", 800, 600)),
        "pdf": queue_export(store, bare.version, validate("map", lo, hi, "pdf", 800, 600)),
        "plain": queue_export(store, without.version, validate("map", lo, hi, "png", 800, 600)),
    }
    infos = wait_done(redis_client, [job.id for job in jobs.values()])
    assert [i["status"] for i in infos] == ["finished"] * 4, infos
    files = {kind: download(redis_client, store.prefix, job.id)[0] for kind, job in jobs.items()}
    relief, plain = _plot_area(files["png"]), _plot_area(files["plain"])
    # the plot area is the relief's browns, not the white background of the map without it
    assert relief.std() > 15 and (relief.min(axis=2) > 245).mean() < 0.2
    assert (plain.min(axis=2) > 245).mean() > 0.6
    svg = files["svg"].decode()
    assert svg.count("<image") == 1 and 'href="data:image/png;base64,' in svg
    assert "Ingenuity: 72 flights" in svg and "samples: 24 tubes at 16 sites" in svg  # to sol 1110
    pdf = files["pdf"]
    assert pdf.startswith(b"%PDF") and (b"/Subtype /Image" in pdf or b"/Subtype/Image" in pdf)


def _first_frame(gif: bytes) -> bytes:
    """The first frame of a GIF, as a PNG."""
    out = io.BytesIO()
    with Image.open(io.BytesIO(gif)) as image:
        image.seek(0)
        image.convert("RGB").save(out, "PNG")
    return out.getvalue()


def test_the_replay_video_draws_the_relief_too(redis_client, store, real, start_worker):
    """The worker's replay figure carries the relief inline, as its map export does: the
    frames show the relief's browns where the replay without the terrain is white. (With
    Ingenuity and the samples in it too: their traces are drawn whole on every frame.)"""
    load(store, real)
    bare = store.current()
    load(store, real.replace(heli_source=None, samples_source=None, terrain_source=None))
    without = store.current()
    start_worker()
    lo, hi = int(bare.waypoints["sol"].min()), int(bare.waypoints["sol"].max())
    asked = validate("replay", lo, hi, "gif", 960, 540, frames=2, fps=2)
    jobs = [queue_export(store, bare.version, asked), queue_export(store, without.version, asked)]
    infos = wait_done(redis_client, [job.id for job in jobs], timeout=300)
    assert [i["status"] for i in infos] == ["finished"] * 2, [(i["status"], i.get("error")) for i in infos]
    frames = [_first_frame(download(redis_client, store.prefix, job.id)[0]) for job in jobs]
    relief, plain = (_plot_area(frame) for frame in frames)
    assert relief.std() > 15 and (relief.min(axis=2) > 245).mean() < 0.2
    assert (plain.min(axis=2) > 245).mean() > 0.6


def test_the_page_and_the_export_draw_one_map(store, real):
    """The same builder, the same figure: only how the relief is referred to differs."""
    load(store, real)
    dataset = store.current()
    view = View.of(0, 1840)
    page, export = build("map", dataset, view), build("map", dataset, view, image_source="inline")
    assert page["layout"]["images"][0]["source"].startswith("/terrain/")
    assert export["layout"]["images"][0]["source"].startswith("data:image/png;base64,")
    page["layout"]["images"][0]["source"] = export["layout"]["images"][0]["source"] = None
    assert page == export
    groups = [t.get("legendgroup") for t in page["data"]]
    assert groups.count("ingenuity") == 3 and groups.count("samples") == 1


def _cli(args, redis_url, key_prefix):
    env = {**os.environ, "REDIS_URL": redis_url, "PTRACKER_KEY_PREFIX": key_prefix}
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_cli_flags_of_the_context_layers(redis_url, key_prefix, fixture_path, redis_client, tmp_path):
    rover = [
        "--waypoints",
        str(fixture_path("waypoints_v2024.json")),
        "--traverse",
        str(fixture_path("traverse_v2026.json")),
    ]
    heli, samples = str(fixture_path("heli_flights.json")), str(fixture_path("sample_sites.json"))
    res = _cli(
        ["load", *rover, "--heli", heli, "--samples", samples, "--terrain", str(fixture_path("terrain_tiny.img"))],
        redis_url,
        key_prefix,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == (
        "loaded version 1: 8 waypoints (sols 13..18), 4 traverse segments (sols 14..17), no current-position layer, "
        "Ingenuity flights: 4 (sols 43..91), sample tubes: 7 at 5 sites (sols 164..337), "
        "terrain: 6 x 4 px MOLA crop, 0 features skipped\n"
    )
    gone = _cli(
        ["load", *rover, "--heli", heli, "--samples", samples, "--terrain", str(tmp_path / "gone.img")],
        redis_url,
        key_prefix,
    )
    assert gone.returncode == 0, gone.stderr
    assert "terrain stale (no such file; previous copy kept)" in gone.stdout
    off = _cli(["load", *rover, "--heli", "off", "--samples", "off", "--terrain", "off"], redis_url, key_prefix)
    assert off.returncode == 0 and "Ingenuity" not in off.stdout and "terrain" not in off.stdout
