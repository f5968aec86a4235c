"""The Atom feed of the rover's track, parsed back with an XML parser: Atom 1.0's required
elements, stable entry ids, GeoRSS points, links to the page's sol range."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from dashboard.api.feed_routes import FEED_ID, entry_title, render_feed

ATOM = "{http://www.w3.org/2005/Atom}"
GEORSS = "{http://www.georss.org/georss}"
BASE = "https://tracker.example/"


def change(version: str, sol: int, lon: float, lat: float, distance: float | None, **more) -> dict:
    return {
        "version": version,
        "previous_version": str(int(version) - 1) if distance is not None else None,
        "first": distance is None,
        "sol_min": sol - 2,
        "sol_max": sol,
        "new_sols": 3,
        "new_waypoints": 2,
        "new_legs": 4,
        "distance_m": distance,
        "elevation_change_m": None if distance is None else 3.25,
        "newest": {
            "sol": sol,
            "earth_date": "2026-03-01",
            "lon": lon,
            "lat": lat,
            "elev_geoid_m": -2480.5,
            "layer": "traverse",
            "rmc": None,
        },
        "layers_changed": ["traverse"],
        "data_changed_at": "2026-03-02T10:00:00Z",
        "loaded_at": "2026-03-02T10:15:00Z",
        **more,
    }


CHANGES = [  # newest first, as the store lists them
    change("7", 1840, 77.22014, 18.43251, 312.4),
    change("5", 1835, 77.2150, 18.4301, None, data_changed_at="2026-02-25T08:00:00Z"),
]


def parse(body: bytes) -> ET.Element:
    root = ET.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    return root


def test_the_feed_is_atom_with_its_required_elements():
    root = parse(render_feed(CHANGES, BASE))
    assert root.findtext(f"{ATOM}id") == FEED_ID
    assert root.findtext(f"{ATOM}title")
    assert root.findtext(f"{ATOM}updated").startswith("2026-03-02T10:00:00")  # the newest entry's
    assert root.find(f"{ATOM}author/{ATOM}name").text
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert links == {"self": BASE + "perseverance/feed.atom", "alternate": BASE}
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 2
    for entry in entries:  # RFC 4287: id, title, updated; a link or content
        assert entry.findtext(f"{ATOM}id") and entry.findtext(f"{ATOM}title") and entry.findtext(f"{ATOM}updated")
        assert entry.find(f"{ATOM}link").get("rel", "alternate") == "alternate"  # no rel: alternate


def test_each_entry_says_the_sol_the_drive_and_the_position():
    newest, first = parse(render_feed(CHANGES, BASE)).findall(f"{ATOM}entry")
    assert newest.findtext(f"{ATOM}title") == "Sol 1840: drove 312 m, now at 77.2201° E, 18.4325° N"
    assert newest.findtext(f"{ATOM}updated").startswith("2026-03-02T10:00:00")  # when NASA's data changed
    assert newest.find(f"{ATOM}link").get("href") == BASE + "?sol_min=1838&sol_max=1840"
    assert newest.findtext(f"{GEORSS}point") == "18.43251 77.22014"  # latitude first
    summary = newest.findtext(f"{ATOM}summary")
    assert "312.4 m" in summary and "+3.2 m" in summary and "sols 1838..1840" in summary
    assert first.findtext(f"{ATOM}title") == "Sol 1835: tracking starts, the rover is at 77.2150° E, 18.4301° N"
    assert first.findtext(f"{ATOM}updated").startswith("2026-02-25T08:00:00")


def test_entry_ids_are_stable_across_renders_and_servers():
    def ids(base: str) -> list[str]:
        return [e.findtext(f"{ATOM}id") for e in parse(render_feed(CHANGES, base)).findall(f"{ATOM}entry")]

    first = ids(BASE)
    assert first == ids(BASE) == ids("http://127.0.0.1:8050/")
    assert first == [
        "tag:perseverance-tracker,2021:change/v7/sol1840",
        "tag:perseverance-tracker,2021:change/v5/sol1835",
    ]
    assert len(set(first)) == 2


def test_an_empty_history_is_a_valid_feed_dated_by_the_dataset():
    root = parse(render_feed([], BASE, fallback="2026-03-03T12:00:00Z"))
    assert root.findall(f"{ATOM}entry") == []
    assert root.findtext(f"{ATOM}updated").startswith("2026-03-03T12:00:00")


def test_titles_west_and_south_and_no_distance():
    assert entry_title(change("3", 20, -5.5, -1.25, 0.0)) == "Sol 20: now at 5.5000° W, 1.2500° S"
