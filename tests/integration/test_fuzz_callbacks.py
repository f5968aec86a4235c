"""Dash's callback endpoint under attack: the body limit is sized from the largest real
selection, deep nesting and non-object graph events are 400s, and a hypothesis fuzz run
over every callback of the page gets no 5xx."""

from __future__ import annotations

import logging
import time

import orjson
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from dashboard.app import create_app
from dashboard.data.load import load
from dashboard.figures import values
from dashboard.page.guard import MAX_CALLBACK_BODY
from tests.helpers import real_data

pytestmark = pytest.mark.faults


@pytest.fixture
def real_app(store, settings):
    settings = real_data(settings)
    load(store, settings)
    return create_app(settings, store)


def deps(client) -> list[dict]:
    return client.get("/_dash-dependencies").get_json()


def base_payload(cb: dict) -> dict:
    """A well-formed request for one callback, every value null."""
    outputs = []
    for part in cb["output"].strip(".").split("..."):
        cid, prop = part.rsplit(".", 1)
        outputs.append({"id": cid, "property": prop})

    def items(specs):
        out = []
        for spec in specs:
            if spec["id"].startswith("{"):
                pattern = orjson.loads(spec["id"])
                out.append(
                    [
                        {"id": {**pattern, "chart": chart}, "property": spec["property"], "value": None}
                        for chart in ("map", "orientation")
                    ]
                )
            else:
                out.append({"id": spec["id"], "property": spec["property"], "value": None})
        return out

    return {
        "output": cb["output"],
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": items(cb["inputs"]),
        "changedPropIds": [],
        "state": items(cb.get("state", [])),
    }


def largest_selection_body(app) -> bytes:
    """The request the page sends when every waypoint the map shows is selected: what
    dcc.Graph passes on from plotly's selection event (each point's scalar fields, its
    customdata and its hover text), with a long lasso path (5,000 vertices)."""
    client = app.server.test_client()
    figure = client.post(
        "/_dash-update-component",
        data=orjson.dumps(
            next(_with_range(base_payload(cb)) for cb in deps(client) if "map-chart.figure" in cb["output"])
        ),
        content_type="application/json",
    ).get_json()["response"]["map-chart"]["figure"]
    points = []
    for curve, trace in enumerate(figure["data"]):
        if not trace.get("customdata"):  # the drive path: lines, not selectable
            continue
        xs, ys = values(trace["x"]), values(trace["y"])
        colors = values(trace["marker"]["color"])
        for i, rmc in enumerate(trace["customdata"]):
            points.append(
                {
                    "curveNumber": curve,
                    "pointNumber": i,
                    "pointIndex": i,
                    "x": float(xs[i]),
                    "y": float(ys[i]),
                    "customdata": rmc,
                    "text": trace["text"][i],
                    "marker.color": int(colors[i]),
                }
            )
    lasso = {"x": [77.4 + i * 1e-7 for i in range(5000)], "y": [18.4 + i * 1e-7 for i in range(5000)]}
    # the map's selection callback (another writes selection.data too: a switch of rover clears it)
    selected = {"id": "map-chart", "property": "selectedData"}
    cb = next(cb for cb in deps(client) if cb["inputs"] and cb["inputs"][0] == selected)
    body = base_payload(cb)
    body["inputs"][0]["value"] = {"points": points, "lassoPoints": lasso}
    body["changedPropIds"] = ["map-chart.selectedData"]
    return orjson.dumps(body)


def _with_range(body: dict) -> dict:
    body["inputs"][0]["value"] = [0, 100000]
    body["changedPropIds"] = ["sol-range.value"]
    return body


def test_the_body_limit_is_sized_from_the_largest_real_selection(real_app, shared_data):
    client = real_app.server.test_client()
    body = largest_selection_body(real_app)
    n_points = len(orjson.loads(body)["inputs"][0]["value"]["points"])
    print(f"largest real selection: {n_points} waypoints, {len(body):,} bytes; limit {MAX_CALLBACK_BODY:,}")
    assert n_points >= 380  # every waypoint of NASA's data
    resp = client.post("/_dash-update-component", data=body, content_type="application/json")
    assert resp.status_code == 200, resp.data[:300]
    assert len(resp.get_json()["response"]["selection"]["data"]) == n_points
    # room to grow, far below the 4 MiB it was
    assert 3 * len(body) <= MAX_CALLBACK_BODY <= 1024 * 1024
    too_big = client.post(
        "/_dash-update-component", data=b" " * (MAX_CALLBACK_BODY + 1), content_type="application/json"
    )
    assert too_big.status_code == 413


@pytest.fixture
def client(client, loaded):
    """The shared test client, with the fixture files loaded."""
    return client


def post(client, body) -> tuple[int, dict | None]:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    resp = client.post("/_dash-update-component", data=data, content_type="application/json")
    assert b"Traceback" not in resp.data
    return resp.status_code, resp.get_json(silent=True)


def callback(client, output_has: str) -> dict:
    return base_payload(next(cb for cb in deps(client) if output_has in cb["output"]))


