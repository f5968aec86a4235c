"""Context layers drawn with the rover: Ingenuity's flights and the sample sites on a map,
and the sample sols as vertical marks on the charts over time.

Each layer's traces share a ``legendgroup`` with one legend entry, so one click on it
shows or hides the whole layer. Flights: one line per flight from the airfield it took off
from (the previous flight's landing) to where it landed, its number at the line's middle
(the hover there names flight, sol, Earth date, length flown, duration, maximum altitude
and airfields; at the landing point when the take-off point is unknown), and the landing
spots as airfield markers. Samples: one marker per site, its tubes in the hover. Inputs
are the frames of :mod:`dashboard.data.ingenuity` and :mod:`dashboard.data.samples`.
Plain-dict traces with typed arrays.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd

from dashboard.data.terrain import MARS_RADIUS_M
from dashboard.figures.common import PALETTE, View, arr, in_range

FLIGHT_GROUP, SAMPLE_GROUP = "ingenuity", "samples"
FLIGHT_COLOR = PALETTE[4]  # reddish purple
SAMPLE_COLOR = PALETTE[1]  # orange
#: marker symbol per sample type (others: "circle")
SAMPLE_SYMBOLS = {"Rock Core": "diamond", "Regolith": "square", "Atmospheric": "circle-open"}
#: consecutive landings at one airfield within this distance (m) of its first share a marker
SAME_SPOT_M = 25.0


#: the columns the hovers and markers read, per layer
FLIGHT_FIELDS = (
    "flight",
    "deployment",
    "sol",
    "earth_date_text",
    "from_airfield",
    "to_airfield",
    "distance_m",
    "duration_s",
    "max_alt_m",
    "lon",
    "lat",
)
SAMPLE_FIELDS = ("site", "tube", "name", "sol", "earth_date", "outcrop", "location", "type", "site_name", "lon", "lat")


def _rows(frame: pd.DataFrame, fields: tuple[str, ...]) -> list[SimpleNamespace]:
    """The frame's rows as plain objects with the named fields (column lists zipped: no
    pandas per row, ~50x faster than itertuples on these small frames)."""
    columns = [frame[name].tolist() for name in fields]
    return [SimpleNamespace(**dict(zip(fields, values, strict=True))) for values in zip(*columns, strict=True)]


def _number(value: float, unit: str, fmt: str = ".1f") -> str:
    return "unknown" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:{fmt}} {unit}"


def _flight_hover(row) -> str:
    date = "" if pd.isna(row.earth_date_text) else f" ({row.earth_date_text})"
    head = "Ingenuity deployed" if row.deployment else f"Ingenuity flight {row.flight}"
    text = f"{head}<br>Sol {row.sol}{date}"
    if not row.deployment:
        text += (
            f"<br>{row.from_airfield} → {row.to_airfield}"
            f"<br>flown {_number(row.distance_m, 'm')} in {_number(row.duration_s, 's', '.0f')}"
            f"<br>up to {_number(row.max_alt_m, 'm', 'g')}"
        )
    return text


def flight_traces(flights: pd.DataFrame, view: View | None = None, numbers: bool = True) -> list[dict]:
    """Lines, numbers and airfields of the flights in the view's sol range (all without one)."""
    shown = flights if view is None else in_range(flights, view, use_selection=False)
    flown = shown[~shown["deployment"].to_numpy(dtype=bool) & shown["from_lon"].notna().to_numpy(dtype=bool)]
    nan = np.full(len(flown), np.nan)
    xs = np.column_stack([flown["from_lon"].to_numpy(float), flown["lon"].to_numpy(float), nan]).ravel()
    ys = np.column_stack([flown["from_lat"].to_numpy(float), flown["lat"].to_numpy(float), nan]).ravel()
    count = int((~shown["deployment"].to_numpy(dtype=bool)).sum())  # numbered flights
    group = {"legendgroup": FLIGHT_GROUP}
    lines = {
        "type": "scatter",
        "x": arr(xs, "f8"),
        "y": arr(ys, "f8"),
        "mode": "lines",
        "name": f"Ingenuity: {count} flight{'s' if count != 1 else ''}",
        "line": {"color": FLIGHT_COLOR, "width": 1.5, "dash": "dot"},
        "hoverinfo": "skip",
        "connectgaps": False,
        "showlegend": True,
        **group,
    }
    numbered = shown[~shown["deployment"].to_numpy(dtype=bool)]
    known = numbered["from_lon"].notna().to_numpy(dtype=bool)  # else: at the landing point
    middles = {
        "type": "scatter",
        "x": arr(np.where(known, (numbered["from_lon"] + numbered["lon"]) / 2, numbered["lon"])),
        "y": arr(np.where(known, (numbered["from_lat"] + numbered["lat"]) / 2, numbered["lat"])),
        "mode": "markers+text" if numbers else "markers",
        "text": [str(f) for f in numbered["flight"].tolist()],
        "textposition": "top center",
        "textfont": {"size": 9, "color": FLIGHT_COLOR},
        "marker": {"size": 5, "color": FLIGHT_COLOR},
        "hovertext": [_flight_hover(row) for row in _rows(numbered, FLIGHT_FIELDS)],
        "hovertemplate": "%{hovertext}<extra></extra>",
        "name": "Ingenuity flight",
        "showlegend": False,
        **group,
    }
    return [lines, middles, _airfields(shown, group)]


