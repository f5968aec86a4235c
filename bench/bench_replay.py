"""Benchmark: replays of the drive. Seconds per frame warm, and per 120-frame MP4.

    .venv/bin/python bench/bench_replay.py [--frames 120] [--width 1280 --height 720] [--repeat 2]

On NASA's real files (PTRACKER_SHARED_DATA, default the shared data folder beside the repo;
or the PTRACKER_*_SOURCE variables), the whole timeline of the layers:

1. In this process, the worker's own path: ``replay_of`` (the page's map made into a
   replay), the warm page of ``dashboard.exports.video`` (its start timed once), then per
   frame the ``Plotly.react`` of what moves and the PNG taken of the page: median and p95
   wall seconds a frame, and CPU seconds a frame (this process, Chromium and ffmpeg
   together: on a machine shared with other work the wall time grows, the CPU time much
   less). For comparison, a few frames drawn the other way, a fresh ``Plotly.toImage`` of
   the whole figure per frame.
2. Whole files in this process: ``video.render`` of the replay as MP4, GIF and WebM,
   seconds and bytes (the page warm, ffmpeg started per file as in a job).
3. End to end: a private Redis, one Procfile export worker (``python -m jobs.worker``),
   two distinct 120-frame MP4 replays queued one after the other: seconds from queueing to
   finished (the first pays the replay page's start in the worker).

Goals: at most 0.1 s a frame warm; one worker makes a 120-frame MP4 in under 20 s.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_exports import start_workers, stop_workers  # noqa: E402
from common import drop_keys, private_redis, real_sources  # noqa: E402

from dashboard.data.load import load  # noqa: E402
from dashboard.data.parse import parse_traverse, parse_waypoints  # noqa: E402
from dashboard.data.store import DatasetStore  # noqa: E402
from dashboard.data.timeline import sol_bounds  # noqa: E402
from dashboard.exports import video  # noqa: E402
from dashboard.exports.replay import replay_of  # noqa: E402
from dashboard.exports.request import validate  # noqa: E402
from dashboard.exports.submit import submit  # noqa: E402
from dashboard.figures import Frames  # noqa: E402
from dashboard.settings import Settings  # noqa: E402

GOAL_FRAME, GOAL_MP4 = 0.1, 20.0
TO_IMAGE_FRAMES = 5


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and every process below it (Chromium,
    ffmpeg, a worker and its own)."""
    tick = os.sysconf("SC_CLK_TCK")
    parent, used = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        pid = int(stat.parent.name)
        parent[pid], used[pid] = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
    mine, total = {os.getpid()}, sum(os.times()[:2])
    grew = True
    while grew:
        below = {pid for pid, ppid in parent.items() if ppid in mine and pid not in mine}
        total += sum(used[pid] for pid in below)
        mine |= below
        grew = bool(below)
    return total


def real_frames() -> Frames:
    wp_src, tr_src = real_sources()
    wp = parse_waypoints(Path(wp_src).read_bytes(), wp_src).frame
    tr = parse_traverse(Path(tr_src).read_bytes(), tr_src)
    return Frames(wp, tr.frame, tr.points)


def per_frame(data: Frames, frames: int, width: int, height: int) -> None:
    lo, hi = sol_bounds(data)
    request = validate("replay", lo, hi, "mp4", width, height, frames=frames, fps=12, bounds=(lo, hi))
    t0 = time.perf_counter()
    replay = replay_of(data, request)
    built = time.perf_counter() - t0
    print(f"Replay benchmark: sols {lo}-{hi}, {frames} frames, {width}x{height} ({os.cpu_count()} cores, shared)")
    print(f"  replay_of (the map, the frames' states):      {built:7.3f} s")
    t0 = time.perf_counter()
    page = video.start(60)
    print(f"  browser start + page load (once per worker):  {time.perf_counter() - t0:7.3f} s")
    t0 = time.perf_counter()
    layers = page.call(page.load(replay.spec(), width, height), 60)
    print(f"  figure sent and drawn once ({layers}):     {time.perf_counter() - t0:7.3f} s")
    for k in range(3):  # warm-up
        page.call(page.frame(k), 60)
    times, sizes = [], []
    c0 = cpu_seconds()
    for k in range(frames):
        t0 = time.perf_counter()
        sizes.append(len(page.call(page.frame(k), 60)))
        times.append(time.perf_counter() - t0)
    cpu = (cpu_seconds() - c0) / frames
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    median = statistics.median(times)
    print(
        f"  a frame, warm (react + PNG taken):            {median:7.3f} s median, {p95:.3f} s p95, "
        f"{cpu:.3f} CPU s; PNG {statistics.median(sizes) / 1024:.0f} KiB"
    )
    print(f"  goal <= {GOAL_FRAME} s a frame warm: {'met' if median <= GOAL_FRAME else 'NOT met'} (wall median)")
    to_image(page, frames, width, height)


