"""Parse NASA's MMGIS GeoJSON layers and normalise them into pandas DataFrames.

Pure code: bytes in, frames out. Every shape NASA has published (docs/data.md lists them)
maps onto one schema (:mod:`.schema`); what cannot be understood raises :class:`DataError` naming the
source and the problem. A single bad feature among good ones is skipped and counted,
never fatal. :mod:`.geojson` reads the documents; the schema's names are re-exported here.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd

from dashboard.data.geojson import decode, feature_parts, line_parts, point_of, valid_lonlat
from dashboard.data.schema import (
    TRAVERSE_COLUMNS,
    TRAVERSE_POINT_COLUMNS,
    WAYPOINT_COLUMNS,
    WAYPOINT_NUMERIC,
    DataError,
    Layer,
    skipped_text,
    to_final,
    to_int,
    to_number,
    to_text,
    typed,
)

__all__ = ["parse_traverse", "parse_waypoints"]


def parse_waypoints(body: bytes, source: str = "waypoints", layer: str = "waypoints") -> Layer:
    """Parse ``M20_waypoints.json`` (any published shape) into the normalised frame.

    ``layer`` names the NASA layer in the ``layer`` column: the current-position layer
    (``M20_waypoints_current.json``) has the same schema and is parsed here too."""
    name, features = decode(body, source)
    rows: list[dict] = []
    skipped: Counter = Counter()
    seen_fields: set[str] = set()
    for feature in features:
        parts = feature_parts(feature)
        if parts is None:
            skipped["not a GeoJSON Feature object"] += 1
            continue
        props, geometry = parts
        point = point_of(geometry)
        seen_fields.update(props)
        if point is not None:
            seen_fields.update(("lon", "lat"))
        row = _waypoint_row(props, point, layer)
        if isinstance(row, str):  # why it was skipped
            skipped[row] += 1
        else:
            rows.append(row)
    _check_fields(source, seen_fields, bool(rows), skipped, len(features))
    frame = pd.DataFrame.from_records(rows)
    frame = frame.sort_values(["sol", "site", "drive"], kind="mergesort")
    duplicated = frame.duplicated("rmc", keep="last")
    if duplicated.any():
        skipped["duplicate site_drive (kept the later one)"] += int(duplicated.sum())
        frame = frame[~duplicated]
    frame = frame.reset_index(drop=True)
    frame["yaw_rad"] = np.radians(frame["yaw"])
    _fix_odometry(frame)
    return Layer(name=name, features=len(features), frame=typed(frame, WAYPOINT_COLUMNS), skipped=dict(skipped))


def _waypoint_row(props: dict, point: tuple[float, float, float] | None, layer: str) -> dict | str:
    """One feature's normalised row, or the reason it is skipped."""
    sol = to_int(props.get("sol"))
    if sol is None or sol < 0:
        return "no usable sol"
    site, drive = _site_drive(props)
    if site is None or drive is None:
        return "no usable site/drive"
    lon, lat = to_number(props.get("lon")), to_number(props.get("lat"))
    elev = to_number(props.get("elev_geoid"))
    if point is not None:  # the Point geometry, where the properties have no position
        if math.isnan(lon) or math.isnan(lat):
            lon, lat = point[0], point[1]
        if math.isnan(elev):
            elev = point[2]
    if math.isnan(lon) or math.isnan(lat) or not valid_lonlat(lon, lat):
        return "no usable lon/lat"
    note = to_text(props.get("note"))
    row: dict[str, object] = {field: to_number(props.get(field)) for field in WAYPOINT_NUMERIC}
    row.update(
        sol=sol,
        site=site,
        drive=drive,
        rmc=f"{site}_{drive}",
        lon=lon,
        lat=lat,
        elev_geoid=elev,
        final=to_final(props.get("final"), note),
        note=note,
        sclk_start=to_number(props.get("sclk_start")),
        sclk_end=to_number(props.get("sclk_end")),
        image_url=_image_url(props),
        layer=layer,
    )
    return row


