"""Both rovers on one chart: odometry and elevation change against sols since landing.

Perseverance (Jezero crater, since 2021) and Curiosity (Gale crater, since 2012) drive on
different sols and dates; counted from each one's landing (sol 0) their drives line up:
how far each had driven by its sol N, and how far it had climbed (or descended) from
where it first localized. Odometry is the waypoints' ``dist_total_m`` at the end of each
sol (mid-drive localizations never reset it: the largest of the sol), elevation change
each sol's last elevation less the first known one, with junk elevations (a placeholder
0 m far from the ground, :mod:`.profile`) left out. Hover names the rover, the sol and
its Earth date by that rover's own calendar. Pure code.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from dashboard.figures.common import (
    PALETTE,
    SERIES_BUDGET,
    ChartData,
    Figure,
    arr,
    calendar_of,
    chart_layout,
    figure_of,
    thin_indices,
)
from dashboard.figures.distance import per_sol_distance
from dashboard.figures.profile import junk
from dashboard.rovers import ROVERS

TITLE = "Both rovers since landing: odometry and elevation change"
#: each rover's colour (Perseverance's the charts' first colour)
ROVER_COLORS = {"perseverance": PALETTE[0], "curiosity": PALETTE[3]}


def per_sol(data: ChartData) -> pd.DataFrame:
    """One row per sol with a localization: ``sol``, ``odometry_km``, ``climb_m`` (the
    elevation at the sol's last localization less the first known elevation)."""
    wp = data.waypoints
    distance = per_sol_distance(wp)
    bad = junk(wp["elev_geoid"], wp["lon"], wp["lat"], getattr(data, "terrain", None))
    elev = wp.loc[~bad & wp["elev_geoid"].notna(), ["sol", "elev_geoid"]]
    last = elev.groupby("sol", sort=True)["elev_geoid"].last()
    first = float(elev["elev_geoid"].iloc[0]) if len(elev) else np.nan
    climb = (last - first).rename("climb_m")
    out = distance.set_index("sol")[["total_m"]].join(climb, how="left")
    return pd.DataFrame(
        {
            "sol": out.index.to_numpy(dtype=float),
            "odometry_km": out["total_m"].to_numpy(dtype=float) / 1000.0,
            "climb_m": out["climb_m"].to_numpy(dtype=float),
        }
    )


def _trace(rows: pd.DataFrame, column: str, rover: str, data: ChartData, axis: str, unit: str, show: bool) -> dict:
    rows = rows[np.isfinite(rows[column].to_numpy(dtype=float))]
    keep = thin_indices(rows[column].to_numpy(dtype=float), SERIES_BUDGET)
    sols = rows["sol"].to_numpy()[keep]
    dates = calendar_of(data).sol_dates(sols).tolist()
    label = ROVERS[rover].label
    return {
        "type": "scatter",
        "mode": "lines",
        "x": arr(sols),
        "y": arr(rows[column].to_numpy(dtype=float)[keep]),
        "xaxis": "x",
        "yaxis": axis,
        "name": label,
        "legendgroup": rover,
        "showlegend": show,
        "line": {"color": ROVER_COLORS.get(rover, PALETTE[-1]), "width": 2},
        "text": dates,
        "hovertemplate": f"<b>{label}</b><br>Sol %{{x}} · %{{text}} (UTC)<br>%{{y:.{1 if unit == 'km' else 0}f}} {unit}"
        "<extra></extra>",
    }


def compare(datasets: Mapping[str, ChartData]) -> Figure:
    """The overlay of every given rover's odometry (top) and elevation change (bottom)
    against its sols since landing; ``datasets`` by rover name."""
    data: list[dict] = []
    for rover, dataset in datasets.items():
        rows = per_sol(dataset)
        data.append(_trace(rows, "odometry_km", rover, dataset, "y", "km", True))
        data.append(_trace(rows, "climb_m", rover, dataset, "y2", "m", False))
    layout = chart_layout(
        TITLE,
        xaxis={"title": {"text": "Sols since landing (each rover's own sol 0)"}, "anchor": "y2"},
        yaxis={"title": {"text": "Odometry (km)"}, "domain": [0.55, 1.0], "rangemode": "tozero"},
        yaxis2={"title": {"text": "Elevation change (m)"}, "domain": [0.0, 0.45], "zeroline": True},
        hovermode="x unified",
    )
    return figure_of(data, layout, empty=not datasets)
