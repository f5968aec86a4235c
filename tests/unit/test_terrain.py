"""The MOLA terrain layer: crops and their sidecars, the tiles' grid and Range maths,
sampling heights under a track. The tiny fixture's heights are ``-2500 + 10 col - 20 row``
(a plane, so bilinear sampling is exact anywhere inside it)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from dashboard.data.megdr import (
    PPD,
    ROW_BYTES,
    TILE_COLS,
    TILE_ROWS,
    BBox,
    tile_for,
    tile_named,
    tile_read,
    window_around,
)
from dashboard.data.schema import DataError
from dashboard.data.terrain import MARS_RADIUS_M, along_track_m, crop_from_rows, parse_crop, sample
from tests.helpers import SHARED_DATA

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REAL = SHARED_DATA  # NASA's real files (tests.helpers)
JEZERO_SHA256 = "c2d9ea86424463b182bbb6257fc73d0bd15ab41ce11092fbf1d806dddb93d1d4"


def tiny() -> tuple[bytes, dict]:
    return (FIXTURES / "terrain_tiny.img").read_bytes(), json.loads((FIXTURES / "terrain_tiny.json").read_text())


def plane(lon, lat) -> np.ndarray:
    """The tiny fixture's heights as a function of position (row/col of pixel centres)."""
    col = (np.asarray(lon) - 77.0) * PPD - 0.5
    row = (18.5 - np.asarray(lat)) * PPD - 0.5
    return -2500 + 10 * col - 20 * row


# ---------------------------------------------------------------------------------------
# crops


def test_tiny_crop_parses():
    body, meta = tiny()
    crop = parse_crop(body, meta, "tiny")
    assert crop.shape == (4, 6)
    assert crop.bbox == BBox(77.0, 18.46875, 77.046875, 18.5)
    assert crop.heights.dtype == np.int16 and not crop.heights.flags.writeable
    assert crop.heights[0].tolist() == [-2500, -2490, -2480, -2470, -2460, -2450]
    assert crop.heights[:, 0].tolist() == [-2500, -2520, -2540, -2560]
    assert crop.sha256 == hashlib.sha256(body).hexdigest()
    assert crop.source_tile == "megt44n000hb.img"
    assert crop.lons()[0] == 77.0 + 0.5 / PPD and crop.lats()[0] == 18.5 - 0.5 / PPD


def test_sidecar_as_bytes_is_the_same_crop():
    body, meta = tiny()
    a = parse_crop(body, meta)
    b = parse_crop(body, (FIXTURES / "terrain_tiny.json").read_bytes())
    assert a.version == b.version and np.array_equal(a.heights, b.heights)


def test_version_follows_bytes_and_bbox():
    body, meta = tiny()
    base = parse_crop(body, meta).version
    assert parse_crop(body, meta).version == base
    changed = bytearray(body)
    changed[1] ^= 1
    assert parse_crop(bytes(changed), meta).version != base
    moved = {**meta, "bbox": {k: v + (1 / PPD if "Lon" in k else 0) for k, v in meta["bbox"].items()}}
    assert parse_crop(body, moved).version != base


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda b, m: (b[:-2], m), "bad crop size: 46 bytes, expected 4 x 6 x 2 = 48"),
        (lambda b, m: (b + b"\0\0", m), "bad crop size"),
        (lambda b, m: (b"", m), "empty terrain file"),
        (lambda b, m: (b"<!DOCTYPE html><html><body>Not found</body></html>", m), "HTML"),
        (lambda b, m: (b, {**m, "width": 7}), "bbox spans 6 x 4 pixels"),
        (lambda b, m: (b, {**m, "pixels_per_degree": 64}), "only 128 px/deg"),
        (lambda b, m: (b, {**m, "encoding": "little-endian int16"}), "only big-endian int16"),
        (lambda b, m: (b, {k: v for k, v in m.items() if k != "bbox"}), "no usable bbox"),
        (lambda b, m: (b, {**m, "bbox": {**m["bbox"], "maxLat": "18.5"}}), "no usable bbox"),
        (lambda b, m: (b, {**m, "bbox": {**m["bbox"], "maxLon": 77.05}}), "whole number of 1/128 degree pixels"),
        (lambda b, m: (b, {**m, "bbox": {**m["bbox"], "minLat": 18.6}}), "min < max"),
        (lambda b, m: (b, {**m, "source_tile": "megt00n090hb.img"}), "lies outside the tile"),
        (lambda b, m: (b, {**m, "source_tile": "mola.img"}), "not the name of a 128 px/deg MEGDR"),
        (lambda b, m: (np.full(24, 30000, ">i2").tobytes(), m), "are not Mars'"),
    ],
)
def test_bad_crops_are_refused_in_words(change, words):
    body, meta = tiny()
    bad_body, bad_meta = change(body, meta)
    with pytest.raises(DataError, match=words.replace("(", r"\(").replace(".", r"\.")) as info:
        parse_crop(bad_body, bad_meta, "tiny")
    assert info.value.source == "tiny"


