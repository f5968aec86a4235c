"""Mars 2020 sols <-> Earth time (UTC).

A Mars 2020 sol lasts 88,775.244 s. Sol N begins about 2021-02-18T04:24:15Z +
N x 88,775.244 s: the mission's sol epoch (Mars24 algorithm, local mean solar time at
77.43 deg E; landing, 2021-02-18 20:55 UTC, fell late in sol 0).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np

SOL_SECONDS = 88_775.244
EPOCH = datetime(2021, 2, 18, 4, 24, 15, tzinfo=UTC)
_EPOCH_MS = np.datetime64("2021-02-18T04:24:15", "ms")


def sol_start(sol: float) -> datetime:
    """The UTC instant at which ``sol`` begins (fractional sols give instants within it)."""
    return EPOCH + timedelta(seconds=float(sol) * SOL_SECONDS)


def sol_date(sol: float) -> date:
    """The UTC calendar date on which ``sol`` begins."""
    return sol_start(sol).date()


def sol_at(when: datetime) -> float:
    """The (fractional) sol at a UTC instant; naive datetimes are taken as UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - EPOCH).total_seconds() / SOL_SECONDS


def sol_of(when: datetime) -> int:
    """The sol in progress at ``when``."""
    return math.floor(sol_at(when))


def sol_dates(sols) -> np.ndarray:
    """Vectorised: ISO dates ('YYYY-MM-DD', UTC) on which each sol begins."""
    offsets = np.round(np.asarray(sols, dtype=np.float64) * SOL_SECONDS * 1e3).astype("timedelta64[ms]")
    return np.datetime_as_string(_EPOCH_MS + offsets, unit="D")


def sol_instants(sols) -> list:
    """Vectorised: ISO instants ('YYYY-MM-DDTHH:MM:SS', UTC) at which each (fractional)
    sol begins; None for NaN (a gap in a line)."""
    sols = np.asarray(sols, dtype=np.float64)
    ok = np.isfinite(sols)
    offsets = np.round(np.where(ok, sols, 0.0) * SOL_SECONDS * 1e3).astype("timedelta64[ms]")
    text = np.datetime_as_string(_EPOCH_MS + offsets, unit="s")
    return [t if good else None for t, good in zip(text.tolist(), ok.tolist(), strict=True)]


def parse_utc(raw) -> datetime | None:
    """An ISO 8601 time as stored in the dataset's metadata ('...Z' or naive = UTC);
    None when it is missing or not a time."""
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
