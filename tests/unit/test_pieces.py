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
    failure_reason,
    load_message,
    load_restricted,
    new_data_notice,
    now_children,
    now_items,
    now_position,
    selection_status,
    staleness_text,
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


FAILING = {
    "ok": False,
    "at": "2026-12-08T09:00:12Z",
    "failing_since": "2026-12-05T14:02:40Z",
    "error": "mars.nasa.gov M20_waypoints.json: HTTP 500 INTERNAL SERVER ERROR",
}


def test_staleness_in_words():
    assert staleness_text(FAILING, 1840, "3 days ago") == (
        "NASA's source has not answered since 2026-12-05 14:02 UTC (HTTP 500); "
        "the position shown is from sol 1840, 3 days ago."
    )
    # without failing_since (an older load record): the failed attempt's time
    older = {"ok": False, "at": "2026-12-08T09:00:12Z", "error": "M20_traverse.json: no answer within 20 s"}
    assert staleness_text(older, 1840, "today") == (
        "The latest refresh failed at 2026-12-08 09:00 UTC (no answer within 20 s); "
        "the position shown is from sol 1840, today."
    )
    without_position = staleness_text(FAILING, None, None)
    assert without_position == "NASA's source has not answered since 2026-12-05 14:02 UTC (HTTP 500)."
    assert staleness_text({"ok": True, "at": "t"}, 1840, "today") is None
    assert staleness_text(None, 1840, "today") is None


@pytest.mark.parametrize(
    "error, reason",
    [
        ("wp.json: HTTP 503", "HTTP 503"),
        ("mars.nasa.gov M20_waypoints.json: could not connect within 5 s", "could not connect within 5 s"),
        ("Redis is out of memory", "Redis is out of memory"),
        ("x: " + "y" * 300, "y" * 119 + "…"),
        (None, ""),
    ],
)
def test_failure_reason(error, reason):
    assert failure_reason(error) == reason


def test_the_now_card_while_refreshes_fail(with_current):
    when = datetime(2021, 3, 12, tzinfo=UTC)
    card = now_children(with_current, when, FAILING)
    assert card[1].id == ids.NOW_STALE
    assert card[1].children.endswith("the position shown is from sol 19, 2 days ago.")
    assert ids.NOW_STALE not in [getattr(c, "id", None) for c in now_children(with_current, when, {"ok": True})]


def test_the_notice_of_new_data(dataset, with_current):
    assert now_position(dataset) == {"sol": 18, "odometry_m": 133.9}
    assert now_position(with_current) == {"sol": 19, "odometry_m": 140.5}
    assert new_data_notice(now_position(dataset), now_position(with_current)) == "New drive: sol 19, +6.6 m"
    assert new_data_notice({"sol": 1840, "odometry_m": 36_000.0}, {"sol": 1850, "odometry_m": 37_234.4}) == (
        "New drive: sol 1850, +1,234 m"
    )
    # no drive since, or nothing to compare with
    assert new_data_notice({"sol": 18, "odometry_m": 133.9}, {"sol": 18, "odometry_m": 133.9}) == "New data: sol 18"
    assert new_data_notice(None, {"sol": 19, "odometry_m": 140.5}) == "New data: sol 19"
    assert new_data_notice({"junk": 1}, {"sol": None, "odometry_m": None}) == "New data"


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
    assert "python -m dashboard load" in said and "deploy/clock" in said and "-H @admin.header" in said
    assert "Authorization: Bearer <token>" in said and "$PTRACKER_ADMIN_TOKEN" not in said  # never on a command line


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
