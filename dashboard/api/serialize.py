"""The data answers serialised: the rows and cache key of a sol range, waypoints as GeoJSON
features, column lists as JSON, CSV with inert text cells, a GeoJSON FeatureCollection."""

from __future__ import annotations

import csv
import io

import orjson
import pandas as pd

from dashboard.api.schemas import RangeQuery
from dashboard.data.schema import WAYPOINT_COLUMNS
from dashboard.data.store import Dataset
from dashboard.rovers import DEFAULT_ROVER

#: A cell starting with one of these is run as a formula by spreadsheet programs.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: a waypoint file is named after its rover: "perseverance-waypoints-sols-13-1110.csv"
FILE_STEM = "{rover}-waypoints"


def filtered(dataset: Dataset, query: RangeQuery) -> pd.DataFrame:
    """The waypoints of the query's sol range (all of them without one)."""
    wp = dataset.waypoints
    lo, hi = query.sol_min, query.sol_max
    if lo is None and hi is None:
        return wp
    sols = wp["sol"]
    mask = pd.Series(True, index=wp.index)
    if lo is not None:
        mask &= sols >= lo
    if hi is not None:
        mask &= sols <= hi
    return wp[mask]


#: the waypoints' first and last sol, derived once per dataset version (a pandas min/max
#: on every data request cost ~70 us of its ~600, bench/bench_api.py)
WAYPOINT_SOLS_MEMO_KEY = "serialize:waypoint-sols"


def _sol_ends(sols: pd.Series) -> tuple[int, int]:
    return int(sols.min()), int(sols.max())


def range_key(dataset: Dataset, query: RangeQuery) -> tuple[int, int]:
    """The cache key of a sol range: the two ends clamped to the data, so that every
    spelling of the same rows (13, 13.0, 0 before the first sol) shares one entry."""
    first, last = dataset.memo(WAYPOINT_SOLS_MEMO_KEY, lambda: _sol_ends(dataset.waypoints["sol"]))
    lo = first if query.sol_min is None else min(max(query.sol_min, first), last + 1)
    hi = last if query.sol_max is None else max(min(query.sol_max, last), first - 1)
    return lo, hi


def records(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    out = frame[columns].astype(object).where(frame[columns].notna(), None)
    return out.to_dict("records")


def features(frame: pd.DataFrame) -> list[dict]:
    """Waypoints as GeoJSON features: type, properties (the normalised columns, missing
    values null, sol an int), geometry [lon, lat, elev]."""
    out = []
    for p in records(frame, list(WAYPOINT_COLUMNS)):
        p["sol"] = int(p["sol"])
        p["site"], p["drive"] = int(p["site"]), int(p["drive"])
        p["final"] = bool(p["final"])
        coords = [p["lon"], p["lat"]] + ([p["elev_geoid"]] if p["elev_geoid"] is not None else [])
        out.append({"type": "Feature", "properties": p, "geometry": {"type": "Point", "coordinates": coords}})
    return out


def columns_json(frame: pd.DataFrame, columns: list[str]) -> bytes:
    """Rows of ``columns`` (sol an int) as a JSON array."""
    rows = records(frame, columns)
    for row in rows:
        row["sol"] = int(row["sol"])
    return orjson.dumps(rows)


def defuse_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """NASA's free-text fields as inert spreadsheet text: a text cell that starts like a
    formula gets a leading single quote. Numeric columns are left alone (-1.5 stays a
    number)."""
    out = None
    for name, dtype in WAYPOINT_COLUMNS.items():
        if dtype != "str" or name not in frame:
            continue
        col = frame[name]
        risky = col.str.startswith(FORMULA_START, na=False)
        if risky.any():
            out = frame.copy() if out is None else out
            out.loc[risky, name] = "'" + col[risky]
    return frame if out is None else out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    defuse_formulas(frame).to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL)
    return buf.getvalue().encode()


def geojson_bytes(frame: pd.DataFrame, version: str, rover: str = DEFAULT_ROVER) -> bytes:
    doc = {"type": "FeatureCollection", "name": f"{rover}_waypoints", "dataset_version": version}
    return orjson.dumps({**doc, "features": features(frame)})


def data_filename(frame: pd.DataFrame, ext: str, rover: str = DEFAULT_ROVER) -> str:
    stem = FILE_STEM.format(rover=rover)
    if frame.empty:
        return f"{stem}.{ext}"
    return f"{stem}-sols-{int(frame['sol'].min())}-{int(frame['sol'].max())}.{ext}"


def attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}
