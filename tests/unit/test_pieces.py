"""What the page says (dashboard.page.pieces): texts and their HTML, no browser."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from dash import html

from dashboard.page import ids
from dashboard.page.pieces import (
    details_children,
    export_item,
    export_label,
    load_message,
    load_restricted,
    now_children,
    now_items,
    selection_status,
    summary_children,
    summary_items,
    waypoint_fields,
    waypoint_panorama,
)
from tests.unit.page_fixtures import dataset_with_current, small_dataset


@pytest.fixture(scope="module")
def dataset():
    return small_dataset()


@pytest.fixture(scope="module")
def with_current():
    return dataset_with_current()


def texts(component) -> list[str]:
    """Every string inside a Dash component tree, in order."""
    if isinstance(component, str):
        return [component]
    if isinstance(component, (list, tuple)):
        return [t for c in component for t in texts(c)]
    children = getattr(component, "children", None)
    return texts(children) if children is not None else []


def test_summary(dataset):
    items = dict(summary_items(dataset, {"ok": False, "at": "t", "error": "wp.json: HTTP 500"}))
    assert items["Latest waypoint"] == "sol 18 · 2021-03-08 UTC"
    assert items["Odometry at that waypoint"] == "0.13 km"
    assert items["Elevation there"] == "-2568.2 m"
    assert items["Drives (traverse)"] == "3 to sol 17, 0.09 km"
    assert items["Data loaded"] == "2026-11-29 03:00:00 UTC from local file wp.json"  # never a server path
    assert items["Last load attempt failed"] == "t: wp.json: HTTP 500"
    assert "Last load attempt failed" not in dict(summary_items(dataset, {"ok": True}))
    strip = summary_children(dataset)
    assert texts(strip[0]) == ["Latest waypoint", "sol 18 · 2021-03-08 UTC"]


def test_waypoint_fields(dataset):
    fields = dict(waypoint_fields(dataset, "4_120"))
    assert fields["rmc"] == "4_120" and fields["sol"] == "16"
    assert fields["earth_date"].startswith("2021-03-06")
    assert fields["final"] == "False" and fields["dist_m"] == "—"
    assert fields["note"] == "mid-drive localization"
    assert waypoint_fields(dataset, "99_99") is None


def test_details(dataset):
    assert texts(details_children(dataset, "99_99")) == ["Waypoint 99_99 is not in the current dataset."]
    shown = details_children(dataset, "4_120")
    assert texts(shown[0]) == ["Waypoint 4_120"]
    assert "mid-drive localization" in texts(shown)


def test_now_card(with_current):
    where, fresh = now_items(with_current, datetime(2021, 3, 20, tzinfo=UTC))
    where, fresh = dict(where), dict(fresh)
    assert where["Latest sol"] == "sol 19"
    assert where["Earth date"] == "2021-03-09 UTC · 10 days ago"
    assert where["Position"] == "77.4533° E, 18.4422° N"
    assert where["Odometry"] == "0.14 km" and where["From"] == "the current-position layer"
    assert fresh == {"Waypoints": "to sol 18", "Traverse": "to sol 17", "Current position": "sol 19"}
    card = now_children(with_current, datetime(2021, 3, 20, tzinfo=UTC))
    assert card[0].id == ids.NOW_TITLE == "now-title"
    assert card[1].children[0].children[1].id == ids.now_value("Latest sol") == "now-latest-sol"


def test_panorama_links_are_absolute(dataset, with_current):
    # a URL source: its MMGIS mission folder; a local file: NASA's
    assert waypoint_panorama(with_current, "3_0") == "https://example.org/mmgis-maps/M20/Layers/mosaics/N_0013_3_0.jpg"
    assert (
        waypoint_panorama(with_current, "4_640")
        == "https://mars.nasa.gov/mmgis-maps/M20/Layers/mosaics/N_0019_4_640.jpg"
    )
    assert waypoint_panorama(dataset, "3_0") == "https://mars.nasa.gov/mmgis-maps/M20/Layers/mosaics/N_0013_3_0.jpg"


def test_selection_status():
    assert selection_status(None) == selection_status([]) == ""
    assert selection_status(["3_0"]) == "1 waypoint selected on the map"
    assert selection_status(["3_0", "4_0"]) == "2 waypoints selected on the map"


SUMMARY = {
    "version": "7",
    "waypoints": {"rows": 12, "sol_min": 13, "sol_max": 18},
    "traverse": {"rows": 4, "sol_min": 13, "sol_max": 17},
}


@pytest.mark.parametrize(
    "current, said",
    [
        (None, ""),
        ({"status": "newer", "sol": 19}, ", and the current position (sol 19)"),
        ({"status": "same", "sol": 18}, ", and the current position (sol 18)"),
        ({"status": "unavailable", "sol": 17, "kept": True}, "; the current position could not be read (kept sol 17)"),
        ({"status": "unavailable"}, "; the current position could not be read"),
        ({"status": "older", "sol": 2}, "; the current position was older than the waypoints"),
        ({"status": "off"}, ""),
    ],
)
def test_load_message(current, said):
    assert load_message({**SUMMARY, "current": current}) == (
        f"Loaded 12 waypoints (sols 13–18) and 4 traverse segments (sols 13–17){said}."
    )


def test_load_restricted_names_every_way_to_load():
    said = "".join(texts(load_restricted()))
    assert "python -m dashboard load" in said and "refresh-data" in said and "PTRACKER_ADMIN_TOKEN" in said


def test_export_items():
    params = {"fmt": "svg", "sol_min": 13, "sol_max": 18}
    done = {"id": "j1", "chart": "map", "status": "finished", "params": params, "filename": "map.svg"}
    assert export_label(done) == "Traverse map SVG, sols 13–18"
    item = export_item(done)
    assert item.id == "export-j1" and item.className == "export-item export-finished"
    assert texts(item) == ["Traverse map SVG, sols 13–18", "done", "Download"]
    assert item.children[2].href == "/download/j1" and item.children[2].download == "map.svg"

    failed = {"id": "j2", "chart": "pie", "status": "failed", "params": {**params, "selected": 3}, "error": "boom"}
    assert texts(export_item(failed)) == ["pie SVG, sols 13–18 (3 selected waypoints)", "failed: boom"]

    running = export_item({"id": "j3", "chart": "map", "status": "started", "stage": "drawing", "progress": 40})
    progress = running.children[1]
    assert isinstance(progress, html.Progress) and progress.value == "40"
    assert texts(running) == ["Traverse map , sols None–None", "drawing"]
    queued = export_item({"id": "j4", "chart": "map", "status": "queued", "stage": "ignored"})
    assert texts(queued)[-1] == "queued"
