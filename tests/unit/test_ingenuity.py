"""Ingenuity's flights: NASA's helicopter layer into a frame, its summary, the sol window.

``heli_flights.json`` holds the deployment point and flights 1, 2, 5 and 6 (3 and 4 left
out, so flight 5's take-off point is unknown), numbers as JSON numbers and as strings, an
unreadable Earth date, a -1 clock, a -9999 distance, a flight without Lon/Lat properties
(its geometry has them), a later copy of flight 6, and five features to skip."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard.data.ingenuity import FLIGHT_COLUMNS, between_sols, flight_summary, parse_flights
from dashboard.data.schema import DataError
from dashboard.marstime import sol_date
from tests.helpers import SHARED_DATA

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REAL = SHARED_DATA  # NASA's real files (tests.helpers)


@pytest.fixture(scope="module")
def layer():
    return parse_flights((FIXTURES / "heli_flights.json").read_bytes(), "heli")


def test_columns_and_types(layer):
    frame = layer.frame
    assert list(frame.columns) == list(FLIGHT_COLUMNS)
    assert {c: str(t) for c, t in frame.dtypes.items()} == FLIGHT_COLUMNS
    assert layer.name == "m20_heli_waypoints" and layer.features == 10


def test_flights_in_order_with_deployment_flagged(layer):
    frame = layer.frame
    assert frame["flight"].tolist() == [0, 1, 2, 5, 6]
    assert frame["deployment"].tolist() == [True, False, False, False, False]
    assert frame["sol"].tolist() == [43, 58, 61, 76, 91]


def test_numbers_as_strings_and_sentinels(layer):
    f = layer.frame.set_index("flight")
    assert f.loc[1, "lon"] == 77.45101959 and f.loc[1, "distance_m"] == 0.049 and f.loc[1, "max_alt_m"] == 3.0
    assert math.isnan(f.loc[5, "distance_m"])  # -9999
    assert math.isnan(f.loc[5, "max_alt_m"])  # missing
    assert math.isnan(f.loc[2, "sclk_end"]) and f.loc[2, "sclk_start"] == 672355902.1  # -1: unknown
    assert f.loc[5, "lon"] == 77.45138831  # from the geometry
    assert f.loc[6, "duration_s"] == 140.0  # the later copy


def test_earth_dates_kept_as_text_and_read(layer):
    f = layer.frame.set_index("flight")
    assert f.loc[1, "earth_date_text"] == "April 19, 2021"
    assert f.loc[1, "earth_date"] == pd.Timestamp("2021-04-19")
    assert f.loc[2, "earth_date_text"] == "sometime in April" and pd.isna(f.loc[2, "earth_date"])


def test_take_off_is_the_previous_landing(layer):
    f = layer.frame.set_index("flight")
    assert math.isnan(f.loc[0, "from_lon"])  # the deployment point is not a flight
    assert (f.loc[2, "from_lon"], f.loc[2, "from_lat"]) == (f.loc[1, "lon"], f.loc[1, "lat"])
    assert math.isnan(f.loc[5, "from_lon"])  # flight 4 is not in the file: unknown, not guessed
    assert (f.loc[6, "from_lon"], f.loc[6, "from_lat"]) == (f.loc[5, "lon"], f.loc[5, "lat"])
    # 0.00107459 deg of longitude and 0.00082793 deg of latitude at 18.44 N on a 3,389.5 km sphere
    east, north = np.radians([0.00107459 * np.cos(np.radians(18.443)), 0.00082793]) * 3_389_500
    assert f.loc[6, "displacement_m"] == pytest.approx(np.hypot(east, north), abs=0.05)  # 77.7 m
    assert f.loc[6, "from_airfield"] == "Airfield B" and f.loc[6, "to_airfield"] == "Airfield C"


def test_skipped_features_are_counted(layer):
    assert layer.skipped == {
        "no usable flight number": 1,
        "no usable sol": 1,
        "no usable lon/lat": 1,
        "not a GeoJSON Feature object": 1,
        "duplicate flight number (kept the later one)": 1,
    }


def test_summary(layer):
    summary = flight_summary(layer.frame)
    assert summary["flights"] == 4 and summary["last_flight"] == 6 and summary["deployment_sol"] == 43
    assert summary["first_sol"] == 58 and summary["last_sol"] == 91 and summary["last_earth_date"] == "2021-05-22"
    assert summary["distance_m"] == pytest.approx(0.049 + 4.001 + 202.389, abs=0.1)
    assert summary["flights_without_distance"] == 1
    assert summary["max_alt_m"] == 10.0 and summary["airfields"] == 3


def test_summary_of_the_deployment_alone(layer):
    assert flight_summary(layer.frame[layer.frame["deployment"]]) == {"flights": 0, "deployment_sol": 43}


def test_sol_window(layer):
    assert between_sols(layer.frame, 58, 76)["flight"].tolist() == [1, 2, 5]
    assert between_sols(layer.frame, sol_max=58)["flight"].tolist() == [0, 1]
    assert between_sols(layer.frame, sol_min=80)["flight"].tolist() == [6]
    assert between_sols(layer.frame) is layer.frame
    # a flight in the window keeps its take-off point from before the window
    assert between_sols(layer.frame, 61, 61)["from_lon"].notna().all()


@pytest.mark.parametrize(
    "name, words",
    [
        ("bad_html.html", "got an HTML page"),
        ("bad_empty_featurecollection.json", "FeatureCollection is empty"),
        ("bad_not_json.txt", "not valid JSON"),
        ("bad_not_featurecollection.json", "not a GeoJSON FeatureCollection"),
    ],
)
def test_bad_files_are_refused_in_words(name, words):
    with pytest.raises(DataError, match=words):
        parse_flights((FIXTURES / name).read_bytes(), "heli")


def test_empty_body_and_nothing_usable():
    with pytest.raises(DataError, match="empty response"):
        parse_flights(b"", "heli")
    junk = b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"Flight": "x"}}]}'
    with pytest.raises(DataError, match="no usable flights: all 1 features were skipped"):
        parse_flights(junk, "heli")


# ---------------------------------------------------------------------------------------
# NASA's file


@pytest.fixture(scope="module")
def real():
    path = REAL / "m20_heli_waypoints.json"
    if not path.exists():
        pytest.skip(f"NASA data files not found in {REAL}")
    return parse_flights(path.read_bytes(), "m20_heli_waypoints.json")


@pytest.mark.realdata
def test_real_flights_acceptance(real):
    """72 numbered flights plus the deployment point, the last on sol 1036, ~17.2 km flown."""
    frame = real.frame
    assert real.skipped == {} and len(frame) == 73
    assert frame["flight"].tolist() == list(range(73)) and frame["deployment"].sum() == 1
    summary = flight_summary(frame)
    assert summary["flights"] == 72 and summary["last_flight"] == 72
    assert summary["last_sol"] == 1036 and summary["last_earth_date"] == "2024-01-18"
    assert summary["deployment_sol"] == 43 and summary["first_sol"] == 58
    assert summary["distance_km"] == 17.2 and summary["flights_without_distance"] == 0
    # NASA's running total agrees with the sum of the flights
    assert frame["total_m"].iloc[-1] == pytest.approx(summary["distance_m"], abs=0.1)


@pytest.mark.realdata
def test_real_flights_details(real):
    f = real.frame.set_index("flight")
    assert f.loc[0, "to_airfield"] == "Wright Brothers Field" and f.loc[72, "to_airfield"] == "Airfield Chi"
    assert f["earth_date"].notna().all() and f["from_lon"].iloc[1:].notna().all()
    # each flight took off from the airfield the previous one landed at
    assert (f["from_airfield"].iloc[1:].to_numpy() == f["to_airfield"].iloc[:-1].to_numpy()).all()
    # the first flight went straight up and down; flight 68 flew 702 m to land ~5 m away
    assert f.loc[1, "displacement_m"] < 0.1 and f.loc[68, "distance_m"] > 700 > 10 > f.loc[68, "displacement_m"]
    assert f.loc[72, "max_alt_m"] == 12.0 and f["max_alt_m"].max() == 24.0


@pytest.mark.realdata
def test_real_earth_dates_against_sols(real):
    """NASA's date is the UTC date its sol begins on, or the next; flight 53's is 3 days off."""
    f = real.frame
    lag = np.array([(d.date() - sol_date(s)).days for d, s in zip(f["earth_date"], f["sol"], strict=True)])
    odd = f.loc[~np.isin(lag, [0, 1]), ["flight", "sol", "earth_date"]]
    assert odd["flight"].tolist() == [53]
    assert odd["earth_date"].iloc[0].date() == date(2023, 7, 22) and odd["sol"].iloc[0] == 864
