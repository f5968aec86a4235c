"""The replay on the page (pure: dataset and range in, what the browser needs out).

The browser gets, once per range, the same figure and frame states the worker's video is
drawn from (:func:`dashboard.exports.replay.replay_of`, the relief by URL: the page's
browser can fetch it), one frame a sol (at most :data:`MAX_FRAMES`, spread evenly), and
for each frame the now-style numbers the page shows beside it: the sol, its Earth date,
the odometry and the elevation at the end of that sol. ``assets/replay.js`` then steps
through the frames without asking the server again.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.data.store import Dataset
from dashboard.data.timeline import traverse_by_sol
from dashboard.exports.replay import replay_of
from dashboard.exports.request import REPLAY, ExportRequest
from dashboard.figures.terrain import IMAGE_URL

#: the most frames a page replay sends (NASA's whole drive, ~1,850 sols, is one a sol)
MAX_FRAMES = 2400
#: the replay's figure size; on the page its width follows the window
WIDTH, HEIGHT = 960, 560
#: the speeds offered, in sols a second, and the one chosen at first
SPEEDS, DEFAULT_SPEED = (10, 30, 100), 30


def page_frames(sol_min: int, sol_max: int) -> int:
    """How many frames a page replay of the range has: one a sol, at most MAX_FRAMES."""
    return max(1, min(sol_max - sol_min + 1, MAX_FRAMES))


def readings(dataset: Dataset, sols: list[int]) -> tuple[list[float | None], list[float | None]]:
    """The odometry (km) and the elevation (m) at the end of each sol, as the now card
    counts them: a waypoint's (the sol's last localization), else the traverse's where no
    waypoint is known yet; None before any."""
    wp = dataset.waypoints[["sol", "dist_total_m", "elev_geoid"]].set_axis(["sol", "odometry", "elev"], axis=1)
    by_sol = traverse_by_sol(dataset.traverse, dataset.traverse_points, dataset.memo)
    tr = by_sol[["sol", "total_m", "elev"]].set_axis(["sol", "odometry", "elev"], axis=1)
    both = pd.concat([tr.assign(source=0), wp.assign(source=1)], ignore_index=True)
    both = both.dropna(subset=["odometry"]).sort_values(["sol", "source"], kind="mergesort")
    table = both.groupby("sol", sort=True).last().reset_index()  # last: per column, skipping NaN
    at = np.searchsorted(table["sol"].to_numpy(), np.asarray(sols, dtype=float), side="right") - 1
    odometry, elev = table["odometry"].to_numpy(dtype=float), table["elev"].to_numpy(dtype=float)

    def pick(values: np.ndarray, scale: float, digits: int) -> list[float | None]:
        return [round(float(values[i]) * scale, digits) if i >= 0 and np.isfinite(values[i]) else None for i in at]

    return pick(odometry, 0.001, 3), pick(elev, 1.0, 1)


def page_replay(dataset: Dataset, sol_min: int, sol_max: int) -> dict:
    """What the page's browser gets once for a replay of ``sol_min``..``sol_max``: the
    worker's replay spec (figure, frames, the rover trace's and stamp's index) plus each
    frame's sol, Earth date, odometry and elevation, the range and the dataset version."""
    request = ExportRequest(
        REPLAY, sol_min, sol_max, width=WIDTH, height=HEIGHT, frames=page_frames(sol_min, sol_max), fps=1
    )
    replay = replay_of(dataset, request, image_source=IMAGE_URL)  # the page's browser asks this server
    odometry, elevation = readings(dataset, replay.sols)
    return {
        **replay.spec(),
        "range": [sol_min, sol_max],
        "version": dataset.version,
        "sols": replay.sols,
        "dates": [dataset.calendar.sol_date(s).isoformat() for s in replay.sols],
        "rover_name": dataset.rover,  # whose frames (the page never resumes another rover's)
        "odometry_km": odometry,
        "elevation_m": elevation,
    }
