"""What changed on the rover's track: ``/perseverance/changes`` (JSON, newest first) and
``/perseverance/feed.atom`` (an Atom 1.0 feed, one entry per change).

The changes are recorded by the load that brings them (:mod:`dashboard.data.changes`),
so they change only with the dataset version: both routes are data routes
(``dashboard/api/http_cache.py``: ETag and Last-Modified from the version, 304 before the
view). In the instant between a new version becoming current and its change being
recorded, they answer 503 with Retry-After: 1 rather than an answer that would then be
cached under the new version's validators without its entry.

The feed is written with feedgen: a stable id per entry (a tag URI of the version and the
sol, so a reader never sees an entry twice), ``updated`` = when NASA's data changed, a
link to the page showing the change's sols (``/?sol_min=A&sol_max=B``, the query the page
reads) and the rover's position as a GeoRSS point (planetocentric latitude and east
longitude on Mars).
"""

from __future__ import annotations

from datetime import UTC, datetime

from feedgen.feed import FeedGenerator
from flask import Response, request

from dashboard import __version__
from dashboard.api import schemas
from dashboard.api.blueprint import dataset, route, store
from dashboard.api.changes_schemas import Change, ChangesQuery
from dashboard.api.errors import ApiError
from dashboard.api.openapi import DATA, NOT_MODIFIED, Answers
from dashboard.api.schemas import NoQuery, parse_query
from dashboard.data.changes import pending, recent_changes
from dashboard.http import json_response
from dashboard.marstime import parse_utc
from dashboard.rovers import DEFAULT_ROVER, ROVERS

ATOM = "application/atom+xml"
FEED_ID = "tag:perseverance-tracker,2021:feed"
#: an entry's id: stable across renders, servers and restarts of the same dataset history
ENTRY_ID = "tag:perseverance-tracker,2021:change/v{version}/sol{sol}"
FEED_TITLE = "Perseverance Tracker: the rover's track"
FEED_SUBTITLE = "Where NASA's {label} rover drove, as NASA's MMGIS layers publish it"
#: another rover's feed: its own id, entry ids and title (Perseverance's are the ones above,
#: as they always were: feed readers keep what they have read)
ROVER_FEED_ID = FEED_ID + "/{rover}"
ROVER_ENTRY_ID = "tag:perseverance-tracker,2021:{rover}/change/v{version}/sol{sol}"
ROVER_FEED_TITLE = "Perseverance Tracker: {label}'s track"
DATA_RIGHTS = "Rover data: NASA/JPL-Caltech (MMGIS)"
#: the newest changes the feed carries
FEED_ENTRIES = 50
#: seconds a client waits while the newest version's change is being recorded
PENDING_RETRY = 1
EPOCH = datetime(2021, 2, 18, tzinfo=UTC)

_VALIDATORS = {"HTTP_304": {"ETag": "the current ETag", "Cache-Control": "how long to reuse the answer"}}
_UNAVAILABLE = (
    schemas.Error,
    "no dataset loaded, Redis unreachable, or the newest version's change is still being recorded (Retry-After)",
)
CHANGES_ANSWERS = Answers(
    HTTP_200=(list[Change], "the changes, newest first"),
    HTTP_304=(None, NOT_MODIFIED),
    HTTP_400=(schemas.Error, "bad query parameter"),
    HTTP_503=_UNAVAILABLE,
    headers=_VALIDATORS,
)
FEED_ANSWERS = Answers(
    HTTP_200=(None, "Atom 1.0 feed, one entry per change, newest first"),
    HTTP_304=(None, NOT_MODIFIED),
    HTTP_400=(schemas.Error, "bad query parameter"),
    HTTP_503=_UNAVAILABLE,
    content={"HTTP_200": {ATOM: {"type": "string"}}},
    headers=_VALIDATORS,
)


def _changes(limit: int) -> list[dict]:
    """The newest ``limit`` changes of the current dataset's history (ApiError 503 while
    its own change is being recorded, or without a dataset)."""
    found = dataset()
    if pending(store(), found):
        raise ApiError(
            503,
            f"dataset version {found.version} has just been loaded and its change is being recorded; try again",
            headers={"Retry-After": str(PENDING_RETRY)},
            retry_after=PENDING_RETRY,
        )
    return recent_changes(store(), limit)


@route("/perseverance/changes", "GET", tags=DATA, query=ChangesQuery, resp=CHANGES_ANSWERS)
def change_list():
    """what changed on the rover's track, newest first (?limit=N)

    One entry per dataset version that changed the track: new sols, waypoints and traverse
    legs, distance driven and elevation change since the version before, the newest sol
    and position, and when NASA's data changed. The last 100 are kept."""
    query = parse_query(ChangesQuery)
    return json_response(_changes(query.limit))


