"""Mission sols <-> Earth time (UTC), one calendar per rover.

A sol lasts 88,775.244 s. Perseverance (Mars 2020): sol N begins about
2021-02-18T04:24:15Z + N x 88,775.244 s, the mission's sol epoch (Mars24 algorithm, local
mean solar time at 77.43 deg E; landing, 2021-02-18 20:55 UTC, fell late in sol 0).
Curiosity (MSL): sol N begins about 2012-08-05T13:50Z + N x 88,775.244 s (its sol 0
midnight, local mean solar time at Gale crater). The module's functions are
Perseverance's; :class:`SolCalendar` gives any rover's (``dashboard.rovers``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

SOL_SECONDS = 88_775.244
EPOCH = datetime(2021, 2, 18, 4, 24, 15, tzinfo=UTC)
#: Curiosity's (MSL's) sol 0 midnight, local mean solar time at Gale crater
MSL_EPOCH = datetime(2012, 8, 5, 13, 50, tzinfo=UTC)


@dataclass(frozen=True)
class SolCalendar:
    """Sols <-> UTC for one mission: sol N begins at ``epoch`` + N x 88,775.244 s."""

    epoch: datetime

    @property
    def _epoch_ms(self) -> np.datetime64:
        return np.datetime64(self.epoch.replace(tzinfo=None), "ms")

    def sol_start(self, sol: float) -> datetime:
        """The UTC instant at which ``sol`` begins (fractional sols give instants within it)."""
        return self.epoch + timedelta(seconds=float(sol) * SOL_SECONDS)

    def sol_date(self, sol: float) -> date:
        """The UTC calendar date on which ``sol`` begins."""
        return self.sol_start(sol).date()

    def sol_at(self, when: datetime) -> float:
        """The (fractional) sol at a UTC instant; naive datetimes are taken as UTC."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return (when - self.epoch).total_seconds() / SOL_SECONDS

    def sol_of(self, when: datetime) -> int:
        """The sol in progress at ``when``."""
        return math.floor(self.sol_at(when))

    def sol_dates(self, sols) -> np.ndarray:
        """Vectorised: ISO dates ('YYYY-MM-DD', UTC) on which each sol begins."""
        offsets = np.round(np.asarray(sols, dtype=np.float64) * SOL_SECONDS * 1e3).astype("timedelta64[ms]")
        return np.datetime_as_string(self._epoch_ms + offsets, unit="D")

    def sol_instants(self, sols) -> list:
        """Vectorised: ISO instants ('YYYY-MM-DDTHH:MM:SS', UTC) at which each (fractional)
        sol begins; None for NaN (a gap in a line)."""
        sols = np.asarray(sols, dtype=np.float64)
        ok = np.isfinite(sols)
        offsets = np.round(np.where(ok, sols, 0.0) * SOL_SECONDS * 1e3).astype("timedelta64[ms]")
        text = np.datetime_as_string(self._epoch_ms + offsets, unit="s")
        return [t if good else None for t, good in zip(text.tolist(), ok.tolist(), strict=True)]


#: Perseverance's calendar (the module's functions below) and Curiosity's
M20 = SolCalendar(EPOCH)
MSL = SolCalendar(MSL_EPOCH)
sol_start, sol_date, sol_at, sol_of = M20.sol_start, M20.sol_date, M20.sol_at, M20.sol_of
sol_dates, sol_instants = M20.sol_dates, M20.sol_instants


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