@pytest.mark.parametrize(
    "sidecar, words",
    [(b"", "empty sidecar"), (b"<html>oops</html>", "HTML"), (b"{nope", "not valid JSON"), (b"[1, 2]", "JSON list")],
)
def test_bad_sidecars_are_refused_in_words(sidecar, words):
    with pytest.raises(DataError, match=words):
        parse_crop(tiny()[0], sidecar, "tiny")


def test_a_crop_off_the_pixel_grid_is_refused():
    body, meta = tiny()
    shifted = {**meta, "bbox": {k: v + 0.001 for k, v in meta["bbox"].items()}}
    with pytest.raises(DataError, match="not on the 1/128 degree pixel grid"):
        parse_crop(body, shifted)
    with pytest.raises(DataError, match="not on the 1/128 degree pixel grid"):
        parse_crop(body, {k: v for k, v in shifted.items() if k != "source_tile"})


def test_a_crop_without_a_tile_name_may_straddle_tiles():
    """Only the sidecar's own tile name ties a crop to one tile (2 x 2 pixels across 0 N, 90 E)."""
    body = np.array([[-100, -90], [-80, -70]], dtype=">i2").tobytes()
    meta = {
        "pixels_per_degree": 128,
        "bbox": {"minLon": 90 - 1 / 128, "minLat": -1 / 128, "maxLon": 90 + 1 / 128, "maxLat": 1 / 128},
    }
    crop = parse_crop(body, meta)
    assert crop.source_tile is None and crop.heights.tolist() == [[-100, -90], [-80, -70]]
    with pytest.raises(DataError, match="lies outside the tile"):
        parse_crop(body, {**meta, "source_tile": "megt00n090hb.img"})


# ---------------------------------------------------------------------------------------
# sampling


def test_sample_is_exact_at_pixel_centres_and_bilinear_between():
    crop = parse_crop(*tiny())
    lon, lat = np.meshgrid(crop.lons(), crop.lats())
    assert np.array_equal(sample(crop, lon, lat), crop.heights.astype(float))
    rng = np.random.default_rng(7)
    lon = rng.uniform(crop.lons()[0], crop.lons()[-1], 50)
    lat = rng.uniform(crop.lats()[-1], crop.lats()[0], 50)
    assert np.allclose(sample(crop, lon, lat), plane(lon, lat))


def test_sample_edges_outside_and_missing():
    crop = parse_crop(*tiny())
    box = crop.bbox
    # inside the outer half pixel: the edge pixel's value (no extrapolation)
    assert sample(crop, [box.min_lon], [box.max_lat]).tolist() == [-2500.0]
    assert sample(crop, [box.max_lon], [box.min_lat]).tolist() == [-2510.0]
    out = sample(crop, [box.min_lon - 0.01, 77.02, 77.02, np.nan], [18.48, box.max_lat + 0.01, np.nan, 18.48])
    assert np.isnan(out).all()
    # a west-negative longitude is the same place
    assert np.allclose(sample(crop, [77.02 - 360], [18.48]), sample(crop, [77.02], [18.48]))