@route("/perseverance/feed.atom", "GET", tags=DATA, resp=FEED_ANSWERS)
def feed_atom():
    """Atom feed of the rover's track (one entry per change, GeoRSS position)"""
    parse_query(NoQuery)
    changes = _changes(FEED_ENTRIES)
    found = dataset()
    body = render_feed(changes, request.url_root, fallback=found.meta.get("loaded_at"), rover=found.rover)
    return Response(body, content_type=f"{ATOM}; charset=utf-8")


# --- the feed ---------------------------------------------------------------------------------


def _when(raw: str | None, fallback: datetime = EPOCH) -> datetime:
    return parse_utc(raw) or fallback


def _lon(lon: float) -> str:
    return f"{abs(lon):.4f}° {'E' if lon >= 0 else 'W'}"


def _lat(lat: float) -> str:
    return f"{abs(lat):.4f}° {'N' if lat >= 0 else 'S'}"


def entry_title(change: dict) -> str:
    """ "Sol 1840: drove 312 m, now at 77.2201° E, 18.4325° N"."""
    newest = change["newest"]
    where = f"{_lon(newest['lon'])}, {_lat(newest['lat'])}"
    if change.get("first"):
        return f"Sol {newest['sol']}: tracking starts, the rover is at {where}"
    distance = change.get("distance_m")
    if distance:
        return f"Sol {newest['sol']}: drove {distance:,.0f} m, now at {where}"
    return f"Sol {newest['sol']}: now at {where}"


def entry_text(change: dict) -> str:
    """The entry's summary: what is new, how far and how high, where, since when."""
    newest = change["newest"]
    span = (
        f"sol {change['sol_min']}"
        if change["sol_min"] == change["sol_max"]
        else f"sols {change['sol_min']}..{change['sol_max']}"
    )
    parts = [
        f"{span}: {change['new_sols']} new sol(s), {change['new_waypoints']} new waypoint(s), "
        f"{change['new_legs']} new traverse leg(s)."
    ]
    if change.get("distance_m") is not None:
        parts.append(f"Drove {change['distance_m']:,.1f} m since the previous version.")
    if change.get("elevation_change_m") is not None:
        parts.append(f"Elevation change {change['elevation_change_m']:+.1f} m.")
    elev = f", elevation {newest['elev_geoid_m']:,.1f} m" if newest.get("elev_geoid_m") is not None else ""
    parts.append(
        f"Sol {newest['sol']} ({newest.get('earth_date') or 'date unknown'}): "
        f"{_lon(newest['lon'])}, {_lat(newest['lat'])}{elev}."
    )
    layers = ", ".join(change.get("layers_changed") or []) or "none"
    parts.append(f"NASA's data changed {change.get('data_changed_at') or 'at an unknown time'} (layers: {layers}).")
    return " ".join(parts)


def entry_id(change: dict, rover: str = DEFAULT_ROVER) -> str:
    sol, version = change["newest"]["sol"], change["version"]
    if rover == DEFAULT_ROVER:
        return ENTRY_ID.format(version=version, sol=sol)
    return ROVER_ENTRY_ID.format(rover=rover, version=version, sol=sol)


def render_feed(changes: list[dict], base_url: str, fallback: str | None = None, rover: str = DEFAULT_ROVER) -> bytes:
    """The Atom 1.0 document of ``rover``'s ``changes`` (newest first), its links under
    ``base_url`` (the server's root URL, ending in "/"). ``updated`` is the newest
    entry's, else ``fallback`` (the dataset's load time)."""
    label = ROVERS[rover].label
    other = rover != DEFAULT_ROVER
    fg = FeedGenerator()
    fg.load_extension("geo")
    fg.id(ROVER_FEED_ID.format(rover=rover) if other else FEED_ID)
    fg.title(ROVER_FEED_TITLE.format(label=label) if other else FEED_TITLE)
    fg.subtitle(FEED_SUBTITLE.format(label=label))
    fg.author({"name": "Perseverance Tracker"})
    fg.rights(DATA_RIGHTS)
    fg.generator("Perseverance Tracker", version=__version__)
    fg.link(href=f"{base_url}{rover}/feed.atom", rel="self", type=ATOM)
    page_rover = f"&rover={rover}" if other else ""
    fg.link(href=f"{base_url}?rover={rover}" if other else base_url, rel="alternate", type="text/html")
    newest = max((_when(c.get("data_changed_at") or c.get("loaded_at")) for c in changes), default=None)
    fg.updated(newest or _when(fallback))
    for change in changes:
        entry = fg.add_entry(order="append")
        entry.id(entry_id(change, rover))
        entry.title(entry_title(change))
        entry.updated(_when(change.get("data_changed_at") or change.get("loaded_at")))
        page = f"{base_url}?sol_min={change['sol_min']}&sol_max={change['sol_max']}{page_rover}"
        entry.link(href=page, rel="alternate")
        entry.summary(entry_text(change))
        entry.geo.point(f"{change['newest']['lat']} {change['newest']['lon']}")
    return fg.atom_str(pretty=False)
