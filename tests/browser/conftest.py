"""Browser fixtures: the real app (create_app) on a private Redis, driven by dash_duo."""

from __future__ import annotations

import pytest

from dashboard.app import create_app
from dashboard.data.load import load
from tests.helpers import FIXTURES, SHARED_DATA, free_port, real_data


@pytest.fixture
def data_settings(settings):
    """Settings whose sources are NASA's real files when present, else the fixtures."""
    if (SHARED_DATA / "M20_waypoints.json").exists():
        return real_data(settings, current=True)
    return settings.replace(
        waypoints_source=str(FIXTURES / "waypoints_v2024.json"),
        traverse_source=str(FIXTURES / "traverse_v2026.json"),
        current_source=str(FIXTURES / "current_v2026.json"),
    )


@pytest.fixture
def start(dash_duo, store):
    """start(settings, path="/") -> the app, served and opened in the browser."""

    def _start(settings, path="/"):
        app = create_app(settings, store)
        dash_duo.start_server(app, port=free_port())
        if path != "/":
            dash_duo.driver.get(dash_duo.server_url + path)
        dash_duo.wait_for_element("#sol-range-label" if path else "body", timeout=10)
        return app

    return _start


@pytest.fixture
def loaded(store, data_settings):
    load(store, data_settings)
    return store.current()
