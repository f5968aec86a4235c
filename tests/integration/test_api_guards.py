"""Abuse limits and security headers: admin token, per-client export rate, queue cap."""

from __future__ import annotations

import re

import pytest
from rq import Queue

from dashboard.app import create_app
from dashboard.exports.queue import QUEUE_NAME


def test_load_needs_the_admin_token_when_one_is_set(store, settings, loaded):
    client = create_app(settings.replace(admin_token="s3cret-token"), store).server.test_client()
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic s3cret-token"},
        {"Authorization": "s3cret-token"},
    ):
        resp = client.post("/load", headers=headers)
        assert resp.status_code == 401 and "admin token" in resp.get_json()["error"]
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    ok = client.post("/load", headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200 and ok.get_json()["status"] == "unchanged"
    # without a token configured, no header is needed
    open_client = create_app(settings, store).server.test_client()
    assert open_client.post("/load").status_code == 200


def test_the_page_does_not_offer_loading_when_a_token_is_set(store, settings):
    client = create_app(settings.replace(admin_token="t"), store).server.test_client()
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert '"id":"load-button"' in layout.replace(" ", "") and '"hidden":true' in layout.replace(" ", "")
    assert "Loading is restricted to the operator" in layout
    # and says how an operator loads instead
    assert "python -m dashboard load" in layout and "-H @admin.header" in layout


def test_the_restricted_note_is_shown_only_when_loading_is_withdrawn(store, settings):
    """The note under the empty state, browser-free: hidden on an open laptop install,
    shown (and the button hidden) when PTRACKER_ADMIN_TOKEN is set."""
    import json

    def find(node, wanted):
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == wanted:
                return node["props"]
            for value in node.values():
                if (hit := find(value, wanted)) is not None:
                    return hit
        elif isinstance(node, list):
            for value in node:
                if (hit := find(value, wanted)) is not None:
                    return hit
        return None

    def layout(app_settings):
        client = create_app(app_settings, store).server.test_client()
        return json.loads(client.get("/_dash-layout").get_data(as_text=True))

    closed = layout(settings.replace(admin_token="t"))
    note = find(closed, "load-restricted")
    assert note["hidden"] is False and find(closed, "load-button")["hidden"] is True
    text = json.dumps(note["children"])
    assert "python -m dashboard load" in text and "curl -X POST" in text and "Bearer" in text
    assert "/load" in text
    opened = layout(settings)
    assert find(opened, "load-restricted")["hidden"] is True and find(opened, "load-button")["hidden"] is False


def test_exports_are_rate_limited_per_client(store, settings, loaded):
    client = create_app(settings.replace(export_rate=3), store).server.test_client()
    codes = []
    for i in range(5):
        resp = client.post(
            "/perseverance/orientation/yaw", json={"start": 13, "end": 14 + i}, environ_base={"REMOTE_ADDR": "10.9.8.7"}
        )
        codes.append(resp.status_code)
    assert codes == [202, 202, 202, 429, 429]
    assert 1 <= int(resp.headers["Retry-After"]) <= 61
    assert "at most 3 a minute" in resp.get_json()["error"]
    # another client is not affected
    other = client.post(
        "/perseverance/orientation/yaw", json={"start": 13, "end": 14}, environ_base={"REMOTE_ADDR": "10.9.8.8"}
    )
    assert other.status_code == 202


def test_a_full_queue_answers_503_with_retry_after(store, settings, loaded, redis_client):
    client = create_app(settings.replace(queue_max=2), store).server.test_client()
    codes = [
        client.post("/perseverance/position/latitude", json={"start": 13, "end": 14 + i}).status_code for i in range(3)
    ]
    assert codes == [202, 202, 503]
    resp = client.post("/perseverance/position/latitude", json={"start": 13, "end": 17})
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "30"
    assert "queue is full" in resp.get_json()["error"]
    assert Queue(QUEUE_NAME, connection=redis_client).count == 2  # nothing more was queued


def test_security_headers_on_pages_api_and_errors(store, settings, loaded):
    app = create_app(settings, store)
    client = app.server.test_client()
    for resp in (
        client.get("/", headers={"Accept": "text/html"}),
        client.get("/perseverance/position"),
        client.get("/nope"),
        client.get("/_dash-layout"),
    ):
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "same-origin"
        csp = resp.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
        assert "'unsafe-inline'" not in re.search(r"script-src ([^;]*)", csp).group(1)
    # Dash's inline scripts are allowed by hash, and only those
    for digest in app.csp_hashes():
        assert digest in csp
    assert not app.server.debug and not app.server.config.get("DEBUG")


def test_errors_leak_nothing(store, settings, loaded, monkeypatch):
    from dashboard.api import serialize

    def boom():
        raise RuntimeError("secret internals /etc/shadow")

    monkeypatch.setattr(serialize, "filtered", lambda dataset, query: boom())  # answers are memoised per store: fresh
    client = create_app(settings, store).server.test_client()
    resp = client.get("/perseverance/position?sol_min=13")
    assert resp.status_code == 500
    assert resp.get_json() == {"error": "internal error; it has been logged"}
    assert b"secret" not in resp.data and b"Traceback" not in resp.data


@pytest.mark.parametrize("proxies, separate", [(0, False), (1, True)])
def test_forwarded_clients_count_separately_only_behind_a_trusted_proxy(store, settings, loaded, proxies, separate):
    client = create_app(settings.replace(export_rate=1, proxy_count=proxies), store).server.test_client()

    def export(forwarded_for: str, end: int) -> int:
        return client.post(
            "/perseverance/orientation/roll",
            json={"start": 13, "end": end},
            headers={"X-Forwarded-For": forwarded_for},
            environ_base={"REMOTE_ADDR": "10.0.0.1"},
        ).status_code

    assert export("198.51.100.1", 14) == 202
    assert export("198.51.100.2", 15) == (202 if separate else 429)
    assert export("198.51.100.1", 16) == 429  # the first client's budget is spent either way