def test_along_track_distance():
    one_degree = MARS_RADIUS_M * np.pi / 180
    assert np.allclose(along_track_m([0, 1, 1], [0, 0, 1]), [0, one_degree, 2 * one_degree])
    at_60 = along_track_m([10, 11], [60, 60])[-1]
    assert at_60 == pytest.approx(one_degree * 0.5, rel=1e-4)
    assert along_track_m([5], [5]).tolist() == [0.0]
    assert along_track_m([0, np.nan, 1], [0, np.nan, 0]).tolist() == [0.0, 0.0, 0.0]


# ---------------------------------------------------------------------------------------
# the tiles' grid and the Range request


def test_tile_names_give_the_north_west_corner():
    assert tile_named("megt44n000hb.img").bbox == BBox(0, 0, 90, 44)
    assert tile_named("MEGT00N090HB.IMG").bbox == BBox(90, -44, 180, 0)
    assert tile_named("megt44s090hb").bbox == BBox(90, -88, 180, -44)
    assert tile_named("megt88n270hb.img").bbox == BBox(270, 44, 360, 88)
    for bad in ("megt45n000hb.img", "megt44n045hb.img", "megr44n000hb.img", "megt44n000cb.img", ""):
        with pytest.raises(DataError):
            tile_named(bad)


def test_tile_for_a_point():
    assert tile_for(77.45, 18.44).name == "megt44n000hb.img"  # Jezero
    assert tile_for(137.4, -4.6).name == "megt00n090hb.img"  # Gale
    assert tile_for(-10.0, 50.0).name == "megt88n270hb.img"
    assert tile_for(0.0, 44.0).name == "megt44n000hb.img"  # a tile's north edge is its own
    assert tile_for(0.0, 0.0).name == "megt00n000hb.img"
    with pytest.raises(DataError, match="88 S to 88 N"):
        tile_for(0.0, -89.0)


def test_tile_read_rows_bytes_and_columns():
    read = tile_read(BBox(76.21875, 17.4296875, 78.21875, 19.4296875), "megt44n000hb.img")
    assert (read.row0, read.row1, read.col0, read.col1) == (3145, 3401, 9756, 10012)
    assert read.first_byte == 3145 * 11520 * 2 and read.last_byte == 3401 * 11520 * 2 - 1
    assert read.range_header == "bytes=72460800-78359039"
    assert read.tile.url.endswith("/mgsl_300x/meg128/megt44n000hb.img")
    assert read.bbox == BBox(76.21875, 17.4296875, 78.21875, 19.4296875)
    assert tile_read(read.bbox) == read  # the tile is found from the bbox
    with pytest.raises(DataError, match="lies outside the tile"):
        tile_read(read.bbox, "megt44s090hb.img")
    with pytest.raises(DataError, match="pixel grid"):
        tile_read(BBox(76.2, 17.4296875, 78.21875, 19.4296875))


