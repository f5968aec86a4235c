"""The load run's simulated visitors (bench/locustfile.py, through bench/dash_bodies.py) send what the page sends: their
slider callback is answered 200 by the app as it is now. (It once kept the callback's
inputs of an earlier release, and every one of them was refused 400 during a soak.)"""

from __future__ import annotations

import importlib.util
import json

from tests.helpers import ROOT


def bodies():
    spec = importlib.util.spec_from_file_location("ptracker_dash_bodies", ROOT / "bench" / "dash_bodies.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_load_runs_slider_callback_is_what_the_page_sends(client, loaded):
    bench = bodies()
    deps = client.get("/_dash-dependencies").get_json()
    layout = client.get("/_dash-layout").get_json()
    cb = next(d for d in deps if "orientation-chart.figure" in d["output"])
    body = bench.slider_body(cb, bench.initial_values(layout), [14, 17])
    resp = client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    answer = resp.get_json()["response"]
    figure = answer["orientation-chart"]["figure"]
    title = json.dumps(figure["layout"].get("title", ""))
    assert "14" in title and "17" in title
