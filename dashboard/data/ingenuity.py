"""Ingenuity's flights: NASA's helicopter layer (``m20_heli_waypoints.json``) as a frame.

One Point feature per flight, where the helicopter landed, plus the deployment point
(flight 0: where the rover set it down, at Wright Brothers Field on sol 43). The layer's
property names are its own, not the rover's: ``Flight``, ``Sol``, ``Earth_Date`` (text such
as ``"April 4, 2021"`` or ``"Sept. 4, 2021"``), ``Lon``, ``Lat``, ``Elev_Geoid``, ``Dist_m``
(the length flown, not the straight line: the first flights went up and came back down
at the same spot, later ones flew out and back), ``Total_m`` (NASA's running total),
``Duration_s``, ``Max_Alt_m``, ``Max_Spd_m`` (m/s), ``FromAirfld``/``ToAirfld`` (airfield
names; a flight that came back lands where it took off), ``SCLK_START``/``SCLK_END``
(spacecraft clock, -1 where unknown), plus feet, miles, quaternions and attitude, not
kept. Numbers may arrive as JSON numbers or strings.

``Earth_Date`` is the UTC date on which the flight's sol begins, or the next one, except
flight 53 (``"July 22, 2023"`` with sol 864, which begins three days later): kept as given.
Each flight took off where the previous one landed: ``from_lon``/``from_lat`` are the
previous flight's landing point (unknown when that flight is missing from the file).
Pure code: bytes in, frame out; what cannot be read is skipped and counted, and a file
with nothing usable is a :class:`DataError`.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd

from dashboard.data.context import between_sols, parse_date
from dashboard.data.geojson import decode, feature_parts, point_of, valid_lonlat
from dashboard.data.schema import DataError, Layer, skipped_text, to_int, to_number, to_text, typed
from dashboard.data.terrain import along_track_m

__all__ = ["FLIGHT_COLUMNS", "between_sols", "flight_summary", "parse_flights"]

#: One row per flight, in flight order; flight 0 (``deployment``) is where the rover set the helicopter down.
FLIGHT_COLUMNS: dict[str, str] = {
    "flight": "int64",
    "deployment": "bool",
    "sol": "int64",
    "earth_date_text": "str",  # as NASA wrote it
    "earth_date": "datetime64[s]",  # the same, read (NaT when unreadable)
    "lon": "float64",
    "lat": "float64",
    "elev_geoid": "float64",
    "from_lon": "float64",  # where the flight took off: the previous flight's landing point
    "from_lat": "float64",
    "distance_m": "float64",  # length flown
    "displacement_m": "float64",  # straight line from take-off to landing
    "total_m": "float64",  # NASA's running total of distance_m
    "duration_s": "float64",
    "max_alt_m": "float64",
    "max_speed_m_s": "float64",
    "from_airfield": "str",
    "to_airfield": "str",
    "sclk_start": "float64",
    "sclk_end": "float64",
}
#: the layer's (lower-cased) property names -> columns; the rest are read under their own name
_NAMES = {
    "dist_m": "distance_m",
    "max_spd_m": "max_speed_m_s",
    "fromairfld": "from_airfield",
    "toairfld": "to_airfield",
    "earth_date": "earth_date_text",
}
_NUMBERS = ("distance_m", "total_m", "duration_s", "max_alt_m", "max_speed_m_s")
#: spacecraft clock values meaning "unknown"
_NO_CLOCK = (-1.0, 0.0)


def parse_flights(body: bytes, source: str = "ingenuity") -> Layer:
    """Parse the helicopter layer into :data:`FLIGHT_COLUMNS`, one row per flight."""
    name, features = decode(body, source)
    rows: list[dict] = []
    skipped: Counter = Counter()
    for feature in features:
        parts = feature_parts(feature)
        if parts is None:
            skipped["not a GeoJSON Feature object"] += 1
            continue
        row = _flight_row({_NAMES.get(k, k): v for k, v in parts[0].items()}, point_of(parts[1]))
        if isinstance(row, str):
            skipped[row] += 1
        else:
            rows.append(row)
    if not rows:
        raise DataError(source, f"no usable flights: {skipped_text(skipped, len(features))}")
    frame = pd.DataFrame.from_records(rows).sort_values("flight", kind="mergesort")
    duplicated = frame.duplicated("flight", keep="last")
    if duplicated.any():
        skipped["duplicate flight number (kept the later one)"] += int(duplicated.sum())
        frame = frame[~duplicated]
    frame = frame.reset_index(drop=True)
    _take_offs(frame)
    return Layer(name=name, features=len(features), frame=typed(frame, FLIGHT_COLUMNS), skipped=dict(skipped))


def _flight_row(props: dict, point: tuple[float, float, float] | None) -> dict | str:
    """One feature's row, or the reason it is skipped."""
    flight, sol = to_int(props.get("flight")), to_int(props.get("sol"))
    if flight is None or flight < 0:
        return "no usable flight number"
    if sol is None or sol < 0:
        return "no usable sol"
    lon, lat = to_number(props.get("lon")), to_number(props.get("lat"))
    if point is not None and (math.isnan(lon) or math.isnan(lat)):
        lon, lat = point[0], point[1]
    if math.isnan(lon) or math.isnan(lat) or not valid_lonlat(lon, lat):
        return "no usable lon/lat"
    elev = to_number(props.get("elev_geoid"))
    if math.isnan(elev) and point is not None:
        elev = point[2]
    row: dict[str, object] = {column: to_number(props.get(column)) for column in _NUMBERS}
    text = to_text(props.get("earth_date_text"))
    row.update(
        flight=flight,
        deployment=flight == 0,
        sol=sol,
        earth_date_text=text,
        earth_date=parse_date(text),
        lon=lon,
        lat=lat,
        elev_geoid=elev,
        from_airfield=to_text(props.get("from_airfield")),
        to_airfield=to_text(props.get("to_airfield")),
        sclk_start=_clock(props.get("sclk_start")),
        sclk_end=_clock(props.get("sclk_end")),
    )
    return row


