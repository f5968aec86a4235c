"""What NASA's context layers (Ingenuity's flights, the sample tubes) share: a sol window
over their frames, and Earth dates written as free text, not ISO.

The helicopter layer writes one date per flight (``"April 4, 2021"``, ``"Aug. 4, 2021"``,
``"Sept. 4, 2021"``); the sample layer one or two per site, in several spellings
(``"Sept. 6&8, 2021"``, ``"Nov. 15&24. 2021"``, ``"Jul. 27&Aug. 3, 2022"``,
``"Dec. 22, 2021 & Jan. 31, 2022"``). :func:`parse_dates` reads all of them the same way:
a month word sets the month, each one- or two-digit number is a day in that month, and a
four-digit number is the year of every date read since the previous year. Anything else
(an unknown word, a day without a month, a date without a year, an impossible date) makes
the whole text unreadable: None, never a guess. Pure code.
"""

from __future__ import annotations

import re
from datetime import date

import pandas as pd

_NAMES = "january february march april may june july august september october november december".split()
#: English month names, whole or cut to three letters (``March``, ``Mar.``), and ``Sept.``
MONTHS = {**{n: i for i, n in enumerate(_NAMES, 1)}, **{n[:3]: i for i, n in enumerate(_NAMES, 1)}, "sept": 9}
_TOKEN = re.compile(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]")
#: separators between dates and their parts
_PUNCTUATION = {",", ".", "&", "-", "/", "+"}


def parse_dates(text: object) -> list[date] | None:
    """Every date in ``text``, in order; None when the text is missing or not readable."""
    if not isinstance(text, str) or not text.strip():
        return None
    month: int | None = None
    pending: list[tuple[int, int]] = []  # (month, day) still waiting for their year
    found: list[date] = []
    for token in _TOKEN.findall(text):
        if token.isalpha():
            month = MONTHS.get(token.lower())
            if month is None:
                return None
        elif token.isdigit() and len(token) <= 2:
            if month is None:
                return None
            pending.append((month, int(token)))
        elif token.isdigit() and len(token) == 4:
            if not pending:
                return None
            try:
                found.extend(date(int(token), m, d) for m, d in pending)
            except ValueError:  # "Feb. 30"
                return None
            pending = []
        elif token not in _PUNCTUATION:
            return None
    if pending or not found:
        return None
    return found


def parse_date(text: object) -> date | None:
    """The one date in ``text``; None when it has none, several, or is unreadable."""
    dates = parse_dates(text)
    return dates[0] if dates is not None and len(dates) == 1 else None


def between_sols(frame: pd.DataFrame, sol_min: int | None = None, sol_max: int | None = None) -> pd.DataFrame:
    """The rows whose ``sol`` lies in the inclusive range (an open end when None)."""
    keep = pd.Series(True, index=frame.index)
    if sol_min is not None:
        keep &= frame["sol"] >= sol_min
    if sol_max is not None:
        keep &= frame["sol"] <= sol_max
    return frame if bool(keep.all()) else frame[keep.to_numpy(dtype=bool)]
