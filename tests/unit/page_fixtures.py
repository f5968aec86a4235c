"""Small datasets for the page's tests (the fixtures in tests/fixtures, parsed)."""

from __future__ import annotations

from dashboard.data.parse import parse_traverse, parse_waypoints
from dashboard.data.store import Dataset, merge_current
from tests.helpers import FIXTURES


def small_dataset() -> Dataset:
    """Waypoints (sols 13-18) and a traverse (to sol 17), no current position."""
    wp = parse_waypoints((FIXTURES / "waypoints_v2024.json").read_bytes(), "wp").frame
    tr = parse_traverse((FIXTURES / "traverse_v2026.json").read_bytes(), "tr")
    meta = {"loaded_at": "2026-11-29T03:00:00Z", "layers": {"waypoints": {"source": "/data/wp.json"}}}
    return Dataset(version="3", meta=meta, waypoints=wp, traverse=tr.frame, traverse_points=tr.points)


def dataset_with_current() -> Dataset:
    """The same plus a current position at sol 19, newer than the last waypoint."""
    wp = parse_waypoints((FIXTURES / "waypoints_v2024.json").read_bytes(), "wp").frame
    cur = parse_waypoints((FIXTURES / "current_v2026.json").read_bytes(), "cur", layer="current").frame
    tr = parse_traverse((FIXTURES / "traverse_v2026.json").read_bytes(), "tr")
    meta = {
        "loaded_at": "2026-11-29T03:00:00Z",
        "layers": {
            "waypoints": {"source": "https://example.org/mmgis-maps/M20/Layers/json/M20_waypoints.json"},
            "current": {"source": "/data/M20_waypoints_current.json", "status": "newer"},
        },
    }
    return Dataset(
        version="4",
        meta=meta,
        waypoints=merge_current(wp, cur),
        traverse=tr.frame,
        traverse_points=tr.points,
        current=cur,
    )