def _site_drive(props: dict) -> tuple[int | None, int | None]:
    """The rover motion counter: ``site`` and ``drive``, or from ``rmc`` ("site_drive")."""
    site, drive = to_int(props.get("site")), to_int(props.get("drive"))
    rmc = to_text(props.get("rmc"))
    if (site is None or drive is None) and rmc and "_" in rmc:
        site_text, _, drive_text = rmc.partition("_")
        site = site if site is not None else to_int(site_text)
        drive = drive if drive is not None else to_int(drive_text)
    return site, drive


def _image_url(props: dict) -> str | None:
    images = props.get("images")
    if isinstance(images, list) and images and isinstance(images[0], dict):
        return to_text(images[0].get("url"))
    return None


def _check_fields(source: str, seen_fields: set[str], any_rows: bool, skipped: Counter, total: int) -> None:
    """DataError when a required field is missing in every feature, or no row is usable."""
    if not any_rows and not seen_fields:  # not one feature had properties to look at
        raise DataError(source, f"no usable features: {skipped_text(skipped, total)}")
    for required, label in (("sol", "'sol'"), ("lon", "'lon'/'lat' (or a Point geometry)")):
        if required not in seen_fields:
            raise DataError(source, f"required field {label} is missing in every feature")
    if not ({"site", "drive"} <= seen_fields or "rmc" in seen_fields):
        raise DataError(source, "required fields 'site'/'drive' (or 'RMC') are missing in every feature")
    if not any_rows:
        raise DataError(source, f"no usable features: {skipped_text(skipped, total)}")


def _fix_odometry(frame: pd.DataFrame) -> None:
    """Cumulative distance never decreases; mid-drive zeros mean 'unknown', not 0."""
    mid = ~frame["final"].astype(bool)
    frame["dist_m"] = frame["dist_m"].mask(mid & (frame["dist_m"] == 0))
    total = frame["dist_total_m"].mask(mid & (frame["dist_total_m"] == 0))
    if total.isna().all() and frame["dist_m"].notna().any():
        total = frame["dist_m"].fillna(0.0).cumsum()  # a shape with per-drive distances only
    frame["dist_total_m"] = total.cummax().ffill().fillna(0.0)


def parse_traverse(body: bytes, source: str = "traverse") -> Layer:
    """Parse ``M20_traverse.json`` into one row per leg plus one row per vertex."""
    name, features = decode(body, source)
    legs: list[dict] = []
    seg_ids: list[np.ndarray] = []
    part_ids: list[np.ndarray] = []
    coords_all: list[np.ndarray] = []
    skipped: Counter = Counter()
    for feature in features:
        parts = feature_parts(feature)
        if parts is None:
            skipped["not a GeoJSON Feature object"] += 1
            continue
        props, geometry = parts
        lines = line_parts(geometry)
        if lines is None:
            skipped["no LineString/MultiLineString geometry"] += 1
            continue
        seg = len(legs)
        n_points = 0
        for part, line in enumerate(lines):
            seg_ids.append(np.full(len(line), seg, dtype=np.int64))
            part_ids.append(np.full(len(line), part, dtype=np.int64))
            coords_all.append(line)
            n_points += len(line)
        sol = to_int(props.get("sol"))
        legs.append(
            {
                "seg": seg,
                "sol": sol if sol is not None and sol >= 0 else None,
                "from_rmc": to_text(props.get("from_rmc")),
                "to_rmc": to_text(props.get("to_rmc")),
                "length_m": to_number(props.get("length_m")),
                "sclk_start": to_number(props.get("sclk_start")),
                "sclk_end": to_number(props.get("sclk_end")),
                "n_points": n_points,
            }
        )
    if not legs:
        raise DataError(source, f"no usable features: {skipped_text(skipped, len(features))}")
    frame = pd.DataFrame.from_records(legs, columns=list(TRAVERSE_COLUMNS))
    xyz = np.concatenate(coords_all)
    points = pd.DataFrame(
        {
            "seg": np.concatenate(seg_ids),
            "part": np.concatenate(part_ids),
            "lon": xyz[:, 0],
            "lat": xyz[:, 1],
            "elev": xyz[:, 2],
        }
    )
    return Layer(
        name=name,
        features=len(features),
        frame=typed(frame, TRAVERSE_COLUMNS),
        points=typed(points, TRAVERSE_POINT_COLUMNS),
        skipped=dict(skipped),
    )
