"""The page's first view, built into the served layout: the figures and the controls for
the range (and time axis) the page's address asks for, so a first visit draws every chart
as soon as plotly.js is there, without waiting for a callback's round trip.

Dash's renderer asks for the layout (``/_dash-layout``) from the page itself, so the
request's Referer is the page's address with its query string (``?sol_min=..&sol_max=..``).
When a browser sends no Referer the whole range is built, and the page's first callback
(which reads the address) moves the range as it always did; the charts follow it then.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import flask

from dashboard.data.store import Dataset
from dashboard.figures import BUILDERS, Figure, View, build
from dashboard.figures.regional import regional
from dashboard.page.ranges import axis_from_query, range_from_query, sol_bounds

#: characters of a Referer's query read at most (the page's own query is short)
MAX_QUERY = 2048


@dataclass(frozen=True)
class FirstView:
    """The range the page opens on (``a``..``b`` within the data's ``lo``..``hi``), its
    time axis, and the figures for it: every chart of BUILDERS and the regional view."""

    lo: int
    hi: int
    a: int
    b: int
    axis: str
    figures: dict[str, Figure]
    regional: Figure


def search_of(referrer: str | None) -> str:
    """The query string (with its "?") of the page that asked for the layout; "" for none."""
    if not referrer or len(referrer) > 4 * MAX_QUERY:
        return ""
    query = urlsplit(referrer).query
    return f"?{query}" if query and len(query) <= MAX_QUERY else ""


def requested_search() -> str:
    """:func:`search_of` the current request's Referer ("" outside a request)."""
    return search_of(flask.request.referrer) if flask.has_request_context() else ""


def page_token(dataset: Dataset | None) -> str | None:
    """What a page drawn from ``dataset`` was drawn from: its rover and version (the served
    layout keeps it in ``ids.SERVED``; a first callback whose data is the same has nothing
    new to draw)."""
    return None if dataset is None else f"{dataset.rover}:{dataset.version}"


def first_view(dataset: Dataset, search: str = "") -> FirstView:
    """The page's first view for the address's query ``search``."""
    lo, hi = sol_bounds(dataset)
    a, b = range_from_query(search, lo, hi)
    axis = axis_from_query(search)
    view = View.of(a, b, None, axis)
    figures = {name: build(name, dataset, view) for name in BUILDERS}
    return FirstView(lo, hi, a, b, axis, figures, regional(dataset, view, compact=True))