def _clock(value) -> float:
    number = to_number(value)
    return math.nan if number in _NO_CLOCK else number


def _take_offs(frame: pd.DataFrame) -> None:
    """Each flight's take-off point (the previous flight's landing) and straight-line displacement."""
    follows = (frame["flight"].diff() == 1).to_numpy()
    frame["from_lon"] = frame["lon"].shift(1).where(follows)
    frame["from_lat"] = frame["lat"].shift(1).where(follows)
    frame["displacement_m"] = [
        along_track_m([a, b], [c, d])[-1] if np.isfinite([a, c]).all() else math.nan
        for a, b, c, d in zip(frame["from_lon"], frame["lon"], frame["from_lat"], frame["lat"], strict=True)
    ]


def flight_summary(flights: pd.DataFrame) -> dict:
    """Counts and totals over the numbered flights (the deployment point is not a flight)."""
    numbered = flights[~flights["deployment"].to_numpy(dtype=bool)]
    deployed = flights[flights["deployment"].to_numpy(dtype=bool)]
    if numbered.empty:
        return {"flights": 0, "deployment_sol": int(deployed["sol"].iloc[0]) if len(deployed) else None}
    last = numbered.iloc[-1]
    distance = float(numbered["distance_m"].sum())
    return {
        "flights": len(numbered),
        "first_flight": int(numbered["flight"].iloc[0]),
        "last_flight": int(last["flight"]),
        "deployment_sol": int(deployed["sol"].iloc[0]) if len(deployed) else None,
        "first_sol": int(numbered["sol"].min()),
        "last_sol": int(last["sol"]),
        "last_earth_date": None if pd.isna(last["earth_date"]) else last["earth_date"].date().isoformat(),
        "distance_m": round(distance, 1),
        "flights_without_distance": int(numbered["distance_m"].isna().sum()),  # not in the sum
        "distance_km": round(distance / 1000.0, 1),
        "airtime_s": round(float(numbered["duration_s"].sum()), 1),
        "max_alt_m": float(numbered["max_alt_m"].max()),
        "airfields": int(pd.concat([flights["from_airfield"], flights["to_airfield"]]).dropna().nunique()),
    }