@pytest.mark.parametrize("depth", [40, 990, 1020])
def test_deep_nesting_in_a_value_is_a_400_not_a_recursion_error(client, depth, caplog):
    body = callback(client, "selection.data")
    raw = orjson.dumps(body).replace(b'"value":null', b'"value":' + b"[" * depth + b"]" * depth, 1)
    with caplog.at_level(logging.ERROR):
        status, answer = post(client, raw)
    assert status == 400 and ("nested more than" in answer["error"] or "not valid JSON" in answer["error"])
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("prop, output", [("clickData", "waypoint-details"), ("selectedData", "selection.data")])
@pytest.mark.parametrize(
    "value",
    ["a string", 7, [1, 2], True, {"points": "x"}, {"points": [1, "a"]}, {"points": [{"customdata": 5}], "range": []}],
)
def test_graph_events_that_are_not_objects_are_400s(client, prop, output, value):
    body = callback(client, output)
    body["inputs"][0]["value"] = value
    body["changedPropIds"] = [f"map-chart.{prop}"]
    status, answer = post(client, body)
    assert status == 400, answer
    assert prop in answer["error"]


def test_a_request_must_match_the_callback_it_names(client):
    good = callback(client, "orientation-chart.figure")
    good["inputs"][0]["value"] = [13, 15]
    good["changedPropIds"] = ["sol-range.value"]
    assert post(client, good)[0] == 200
    cases = {
        "extra input": {**good, "inputs": good["inputs"] + [{"id": "x", "property": "y", "value": 1}]},
        "foreign input": {
            **good,
            "inputs": [{"id": "load-button", "property": "n_clicks", "value": 1}] + good["inputs"][1:],
        },
        "bad changedPropIds": {**good, "changedPropIds": ['{"bad.value']},
        "outputs missing": {**good, "outputs": []},
        "outputs junk": {**good, "outputs": "zz"},
    }
    for name, body in cases.items():
        status, answer = post(client, body)
        assert status == 400, (name, answer)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
GRAPH_EVENT = st.fixed_dictionaries(
    {},
    optional={
        "points": st.lists(
            st.dictionaries(st.sampled_from(["customdata", "x", "pointNumber", "text"]), JSON, max_size=4) | JSON,
            max_size=4,
        )
        | JSON,
        "range": JSON,
        "lassoPoints": JSON,
    },
)
TRIED = {"bodies": 0, "by_status": {}}


def value_strategies(prop: str) -> list:
    """Values to try for a callback property: any JSON, plus the shapes the app expects."""
    choices = [JSON]
    if prop in ("clickData", "selectedData"):
        choices.append(GRAPH_EVENT)
    if prop in ("n_clicks", "n_intervals", "n_submit", "n_blur"):
        choices.append(st.integers(min_value=-5, max_value=10**12))
    if prop == "value":
        choices.append(
            st.lists(st.integers(-(10**8), 10**8) | st.floats(allow_nan=False, allow_infinity=False), max_size=3)
        )
        choices.append(st.sampled_from(["png", "svg", "pdf", "exe"]))
    if prop == "data":
        choices.append(st.lists(st.sampled_from(["3_110", "4_0", "made_up", "export-map-00"]), max_size=5))
        choices.append(st.integers(min_value=-5, max_value=10**12))  # the count of new versions
        number = st.none() | st.integers(-(10**8), 10**8) | st.floats(allow_nan=False, allow_infinity=False)
        choices.append(st.fixed_dictionaries({}, optional={"sol": number, "odometry_m": number, "x": JSON}))
    if prop in ("min", "max"):
        choices.append(st.integers(-(10**8), 10**8) | st.floats(allow_nan=False, allow_infinity=False))
    return choices


def prop_key(component_id) -> str:
    """A component id as Dash writes it in changedPropIds (a dict id as sorted JSON)."""
    if isinstance(component_id, str):
        return component_id
    return orjson.dumps(component_id, option=orjson.OPT_SORT_KEYS).decode()


@st.composite
def forged_bodies(draw, callbacks):
    cb = draw(st.sampled_from(callbacks))
    body = base_payload(cb)
    changed = []

    def fill(entry):
        if isinstance(entry, list):
            for item in entry:
                fill(item)
            return
        entry["value"] = draw(st.one_of(*value_strategies(entry["property"])))
        if draw(st.booleans()):
            changed.append(f"{prop_key(entry['id'])}.{entry['property']}")

    for entry in body["inputs"] + body["state"]:
        fill(entry)
    body["changedPropIds"] = changed
    mutation = draw(st.sampled_from(["none"] * 6 + ["drop-key", "junk-key", "deep", "raw"]))
    if mutation == "drop-key":
        body.pop(draw(st.sampled_from(sorted(body))))
    elif mutation == "junk-key":
        body[draw(st.sampled_from(sorted(body)))] = draw(JSON)
    elif mutation == "deep":
        depth = draw(st.integers(30, 1100))
        return orjson.dumps(body).replace(
            b'"changedPropIds":', b'"x":' + b"[" * depth + b"]" * depth + b',"changedPropIds":', 1
        )
    elif mutation == "raw":
        return draw(st.binary(max_size=200))
    return orjson.dumps(body)


def test_fuzz_the_callback_endpoint_no_5xx(client, caplog):
    callbacks = deps(client)
    started = time.monotonic()

    @hsettings(
        max_examples=1500,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    )
    @given(forged_bodies(callbacks))
    def one(body):
        resp = client.post("/_dash-update-component", data=body, content_type="application/json")
        TRIED["bodies"] += 1
        TRIED["by_status"][resp.status_code] = TRIED["by_status"].get(resp.status_code, 0) + 1
        assert resp.status_code < 500, (body[:500], resp.data[:300])
        assert b"Traceback" not in resp.data

    with caplog.at_level(logging.ERROR):
        one()
    elapsed = time.monotonic() - started
    print(f"fuzz: {TRIED['bodies']} bodies in {elapsed:.0f} s, statuses {TRIED['by_status']}")
    assert TRIED["bodies"] >= 1500
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert elapsed < 240