def _airfields(shown: pd.DataFrame, group: dict) -> dict:
    """A marker per landing spot: consecutive landings at one airfield within SAME_SPOT_M
    of the first share it (NASA keeps an airfield's name for landings ~200 m apart)."""
    spots: list[list] = []  # [lon, lat, name, landings]
    for row in _rows(shown, FLIGHT_FIELDS):
        label = ("deployed" if row.deployment else f"flight {row.flight}") + f" (sol {row.sol})"
        last = spots[-1] if spots else None
        if last is not None and last[2] == row.to_airfield and _apart(last, row) <= SAME_SPOT_M:
            last[3].append(label)
        else:
            spots.append([float(row.lon), float(row.lat), row.to_airfield, [label]])
    lon, lat = [s[0] for s in spots], [s[1] for s in spots]
    hover = [f"{'unnamed airfield' if pd.isna(s[2]) else s[2]}<br>{', '.join(s[3])}" for s in spots]
    return {
        "type": "scatter",
        "x": arr(lon),
        "y": arr(lat),
        "mode": "markers",
        "marker": {"symbol": "triangle-up", "size": 9, "color": "white", "line": {"width": 1.5, "color": FLIGHT_COLOR}},
        "hovertext": hover,
        "hovertemplate": "%{hovertext}<extra></extra>",
        "name": "Ingenuity airfield",
        "showlegend": False,
        **group,
    }


def _apart(spot: list, row) -> float:
    """Ground distance (m) from a spot to a row's landing point (as along_track_m measures)."""
    lon0, lat0, lon1, lat1 = map(math.radians, (spot[0], spot[1], row.lon, row.lat))
    return MARS_RADIUS_M * math.hypot((lon1 - lon0) * math.cos((lat0 + lat1) / 2), lat1 - lat0)


def _site_hover(rows: list[SimpleNamespace]) -> str:
    first = rows[0]
    place = ", ".join(str(v) for v in (first.outcrop, first.location) if not pd.isna(v))
    tubes = "<br>".join(
        f"{'tube ' + str(r.tube) if not pd.isna(r.tube) else 'tube'}: {r.name}, sol {r.sol}"
        + ("" if pd.isna(r.earth_date) else f" ({r.earth_date.date().isoformat()})")
        for r in rows
    )
    kind = "sample" if pd.isna(first.type) else str(first.type)
    return f"<b>{first.site_name}</b><br>{kind}" + (f", {place}" if place else "") + f"<br>{tubes}"


def sample_traces(samples: pd.DataFrame, view: View | None = None) -> list[dict]:
    """One marker per sampling site with a tube filled in the view's sol range."""
    shown = samples if view is None else in_range(samples, view, use_selection=False)
    by_site: dict[int, list[SimpleNamespace]] = {}
    for row in _rows(shown, SAMPLE_FIELDS):
        by_site.setdefault(int(row.site), []).append(row)
    sites = [by_site[k] for k in sorted(by_site)]
    # the legend draws the first marker's symbol: the commonest type goes first
    common = shown["type"].mode()
    sites.sort(key=lambda rows: bool(len(common)) and rows[0].type != common.iloc[0])
    tubes, plural = len(shown), "s" if len(sites) != 1 else ""
    return [
        {
            "type": "scatter",
            "x": arr([float(rows[0].lon) for rows in sites]),
            "y": arr([float(rows[0].lat) for rows in sites]),
            "mode": "markers",
            "marker": {
                "symbol": [SAMPLE_SYMBOLS.get(str(rows[0].type), "circle") for rows in sites],
                "size": 11,
                "color": SAMPLE_COLOR,
                "line": {"width": 1, "color": "#333"},
            },
            "hovertext": [_site_hover(rows) for rows in sites],
            "hovertemplate": "%{hovertext}<extra></extra>",
            "name": f"samples: {tubes} tube{'s' if tubes != 1 else ''} at {len(sites)} site{plural}",
            "legendgroup": SAMPLE_GROUP,
            "showlegend": True,
        }
    ]


def sample_sol_marks(samples: pd.DataFrame, view: View) -> list[dict]:
    """Layout ``shapes``: a dotted vertical line at each sol a tube was filled on, within the
    view's range, on a time axis of sols or of Earth dates (the sol's start, UTC)."""
    shown = in_range(samples, view, use_selection=False)
    by_sol: dict[int, list[str]] = {}
    for sol, name in zip(shown["sol"].tolist(), shown["name"].tolist(), strict=True):
        by_sol.setdefault(int(sol), []).append(str(name))
    sols = sorted(by_sol)
    xs = view.calendar.sol_instants(sols) if view.time_axis == "date" else sols
    names = {sol: ", ".join(tube_names) for sol, tube_names in by_sol.items()}
    return [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": x,
            "x1": x,
            "y0": 0,
            "y1": 1,
            "layer": "below",
            "line": {"color": SAMPLE_COLOR, "width": 1, "dash": "dot"},
            "name": f"sample sol {sol}: {names[sol]}",
        }
        for sol, x in zip(sols, xs, strict=True)
    ]
