from datetime import UTC, date, datetime

import pytest

from dashboard.marstime import EPOCH, SOL_SECONDS, sol_at, sol_date, sol_dates, sol_of, sol_start


def test_sol_zero_starts_on_landing_day():
    assert sol_date(0) == date(2021, 2, 18)
    assert sol_start(0) == datetime(2021, 2, 18, 4, 24, 15, tzinfo=UTC)


def test_sol_1840_starts_on_2026_04_23():
    assert sol_date(1840) == date(2026, 4, 23)


def test_landing_instant_is_in_sol_zero():
    assert sol_of(datetime(2021, 2, 18, 20, 55, tzinfo=UTC)) == 0


def test_round_trip():
    for sol in (0, 1, 13, 402, 1110, 1840, 5000):
        assert sol_at(sol_start(sol)) == pytest.approx(sol)
        assert sol_of(sol_start(sol + 0.5)) == sol


def test_naive_datetimes_are_utc():
    assert sol_at(datetime(2021, 2, 18, 4, 24, 15)) == 0


def test_sol_length():
    assert (sol_start(2) - sol_start(1)).total_seconds() == pytest.approx(SOL_SECONDS)
    assert SOL_SECONDS == 88_775.244


def test_vectorised_dates_match_scalar():
    sols = [0, 13, 1110, 1840]
    assert sol_dates(sols).tolist() == [sol_date(s).isoformat() for s in sols]
    assert sol_dates([]).tolist() == []
    assert EPOCH.tzinfo is UTC