def to_image(page: video.Page, frames: int, width: int, height: int) -> None:
    """A fresh Plotly.toImage of the whole figure per frame: the way not taken."""
    script = (
        "Plotly.toImage({data: frameData(%d), layout: withStamp(replay.spec.figure.layout, %d)},"
        f" {{format: 'png', width: {width}, height: {height}}})"
    )
    times = []
    for k in range(TO_IMAGE_FRAMES):
        t0 = time.perf_counter()
        url = page.call(page.evaluate(script % (k, k)), 120)
        base64.b64decode(url.split(",", 1)[1])
        times.append(time.perf_counter() - t0)
    print(f"  a frame by Plotly.toImage of the whole figure: {statistics.median(times):7.3f} s median of {len(times)}")


def whole_files(data: Frames, frames: int, width: int, height: int, repeat: int) -> None:
    lo, hi = sol_bounds(data)
    print(f"  whole files in this process ({frames} frames, {width}x{height}, 12 fps, page warm; best of {repeat}):")
    for fmt in ("mp4", "gif", "webm"):
        request = validate("replay", lo, hi, fmt, width, height, frames=frames, fps=12, bounds=(lo, hi))
        replay = replay_of(data, request)
        best, size = float("inf"), 0
        for _ in range(repeat):
            c0, t0 = cpu_seconds(), time.perf_counter()
            body = video.render(replay, fmt, 12, lambda *_: None, timeout=60)
            elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - c0
            if elapsed < best:
                best, size, best_cpu = elapsed, len(body), cpu
        print(
            f"    {fmt.upper():5s} {best:6.2f} s = {best / frames:.3f} s a frame, {best_cpu:6.2f} CPU s; "
            f"{size / 1024:8.0f} KiB"
        )
        if fmt == "mp4":
            print(f"    goal: a {frames}-frame MP4 in < {GOAL_MP4:.0f} s: {'met' if best < GOAL_MP4 else 'NOT met'}")


def end_to_end(frames: int, width: int, height: int) -> None:
    wp_src, tr_src = real_sources()
    print(f"  one Procfile worker, {frames}-frame MP4s {width}x{height}, queued to finished:")
    with private_redis() as url:
        client = redis.Redis.from_url(url)
        prefix = "ptbench-replay:"
        settings = Settings(waypoints_source=wp_src, traverse_source=tr_src, redis_url=url, key_prefix=prefix)
        store = DatasetStore(client, prefix)
        load(store, settings.replace(max_bytes=50 * 1024 * 1024), force=True)
        dataset = store.current()
        lo, hi = sol_bounds(dataset)
        env = {**os.environ, "REDIS_URL": url, "PTRACKER_KEY_PREFIX": prefix, "PTRACKER_LOG_LEVEL": "WARNING"}
        procs = start_workers(client, env, 1)
        try:
            for i, label in enumerate(("first (starts the replay page)", "second (warm)")):
                request = validate("replay", lo, hi - i, "mp4", width, height, frames=frames, fps=12)
                c0, t0 = cpu_seconds(), time.perf_counter()
                job = submit(client, dataset.version, request, Settings(key_prefix=prefix))
                while job.get_status(refresh=True) not in ("finished", "failed"):
                    if time.perf_counter() - t0 > 600:
                        sys.exit("the replay did not finish within 600 s")
                    time.sleep(0.05)
                elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - c0
                result = job.latest_result()
                size = result.return_value["bytes"] if result and result.return_value else 0
                print(f"    {label:32s} {elapsed:6.2f} s, {cpu:6.2f} CPU s, {job.get_status()}, {size / 1024:.0f} KiB")
        finally:
            stop_workers(client, procs)
        drop_keys(client, prefix)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    data = real_frames()
    try:
        per_frame(data, args.frames, args.width, args.height)
        whole_files(data, args.frames, args.width, args.height, args.repeat)
    finally:
        video.stop()
    end_to_end(args.frames, args.width, args.height)
    load_avg = os.getloadavg()[0]
    print(f"  (load average {load_avg:.1f} on {os.cpu_count()} cores during the run: wall times grow with it)")


if __name__ == "__main__":
    main()
