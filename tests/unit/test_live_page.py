"""What the page carries to follow new data: the poll interval from the environment, the
settings assets/live.js reads from the layout, and the polite notice."""

from __future__ import annotations

import pytest

from dashboard.page import ids
from dashboard.page.layout import LIVE_VERSION_PATH, serve_layout
from dashboard.settings import Settings, SettingsError
from tests.helpers import ROOT
from tests.unit.page_fixtures import small_dataset


def find(component, wanted: str):
    """The component with id ``wanted`` in a Dash layout tree (None when absent)."""
    if getattr(component, "id", None) == wanted:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, str):
            found = find(child, wanted)
            if found is not None:
                return found
    return None


def test_the_poll_interval_from_the_environment():
    assert Settings.from_env({}).live_poll_seconds == Settings().live_poll_seconds == 30
    assert Settings.from_env({"PTRACKER_LIVE_POLL_SECONDS": "2.5"}).live_poll_seconds == 2.5
    assert Settings.from_env({"PTRACKER_LIVE_POLL_SECONDS": "0"}).live_poll_seconds == 0  # off
    for bad in ("-1", "soon", "nan"):
        with pytest.raises(SettingsError, match="PTRACKER_LIVE_POLL_SECONDS"):
            Settings.from_env({"PTRACKER_LIVE_POLL_SECONDS": bad})


def test_the_layout_tells_live_js_what_to_poll():
    page = serve_layout(small_dataset(), Settings(live_poll_seconds=30))
    config = find(page, ids.LIVE_CONFIG)
    attributes = config.to_plotly_json()["props"]
    assert attributes["hidden"] is True
    assert attributes["data-poll-seconds"] == "30" and attributes["data-url"] == LIVE_VERSION_PATH
    assert attributes["data-version"] == "3" and attributes["data-store"] == ids.LIVE
    assert find(page, ids.LIVE).data == 0
    notice = find(page, ids.LIVE_NOTICE).to_plotly_json()["props"]
    assert notice["aria-live"] == "polite" and notice["role"] == "status"
    off = find(serve_layout(None, Settings(live_poll_seconds=0)), ids.LIVE_CONFIG).to_plotly_json()["props"]
    assert off["data-poll-seconds"] == "0" and off["data-version"] == ""
    # the script finds the element by the id the layout gives it
    assert f'"{ids.LIVE_CONFIG}"' in (ROOT / "assets" / "live.js").read_text()