def coded_tile_bytes(first: int, last: int, code) -> bytes:
    """Bytes ``first..last`` (inclusive) of a virtual full tile whose pixel (row, col) holds
    ``code(row, col)``: what a Range request for them would return."""
    assert first % 2 == 0 and last % 2 == 1 and last < TILE_ROWS * ROW_BYTES
    index = np.arange(first // 2, (last + 1) // 2)
    return code(index // TILE_COLS, index % TILE_COLS).astype(">i2").tobytes()


def test_range_maths_against_a_coded_tile():
    """Every pixel read says which row and column of the tile it came from."""
    read = window_around(77.22014945, 18.43252254)
    by_row = crop_from_rows(coded_tile_bytes(read.first_byte, read.last_byte, lambda r, c: r - 2816), read)
    by_col = crop_from_rows(coded_tile_bytes(read.first_byte, read.last_byte, lambda r, c: c - 5760), read)
    rows, cols = np.mgrid[read.row0 : read.row1, read.col0 : read.col1]
    assert np.array_equal(by_row.heights, rows - 2816) and np.array_equal(by_col.heights, cols - 5760)
    # and the pixel centres' positions follow the tile's origin (44 N, 0 E)
    assert np.allclose(by_row.lats(), 44 - (np.arange(read.row0, read.row1) + 0.5) / PPD)
    assert np.allclose(by_col.lons(), (np.arange(read.col0, read.col1) + 0.5) / PPD)


def test_a_short_row_read_is_refused():
    read = tile_read(BBox(77.0, 18.46875, 77.046875, 18.5))
    with pytest.raises(DataError, match=r"bad row read: 10 bytes, expected 92,160 \(4 rows\)"):
        crop_from_rows(b"\0" * 10, read)


def test_window_near_a_tile_edge_is_refused():
    with pytest.raises(DataError, match="crosses the tile's edge"):
        window_around(0.1, 18.0)


# ---------------------------------------------------------------------------------------
# NASA's files


@pytest.fixture(scope="module")
def jezero():
    if not (REAL / "M20_mola128_jezero.img").exists():
        pytest.skip(f"NASA data files not found in {REAL}")
    body = (REAL / "M20_mola128_jezero.img").read_bytes()
    return (
        body,
        json.loads((REAL / "M20_mola128_jezero.json").read_bytes()),
        parse_crop(body, (REAL / "M20_mola128_jezero.json").read_bytes()),
    )


@pytest.mark.realdata
def test_real_jezero_crop(jezero):
    _, meta, crop = jezero
    assert crop.sha256 == JEZERO_SHA256
    assert crop.shape == (meta["height"], meta["width"]) == (256, 256)
    assert crop.bbox == BBox(
        **{
            k: meta["bbox"][n]
            for k, n in zip(
                ("min_lon", "min_lat", "max_lon", "max_lat"), ("minLon", "minLat", "maxLon", "maxLat"), strict=True
            )
        }
    )
    assert (int(crop.heights.min()), int(crop.heights.max())) == (-3323, -187)
    # the rover climbed from about -2570 m to about -1970 m: inside the crop's range
    assert crop.heights.min() < -2570 and crop.heights.max() > -1970


@pytest.mark.realdata
def test_real_jezero_rows_reproduce_the_crop(jezero):
    """The rows a Range request would fetch, with the crop's own values at its columns and
    other terrain around them, give back the crop byte for byte."""
    body, meta, crop = jezero
    read = tile_read(crop.bbox, meta["source_tile"])
    rng = np.random.default_rng(1)
    rows = rng.integers(-4000, 0, size=(read.row1 - read.row0, TILE_COLS)).astype(np.int16)
    rows[:, read.col0 : read.col1] = crop.heights
    again = crop_from_rows(rows.astype(">i2").tobytes(), read)
    assert again.sha256 == crop.sha256 == hashlib.sha256(body).hexdigest()
    assert again.bbox == crop.bbox and again.version == crop.version
    # the crop is the 256-pixel window around the current position NASA published on sol 1840
    assert window_around(77.22014945, 18.43252254) == read


@pytest.mark.realdata
def test_real_jezero_heights_under_the_rover(jezero):
    crop = jezero[2]
    features = json.loads((REAL / "M20_waypoints.json").read_bytes())["features"]
    props = [f["properties"] for f in features]
    lon, lat = np.array([p["lon"] for p in props]), np.array([p["lat"] for p in props])
    elev = np.array([p["elev_geoid"] for p in props], dtype=float)
    diff = sample(crop, lon, lat) - elev
    assert np.isfinite(diff).all()
    assert abs(np.mean(diff)) < 10 and np.max(np.abs(diff)) < 60  # both above the areoid; 463 m pixels


@pytest.mark.realdata
def test_real_gale_crop_does_not_lie_in_the_tile_it_names():
    """The Gale crop's sidecar names megt44s090hb (88 S-44 S), but its bbox is at 4-6 S
    (which megt00n090hb holds): refused rather than drawn at the wrong place."""
    if not (REAL / "MSL_mola128_gale.img").exists():
        pytest.skip(f"NASA data files not found in {REAL}")
    with pytest.raises(DataError, match="lies outside the tile") as info:
        parse_crop((REAL / "MSL_mola128_gale.img").read_bytes(), (REAL / "MSL_mola128_gale.json").read_bytes(), "gale")
    assert "megt44s090hb" in str(info.value) and info.value.source == "gale"
