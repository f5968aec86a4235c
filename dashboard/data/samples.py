"""Perseverance's sample tubes: NASA's sample layer (``M20_SAMPLE_v3.json``) as a frame.

One Point feature per sampling site. Every property is text except the position
(``easting``, ``northing``, ``elev``, ``lon``, ``lat``), and a site where the rover filled two
tubes says so inside the text: ``sol`` is ``"194 & 196"``, ``sample_num`` ``"2 & 3"``,
``sample_name`` ``"Montdenier + Montagnac"``, ``date`` ``"Sept. 6&8, 2021"`` (the dates in
several spellings, see :mod:`.context`). ``sample_type`` is ``Rock Core``, ``Regolith`` or
``Atmospheric``; ``outcrop_name`` and ``location`` name the place. Some names reached us with
their accented letters already lost (replacement characters or ``?``): kept as given.

The frame has **one row per tube**, each with its own sol (so "tubes filled by sol N" is
a count of rows), and ``site`` numbers the features in file order: a site is the rows
sharing it. A tube's name, number and date are its own where the site's text has one per
sol; otherwise the site's whole text (the number and date then missing).

The position is the Point geometry's, which is what NASA's map draws; the ``lon``/``lat``
properties only stand in where there is no geometry. They disagree once in NASA's file:
Lefroy Bay's properties repeat the previous site's, while its geometry agrees with its own
easting/northing. Such a disagreement is described in ``note``. Pure code.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import pandas as pd

from dashboard.data.context import between_sols, parse_dates
from dashboard.data.geojson import decode, feature_parts, point_of, valid_lonlat
from dashboard.data.schema import DataError, Layer, skipped_text, to_number, to_text, typed
from dashboard.data.terrain import along_track_m

__all__ = ["SAMPLE_COLUMNS", "between_sols", "parse_samples", "sample_summary", "tubes_filled"]

#: One row per tube, in file order.
SAMPLE_COLUMNS: dict[str, str] = {
    "site": "int64",  # the feature's position in the file: a site is the rows sharing it
    "tube": "Int64",  # NASA's sample number (1, 2, ...), missing when the site's text does not say
    "sol": "int64",  # this tube's sol
    "sol_text": "str",  # the site's sols as NASA wrote them ("194 & 196")
    "name": "str",  # this tube's sample name
    "site_name": "str",  # the site's sample names as written ("Montdenier + Montagnac")
    "type": "str",
    "outcrop": "str",
    "location": "str",
    "earth_date_text": "str",  # the site's dates as written ("Sept. 6&8, 2021")
    "earth_date": "datetime64[s]",  # this tube's date (NaT when the text has none for it)
    "lon": "float64",
    "lat": "float64",
    "elev": "float64",
    "easting": "float64",
    "northing": "float64",
    "note": "str",
}
_PARTS = re.compile(r"\s*(?:&|,|\band\b)\s*")
#: position properties and geometry further apart than this (m) are reported in ``note``
AGREE_M = 1.0


def parse_samples(body: bytes, source: str = "samples") -> Layer:
    """Parse the sample layer into :data:`SAMPLE_COLUMNS`, one row per tube."""
    name, features = decode(body, source)
    rows: list[dict] = []
    skipped: Counter = Counter()
    for site, feature in enumerate(features):
        parts = feature_parts(feature)
        if parts is None:
            skipped["not a GeoJSON Feature object"] += 1
            continue
        tubes = _site_rows(site, parts[0], point_of(parts[1]))
        if isinstance(tubes, str):
            skipped[tubes] += 1
        else:
            rows.extend(tubes)
    if not rows:
        raise DataError(source, f"no usable sample sites: {skipped_text(skipped, len(features))}")
    frame = pd.DataFrame.from_records(rows)
    return Layer(name=name, features=len(features), frame=typed(frame, SAMPLE_COLUMNS), skipped=dict(skipped))


def _site_rows(site: int, props: dict, point: tuple[float, float, float] | None) -> list[dict] | str:
    """A site's tubes, or the reason it is skipped."""
    sol_text = to_text(props.get("sol"))
    sols = _integers(sol_text)
    if not sols or min(sols) < 0:
        return "no usable sol"
    position = _position(props, point)
    if isinstance(position, str):
        return position
    lon, lat, elev, note = position
    site_name, date_text = to_text(props.get("sample_name")), to_text(props.get("date"))
    names = _own(site_name.split("+") if site_name else None, len(sols))
    numbers = _own(_integers(to_text(props.get("sample_num"))), len(sols))
    dates = _own(parse_dates(date_text), len(sols))
    shared = {
        "site": site,
        "sol_text": sol_text,
        "site_name": site_name,
        "type": to_text(props.get("sample_type")),
        "outcrop": to_text(props.get("outcrop_name")),
        "location": to_text(props.get("location")),
        "earth_date_text": date_text,
        "lon": lon,
        "lat": lat,
        "elev": elev,
        "easting": to_number(props.get("easting")),
        "northing": to_number(props.get("northing")),
        "note": note,
    }
    return [
        {
            **shared,
            "sol": sol,
            "tube": numbers[i],
            "name": names[i].strip() if names[i] else site_name,
            "earth_date": dates[i],
        }
        for i, sol in enumerate(sols)
    ]


def _integers(text: str | None) -> list[int] | None:
    """``"194 & 196"`` -> [194, 196]; None when any part is not a whole number."""
    if not text:
        return None
    parts = [p for p in _PARTS.split(text) if p]
    if not parts or not all(p.isdigit() for p in parts):
        return None
    return [int(p) for p in parts]


def _own(values: list | None, count: int) -> list:
    """One value per tube when the site's text has exactly one per tube, else Nones."""
    return list(values) if values is not None and len(values) == count else [None] * count


def _position(props: dict, point: tuple[float, float, float] | None) -> tuple[float, float, float, str | None] | str:
    lon, lat = to_number(props.get("lon")), to_number(props.get("lat"))
    elev = to_number(props.get("elev"))
    note = None
    if point is not None and valid_lonlat(point[0], point[1]):
        apart = along_track_m([lon, point[0]], [lat, point[1]])[-1] if not math.isnan(lon + lat) else 0.0
        if apart > AGREE_M:
            note = (
                f"lon/lat properties ({lon:.6f}, {lat:.6f}) are {apart:.0f} m from the Point geometry "
                f"({point[0]:.6f}, {point[1]:.6f}); the geometry is used"
            )
        lon, lat = point[0], point[1]
        if math.isnan(elev):
            elev = point[2]
    if math.isnan(lon) or math.isnan(lat) or not valid_lonlat(lon, lat):
        return "no usable lon/lat"
    return lon, lat, elev, note


def tubes_filled(samples: pd.DataFrame, sol: int) -> int:
    """How many tubes had been filled by the end of ``sol``."""
    return int((samples["sol"] <= sol).sum())


def sample_summary(samples: pd.DataFrame) -> dict:
    """Sites, tubes, their sols and types."""
    return {
        "sites": int(samples["site"].nunique()),
        "tubes": len(samples),
        "first_sol": int(samples["sol"].min()) if len(samples) else None,
        "last_sol": int(samples["sol"].max()) if len(samples) else None,
        "sols": sorted(int(s) for s in samples["sol"].unique()),
        "types": {str(k): int(v) for k, v in samples["type"].fillna("unknown").value_counts(sort=False).items()},
    }
