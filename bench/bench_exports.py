"""Benchmark: exports. Time per image by chart and format, then images per second with 1 and 2 workers.

    make bench      (or: .venv/bin/python bench/bench_exports.py [--repeat N] [--jobs N])

1. In this process, the export job's own path on NASA's real files: the figure builder,
   ``jobs.vector.for_export`` (vector traces, thinned to the file's pixels), and the warm
   kaleido browser of ``jobs.browser`` (no tab reload). Median of ``--repeat`` renders after
   two warm-ups, 1200x600 (the export default). Also checks that every SVG and PDF is
   vector: no ``<image`` in an SVG, no image XObject in a PDF, except the terrain's relief
   (the one raster a map with terrain has). ``map+terrain`` is the map with the context
   layers of the shared data folder (the relief inline, Ingenuity's flights, the sample
   sites), as the export job draws it.
2. End to end: a private Redis, 1 then 2 Procfile export workers (``python -m jobs.worker``,
   browser warmed at start), ``--jobs`` distinct exports queued at once (charts and formats
   mixed), time until the last one finished -> images per second.

Targets: the map as PNG within 0.3 s warm; with the terrain and layers, within 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import redis
from rq import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, drop_keys, private_redis, real_context, real_sources  # noqa: E402

from dashboard.data.ingenuity import parse_flights  # noqa: E402
from dashboard.data.load import load  # noqa: E402
from dashboard.data.parse import parse_traverse, parse_waypoints  # noqa: E402
from dashboard.data.samples import parse_samples  # noqa: E402
from dashboard.data.store import DatasetStore  # noqa: E402
from dashboard.data.terrain import Crop, parse_crop  # noqa: E402
from dashboard.exports import browser as render  # noqa: E402
from dashboard.exports.request import validate  # noqa: E402
from dashboard.exports.submit import submit  # noqa: E402
from dashboard.exports.vector import for_export  # noqa: E402
from dashboard.figures import Frames, View, build  # noqa: E402
from dashboard.figures.terrain import IMAGE_INLINE  # noqa: E402
from dashboard.run import procfile_command  # noqa: E402
from dashboard.settings import Settings  # noqa: E402

CHARTS = [
    ("map", {}),
    ("map+terrain", {"image_source": IMAGE_INLINE}),
    ("orientation", {}),
    ("position", {}),
    ("elevation", {}),
    ("elevation_distance", {}),
    ("distance", {}),
    ("xy", {"xkey": "sol", "ykey": "yaw"}),
]
FORMATS = ("png", "svg", "pdf")
MAP_PNG_TARGET, TERRAIN_PNG_TARGET = 0.3, 0.5


@dataclass(frozen=True)
class ContextFrames(Frames):
    """Frames with the context layers, as a dataset version holds them."""

    flights: pd.DataFrame | None = None
    samples: pd.DataFrame | None = None
    terrain: Crop | None = None


def context_frames(wp: pd.DataFrame, tr) -> ContextFrames:
    src = real_context()
    flights = parse_flights(Path(src["heli_source"]).read_bytes()).frame if src["heli_source"] else None
    samples = parse_samples(Path(src["samples_source"]).read_bytes()).frame if src["samples_source"] else None
    terrain = None
    if src["terrain_source"]:
        img = Path(src["terrain_source"])
        terrain = parse_crop(img.read_bytes(), img.with_suffix(".json").read_bytes())
    return ContextFrames(wp, tr.frame, tr.points, flights=flights, samples=samples, terrain=terrain)


def is_vector(body: bytes, fmt: str, rasters: int = 0) -> bool | None:
    """No raster in an SVG or PDF but the ``rasters`` allowed (the terrain's relief)."""
    if fmt == "svg":
        return body.count(b"<image") <= rasters
    if fmt == "pdf":
        return body.count(b"/Subtype /Image") + body.count(b"/Subtype/Image") <= rasters
    return None


def per_image(repeat: int, width: int, height: int) -> None:
    wp_src, tr_src = real_sources()
    wp = parse_waypoints(Path(wp_src).read_bytes(), wp_src).frame
    tr = parse_traverse(Path(tr_src).read_bytes(), tr_src)
    view = View.of(int(wp["sol"].min()), int(wp["sol"].max()))
    data = Frames(wp, tr.frame, tr.points)  # keeps the map's path levels, as a dataset version does
    with_context = context_frames(wp, tr)
    print(
        f"Export benchmark: seconds per image, {width}x{height}, median of {repeat} warm renders "
        f"(builder + vector/thinning + warm kaleido)"
    )
    print(f"  {'chart':20s} " + "".join(f"{fmt:>10s}" for fmt in FORMATS) + "   vector SVG/PDF")
    render.start()
    pngs: dict[str, float] = {}
    try:
        for chart, options in CHARTS:
            cells, vector = [], []
            for fmt in FORMATS:

                def once(chart=chart, fmt=fmt, options=options):
                    source = with_context if chart == "map+terrain" else data
                    figure = build(chart.split("+")[0], source, view, **options)
                    return render.to_image(for_export(figure, width, height, 1), fmt, width, height, 1)

                for _ in range(2):
                    body = once()
                times = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    body = once()
                    times.append(time.perf_counter() - t0)
                cells.append(statistics.median(times))
                if fmt != "png":
                    rasters = 1 if chart == "map+terrain" and with_context.terrain is not None else 0
                    vector.append(is_vector(body, fmt, rasters))
            flag = "yes" if all(vector) else "NO (raster inside)"
            flag += " (+ the relief)" if chart == "map+terrain" and with_context.terrain is not None else ""
            print(f"  {chart:20s} " + "".join(f"{c:9.3f}s" for c in cells) + f"   {flag}")
            pngs[chart] = cells[0]
        for chart, target in (("map", MAP_PNG_TARGET), ("map+terrain", TERRAIN_PNG_TARGET)):
            met = "met" if pngs[chart] <= target else "NOT met"
            print(f"  target: {chart} PNG <= {target} s warm: {met} ({pngs[chart]:.3f} s)")
    finally:
        render.stop()


def throughput(jobs: int, worker_counts=(1, 2)) -> None:
    wp_src, tr_src = real_sources()
    print(
        f"Export throughput: {jobs} distinct exports queued at once (charts and PNG/SVG/PDF mixed), "
        f"Procfile workers on a private Redis"
    )
    with private_redis() as url:
        client = redis.Redis.from_url(url)
        prefix = "ptbench-exp:"
        settings = Settings(
            waypoints_source=wp_src,
            traverse_source=tr_src,
            redis_url=url,
            key_prefix=prefix,
            max_bytes=50 * 1024 * 1024,
            **real_context(),
        )
        store = DatasetStore(client, prefix)
        load(store, settings, force=True)
        for n in worker_counts:
            env = {**os.environ, "REDIS_URL": url, "PTRACKER_KEY_PREFIX": prefix, "PTRACKER_LOG_LEVEL": "WARNING"}
            procs = start_workers(client, env, n)
            try:
                elapsed, failed = run_wave(client, prefix, store, jobs, n)
                print(
                    f"  {n} worker{'s' if n > 1 else ' '}: {jobs} images in {elapsed:6.2f} s = "
                    f"{jobs / elapsed:5.2f} images/s" + (f"   FAILED: {failed}" if failed else "")
                )
            finally:
                stop_workers(client, procs)
        drop_keys(client, prefix)
    print(f"  ({os.cpu_count()} CPU cores on this machine, shared with whatever else runs)")


def start_workers(client: redis.Redis, env: dict, n: int) -> list[subprocess.Popen]:
    """``n`` Procfile export workers, once they are registered (browser warm, listening)."""
    procs = [
        subprocess.Popen(
            procfile_command("worker"),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(n)
    ]
    end = time.monotonic() + 90
    while len(Worker.all(connection=client)) < n:
        if time.monotonic() > end:
            stop_workers(client, procs)
            sys.exit("export workers did not start")
        time.sleep(0.2)
    return procs


def stop_workers(client: redis.Redis, procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    for w in Worker.all(connection=client):
        w.register_death()


def run_wave(client: redis.Redis, prefix: str, store: DatasetStore, jobs: int, n: int) -> tuple[float, int]:
    """``jobs`` distinct exports submitted at once: (seconds until all ended, how many failed)."""
    version = store.current_version()
    wp = store.current().waypoints
    lo, hi = int(wp["sol"].min()), int(wp["sol"].max())
    submitted = []
    t0 = time.perf_counter()
    for i in range(jobs):
        chart, options = CHARTS[i % len(CHARTS)]
        chart = chart.split("+")[0]  # the stored dataset has its context layers: the job draws them
        fmt = FORMATS[i % len(FORMATS)]
        hi_i = hi - (i // len(CHARTS)) - n * 100  # distinct ranges: no job reuses another's result
        req = validate(chart, lo, hi_i, fmt, 1200, 600, xkey=options.get("xkey"), ykey=options.get("ykey"))
        submitted.append(submit(client, version, req, Settings(key_prefix=prefix)))
    pending = list(submitted)
    while pending:
        pending = [j for j in pending if j.get_status(refresh=True) not in ("finished", "failed")]
        if time.perf_counter() - t0 > 300:
            sys.exit("exports did not finish within 300 s")
        time.sleep(0.05)
    elapsed = time.perf_counter() - t0
    return elapsed, sum(1 for j in submitted if j.get_status(refresh=True) == "failed")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=21)
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=600)
    args = parser.parse_args()
    per_image(args.repeat, args.width, args.height)
    throughput(args.jobs)


if __name__ == "__main__":
    main()
