"""The sample tubes: NASA's sample layer into one row per tube, and the free-text Earth
dates of the context layers.

``sample_sites.json`` has a one-tube site, the two-tube ``"194 & 196"`` site, a two-sol site
with one name and one number for both (``"262&271"``, dates ``"Nov. 15&24. 2021"``), a site
whose lon/lat properties repeat the site before (its geometry is right), a site without
geometry (position as text properties), and four features to skip."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard.data.context import parse_date, parse_dates
from dashboard.data.samples import SAMPLE_COLUMNS, between_sols, parse_samples, sample_summary, tubes_filled
from dashboard.data.schema import DataError
from dashboard.marstime import sol_date
from tests.helpers import SHARED_DATA

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REAL = SHARED_DATA  # NASA's real files (tests.helpers)


@pytest.fixture(scope="module")
def layer():
    return parse_samples((FIXTURES / "sample_sites.json").read_bytes(), "samples")


def test_columns_and_types(layer):
    assert list(layer.frame.columns) == list(SAMPLE_COLUMNS)
    assert {c: str(t) for c, t in layer.frame.dtypes.items()} == SAMPLE_COLUMNS


def test_one_row_per_tube_each_with_its_own_sol(layer):
    frame = layer.frame
    assert frame["sol"].tolist() == [164, 194, 196, 262, 271, 298, 337]
    assert frame["site"].tolist() == [0, 1, 1, 2, 2, 3, 4]
    two = frame[frame["site"] == 1]
    assert two["sol_text"].tolist() == ["194 & 196"] * 2
    assert two["tube"].tolist() == [2, 3]
    assert two["name"].tolist() == ["Montdenier", "Montagnac"]
    assert two["site_name"].tolist() == ["Montdenier + Montagnac"] * 2
    assert two["earth_date"].tolist() == [pd.Timestamp("2021-09-06"), pd.Timestamp("2021-09-08")]
    assert two["type"].tolist() == ["Rock Core"] * 2 and two["outcrop"].tolist() == ["Rochette"] * 2


def test_a_site_whose_text_does_not_split_per_tube(layer):
    site = layer.frame[layer.frame["site"] == 2]
    assert site["sol"].tolist() == [262, 271]
    assert site["name"].tolist() == ["Salette", "Salette"]  # one name for both: the site's
    assert site["tube"].isna().all()  # "4" for two tubes: not guessed
    assert site["earth_date"].tolist() == [pd.Timestamp("2021-11-15"), pd.Timestamp("2021-11-24")]
    assert site["location"].tolist() == ["South S\ufffd\ufffdtah"] * 2  # as given


def test_position_from_the_geometry(layer):
    f = layer.frame.set_index("site")
    assert (f.loc[3, "lon"], f.loc[3, "lat"]) == (77.44134387, 18.4326357)
    assert "are 125 m from the Point geometry" in f.loc[3, "note"] and "geometry is used" in f.loc[3, "note"]
    assert pd.isna(f.loc[0, "note"])  # 6-decimal geometry vs full properties: the same place
    assert f.loc[0, "lon"] == 77.451673
    assert (f.loc[4, "lon"], f.loc[4, "lat"], f.loc[4, "elev"]) == (77.44134387, 18.4326357, -2573.989)


def test_skipped_sites_are_counted(layer):
    assert layer.skipped == {"no usable sol": 2, "no usable lon/lat": 1, "not a GeoJSON Feature object": 1}


def test_summary_and_tubes_filled(layer):
    summary = sample_summary(layer.frame)
    assert summary["sites"] == 5 and summary["tubes"] == 7
    assert summary["sols"] == [164, 194, 196, 262, 271, 298, 337]
    assert summary["types"] == {"Atmospheric": 1, "Rock Core": 6}
    assert [tubes_filled(layer.frame, s) for s in (0, 164, 195, 196, 1000)] == [0, 1, 2, 3, 7]


def test_sol_window(layer):
    assert between_sols(layer.frame, 195, 262)["sol"].tolist() == [196, 262]


@pytest.mark.parametrize(
    "name, words",
    [
        ("bad_html.html", "got an HTML page"),
        ("bad_empty_featurecollection.json", "FeatureCollection is empty"),
        ("bad_truncated.json", "not valid JSON"),
    ],
)
def test_bad_files_are_refused_in_words(name, words):
    with pytest.raises(DataError, match=words):
        parse_samples((FIXTURES / name).read_bytes(), "samples")


def test_empty_body_and_nothing_usable():
    with pytest.raises(DataError, match="empty response"):
        parse_samples(b"", "samples")
    junk = b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"sol": "soon"}}]}'
    with pytest.raises(DataError, match="no usable sample sites: all 1 features were skipped"):
        parse_samples(junk, "samples")


# ---------------------------------------------------------------------------------------
# Earth dates as free text


@pytest.mark.parametrize(
    "text, dates",
    [
        ("April 4, 2021", [date(2021, 4, 4)]),
        ("Sept. 4, 2021", [date(2021, 9, 4)]),
        ("Sept. 6&8, 2021", [date(2021, 9, 6), date(2021, 9, 8)]),
        ("Nov. 15&24. 2021", [date(2021, 11, 15), date(2021, 11, 24)]),
        ("Dec. 22, 2021 & Jan. 31, 2022", [date(2021, 12, 22), date(2022, 1, 31)]),
        ("Jul. 27&Aug. 3, 2022", [date(2022, 7, 27), date(2022, 8, 3)]),
        ("March 30, 2023", [date(2023, 3, 30)]),
        ("Feb. 30, 2021", None),  # no such day
        ("Mayday 4, 2021", None),  # not a month
        ("12, 2021", None),  # a day without a month
        ("Jan. 5", None),  # a date without a year
        ("2021", None),
        ("", None),
        (None, None),
        (20210404, None),
    ],
)
def test_parse_dates(text, dates):
    assert parse_dates(text) == dates


def test_parse_date_wants_exactly_one():
    assert parse_date("Jan. 18, 2024") == date(2024, 1, 18)
    assert parse_date("Sept. 6&8, 2021") is None and parse_date("junk") is None


# ---------------------------------------------------------------------------------------
# NASA's file


@pytest.fixture(scope="module")
def real():
    path = REAL / "M20_SAMPLE_v3.json"
    if not path.exists():
        pytest.skip(f"NASA data files not found in {REAL}")
    return parse_samples(path.read_bytes(), "M20_SAMPLE_v3.json")


@pytest.mark.realdata
def test_real_samples_acceptance(real):
    """17 sites; both sols of "194 & 196"; 25 tubes, sols 164 to 1215."""
    frame = real.frame
    assert real.skipped == {} and real.features == 17
    summary = sample_summary(frame)
    assert summary["sites"] == 17 and summary["tubes"] == 25
    assert {194, 196} <= set(summary["sols"]) and (summary["first_sol"], summary["last_sol"]) == (164, 1215)
    assert frame.loc[frame["sol_text"] == "194 & 196", "sol"].tolist() == [194, 196]
    assert frame["tube"].tolist() == list(range(1, 26))
    assert summary["types"] == {"Atmospheric": 1, "Rock Core": 22, "Regolith": 2}
    assert tubes_filled(frame, 195) == 2 and tubes_filled(frame, 196) == 3 and tubes_filled(frame, 1840) == 25


@pytest.mark.realdata
def test_real_samples_quirks(real):
    f = real.frame
    # Lefroy Bay's lon/lat properties repeat Pelican Point's; its geometry is where it is
    noted = f[f["note"].notna()]
    assert noted["name"].tolist() == ["Lefroy Bay"]
    assert (noted["lon"].iloc[0], noted["lat"].iloc[0]) == (77.34704595, 18.48867278)
    # every tube's date was read; all fall on the UTC date their sol begins, or a day either
    # side, except Otis Peak (sol 822 begins 2023-06-12; NASA's date is June 23)
    assert f["earth_date"].notna().all()
    lag = np.array([(d.date() - sol_date(s)).days for d, s in zip(f["earth_date"], f["sol"], strict=True)])
    assert f.loc[np.abs(lag) > 1, "name"].tolist() == ["Otis Peak"]
