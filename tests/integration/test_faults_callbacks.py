"""Forged requests to Dash's callback endpoint get a 4xx with the reason,
never a 500 or a traceback."""

from __future__ import annotations

import logging

import orjson
import pytest

from dashboard.page import ids

pytestmark = pytest.mark.faults


@pytest.fixture
def client(client, loaded):
    """The shared test client, with the fixture files loaded."""
    return client


def payload(client, output_has: str, values: dict, changed: list[str]) -> dict:
    deps = client.get("/_dash-dependencies").get_json()
    cb = next(d for d in deps if output_has in d["output"])
    outputs = []
    for part in cb["output"].strip(".").split("..."):
        cid, prop = part.rsplit(".", 1)
        outputs.append({"id": orjson.loads(cid) if cid.startswith("{") else cid, "property": prop})

    def item(spec):
        cid = orjson.loads(spec["id"]) if spec["id"].startswith("{") else spec["id"]
        key = cid if isinstance(cid, str) else spec["id"]
        return {"id": cid, "property": spec["property"], "value": values.get(key)}

    return {
        "output": cb["output"],
        "outputs": outputs,
        "inputs": [item(i) for i in cb["inputs"]],
        "changedPropIds": changed,
        "state": [item(s) for s in cb.get("state", [])],
    }


def post(client, body) -> tuple[int, dict | None, bytes]:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    resp = client.post("/_dash-update-component", data=data, content_type="application/json")
    assert b"Traceback" not in resp.data
    return resp.status_code, (resp.get_json(silent=True) if resp.is_json else None), resp.data


def test_a_genuine_callback_still_works(client):
    status, body, _ = post(
        client, payload(client, "orientation-chart.figure", {ids.SOL_RANGE: [13, 15]}, [f"{ids.SOL_RANGE}.value"])
    )
    assert status == 200 and body["response"]["orientation-chart"]["figure"]["layout"]["title"]["text"].endswith(
        "(sols 13–15)"
    )


@pytest.mark.parametrize(
    "values, message",
    [
        ({ids.SOL_RANGE: ["a", "b"]}, "a sol must be a number"),
        ({ids.SOL_RANGE: [13]}, "sol range must be a list of two sols"),
        ({ids.SOL_RANGE: [-1e308, 1e308]}, "out of range"),
        ({ids.SOL_RANGE: [13, float("inf")]}, None),  # not JSON at all: orjson writes null
        ({ids.SOL_RANGE: [13, 15], ids.SELECTION: "zzz"}, "the selection must be a list"),
        ({ids.SOL_RANGE: [13, 15], ids.SELECTION: [{"a": 1}]}, "the selection must be a list"),
    ],
)
def test_forged_chart_inputs(client, values, message):
    status, body, _ = post(client, payload(client, "orientation-chart.figure", values, [f"{ids.SOL_RANGE}.value"]))
    if message is None:
        assert status in (200, 400)
    else:
        assert status == 400 and message in body["error"]


@pytest.mark.parametrize(
    "values, message",
    [
        ({ids.LIVE: -1}, "the count of new versions must be a count"),
        ({ids.LIVE: "1"}, "the count of new versions must be a count"),
        ({ids.LIVE: 1, ids.LIVE_SEEN: {"sol": "a"}}, "sol must be a number"),
        ({ids.LIVE: 1, ids.LIVE_SEEN: {"sol": 1, "more": 2}}, "an object of sol and odometry_m"),
        ({ids.LIVE: 1, ids.LIVE_SEEN: [1]}, "an object of sol and odometry_m"),
    ],
)
def test_forged_live_inputs(client, values, message):
    status, body, _ = post(client, payload(client, f"{ids.LIVE_NOTICE}.children", values, [f"{ids.LIVE}.data"]))
    assert status == 400 and message in body["error"]


def test_a_genuine_live_callback_takes_the_new_version(client):
    values = {ids.LIVE: 1, ids.DATA_VERSION: "0", ids.LIVE_SEEN: {"sol": 17, "odometry_m": 100.0}}
    status, body, _ = post(client, payload(client, f"{ids.LIVE_NOTICE}.children", values, [f"{ids.LIVE}.data"]))
    assert status == 200, body
    assert body["response"][ids.LIVE_NOTICE]["children"].startswith("New drive: sol ")


def test_forged_slider_end(client):
    values = {ids.SOL_RANGE: [13, 15], ids.DATA_VERSION: "1"}
    body = payload(client, f"{ids.SOL_RANGE}.max", values, [f"{ids.DATA_VERSION}.data"])
    body["state"][-1]["value"] = "far"
    status, answer, _ = post(client, body)
    assert status == 400 and "the sol range's max must be a number" in answer["error"]


def test_forged_export_chart_name(client):
    body = payload(client, "export-jobs.data", {}, ['{"chart":"pie","type":"export-button"}.n_clicks'])
    body["inputs"] = [[{"id": {"chart": "pie", "type": ids.EXPORT_BUTTON}, "property": "n_clicks", "value": 1}]]
    body["state"][0] = body["state"][1] = []  # the pattern-matching states: lists of components
    status, answer, _ = post(client, body)
    assert status == 400 and "unknown chart 'pie'" in answer["error"]


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"[" * 5000 + b"]" * 5000, "not valid JSON"),
        (b'{"output": ' + b"[" * 3000 + b"]" * 3000 + b"}", "not valid JSON"),
        (b"hello", "not valid JSON"),
        (b"[1, 2]", "must be an object naming its output"),
        (b'{"output": "nope.children", "inputs": []}', "unknown callback output"),
        (b'{"output": "..x..", "inputs": "zz"}', "unknown callback output"),
    ],
)
def test_malformed_callback_bodies(client, raw, message, caplog):
    with caplog.at_level(logging.ERROR):
        status, body, _ = post(client, raw)
    assert status == 400 and message in body["error"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_inputs_must_be_objects(client):
    body = payload(client, "orientation-chart.figure", {ids.SOL_RANGE: [13, 15]}, [f"{ids.SOL_RANGE}.value"])
    body["inputs"][0] = "junk"
    status, answer, _ = post(client, body)
    assert status == 400 and "each input must be an object" in answer["error"]


def test_an_oversized_callback_is_refused(client):
    status, body, _ = post(client, b'{"output": "' + b"x" * (5 * 1024 * 1024) + b'"}')
    assert status == 413 and "too large" in body["error"]


def test_a_clientside_callback_posted_to_the_server_is_refused_in_words(client):
    """The replay's clientside callback (replay-loaded.data) is in Dash's callback map with no
    server function: posted anyway (found by the fuzz run), a 400 in words, not Dash's
    KeyError as a 500."""
    body = {
        "output": f"{ids.REPLAY_LOADED}.data",
        "outputs": {"id": ids.REPLAY_LOADED, "property": "data"},
        "inputs": [{"id": ids.REPLAY_DATA, "property": "data", "value": None}],
        "changedPropIds": [],
        "state": [],
    }
    status, answer, _ = post(client, body)
    assert status == 400 and "is run in the browser, not here" in answer["error"]
