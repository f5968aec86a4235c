"""Every REST route, success and error answers, with the Flask test client on a real Redis."""

from __future__ import annotations

import csv
import io
import re

import orjson
import pytest

from dashboard.app import create_app
from dashboard.data.load import load

EXPORT_ROUTES = [
    "/perseverance/orientation/yaw",
    "/perseverance/orientation/pitch",
    "/perseverance/orientation/roll",
    "/perseverance/position/longitude",
    "/perseverance/position/latitude",
    "/perseverance/position/map",
]


def is_json_error(resp, status, text=""):
    assert resp.status_code == status, resp.data[:300]
    assert resp.content_type == "application/json"
    body = resp.get_json()
    assert isinstance(body["error"], str) and text in body["error"], body
    assert b"Traceback" not in resp.data
    return body


def test_root_serves_the_page_to_browsers_and_help_to_curl(client):
    page = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 200 and b"<title>Perseverance Tracker</title>" in page.data
    assert "Accept" in page.vary  # one URL, two bodies: a shared cache must key on Accept
    for accept in ("*/*", None, "application/json"):
        resp = client.get("/", headers={"Accept": accept} if accept else {})
        assert resp.status_code == 200 and resp.content_type.startswith("text/plain")
        assert "Accept" in resp.vary
        assert b"POST  /perseverance/orientation/yaw" in resp.data
    assert client.get("/help").data == client.get("/", headers={"Accept": "*/*"}).data


def test_data_routes_without_data_say_to_load(client):
    for path in [
        "/perseverance",
        "/perseverance/sol",
        "/perseverance/orientation",
        "/perseverance/position",
        "/perseverance/waypoints.csv",
        "/perseverance/waypoints.geojson",
    ]:
        is_json_error(client.get(path), 503, "POST /load")
    for path in EXPORT_ROUTES:
        is_json_error(client.post(path, json={"start": 0, "end": 400}), 503, "POST /load")
    is_json_error(client.post("/jobs", json={"xkey": "sol", "ykey": "yaw"}), 503, "POST /load")
    # ready all the same: the pod can serve (the page offers loading), so it stays in the Service
    ready = client.get("/readyz")
    assert ready.status_code == 200
    none = {"perseverance": "none loaded", "curiosity": "none loaded"}
    checks = {"app": "ok", "redis": "ok", "dataset": "none loaded", "datasets": none}
    body = ready.get_json()
    assert body["checks"].pop("version_watch") in ("not started", "live")  # its thread may still be connecting
    assert body == {"status": "ready", "checks": checks}


def test_load(client, store, settings, fixture_path):
    resp = client.post("/load")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "loaded" and body["version"] == "1" and body["loaded_at"]
    assert body["waypoints"]["rows"] == 8 and (body["waypoints"]["sol_min"], body["waypoints"]["sol_max"]) == (13, 18)
    assert client.post("/load").get_json()["status"] == "unchanged"


def test_load_failure_is_502_and_keeps_the_dataset(store, settings, fixture_path, loaded):
    bad = create_app(settings.replace(waypoints_source=str(fixture_path("bad_html.html"))), store)
    body = is_json_error(bad.server.test_client().post("/load"), 502, "got an HTML page")
    assert body["current_version"] == "1" and body["detail"] == "the previous dataset stays current"
    assert store.current_version() == "1"


def test_perseverance_features(client, loaded):
    resp = client.get("/perseverance")
    assert resp.status_code == 200
    feats = orjson.loads(resp.data)
    assert len(feats) == 8
    first = feats[0]
    assert list(first) == ["type", "properties", "geometry"]
    assert (
        first["type"] == "Feature" and first["properties"]["sol"] == 13 and isinstance(first["properties"]["sol"], int)
    )
    assert first["geometry"]["coordinates"] == [77.45088572, 18.44462715, -2569.91]
    assert first["properties"]["sclk_start"] is None  # missing values as null
    assert feats[4]["properties"]["dist_m"] is None  # a mid-drive row
    assert len(orjson.loads(client.get("/perseverance?start=5").data)) == 3  # the original's "skip N"
    assert [f["properties"]["sol"] for f in orjson.loads(client.get("/perseverance?sol_min=16&sol_max=17").data)] == [
        16,
        16,
        17,
    ]
    is_json_error(client.get("/perseverance?start=-1"), 400, "start must be 0 or more")
    is_json_error(client.get("/perseverance?start=abc"), 400, "start must be a number")
    is_json_error(client.get("/perseverance?sol_min=20&sol_max=10"), 400, "reversed")


def test_sol(client, loaded):
    text = client.get("/perseverance/sol")
    assert text.status_code == 200 and text.data == b"Most recent data waypoint is at Sol-18"
    js = client.get("/perseverance/sol", headers={"Accept": "application/json"})
    assert js.get_json() == {"sol": 18, "earth_date": "2021-03-08"}


def test_orientation_and_position(client, loaded):
    rows = orjson.loads(client.get("/perseverance/orientation").data)
    assert len(rows) == 8 and list(rows[0]) == ["sol", "yaw_rad", "pitch", "roll"]
    assert rows[0]["sol"] == 13 and isinstance(rows[0]["yaw_rad"], float)
    pos = orjson.loads(client.get("/perseverance/position?sol_max=14").data)
    assert pos == [
        {"sol": 13, "lon": 77.45088572, "lat": 18.44462715},
        {"sol": 14, "lon": 77.45094675, "lat": 18.44454338},
    ]
    is_json_error(client.get("/perseverance/position?sol_min=1.5"), 400, "whole number")


def test_csv_and_geojson_downloads(client, loaded):
    resp = client.get("/perseverance/waypoints.csv?sol_min=14&sol_max=16")
    assert resp.status_code == 200 and resp.content_type.startswith("text/csv")
    assert resp.headers["Content-Disposition"] == 'attachment; filename="perseverance-waypoints-sols-14-16.csv"'
    rows = list(csv.DictReader(io.StringIO(resp.data.decode())))
    assert [r["rmc"] for r in rows] == ["3_110", "3_386", "4_0", "4_120"]
    geo = client.get("/perseverance/waypoints.geojson")
    doc = orjson.loads(geo.data)
    assert geo.content_type == "application/geo+json" and doc["type"] == "FeatureCollection"
    assert len(doc["features"]) == 8 and doc["dataset_version"] == "1"


@pytest.mark.parametrize("path", EXPORT_ROUTES)
def test_export_routes_queue_and_repeat(client, loaded, path):
    resp = client.post(path, json={"start": "0", "end": "400"})  # the original README's body
    assert resp.status_code == 202, resp.data
    body = resp.get_json()
    assert set(body) >= {"id", "status", "status_url", "download_url"}
    assert resp.headers["Location"] == body["status_url"] == f"/jobs/{body['id']}"
    assert body["download_url"] == f"/download/{body['id']}"
    assert body["params"]["sol_min"] == 13 and body["params"]["sol_max"] == 18  # narrowed to the data
    again = client.post(path, data=b'{"start": 0, "end": 400}', content_type="application/json")
    assert again.get_json()["id"] == body["id"]
    status = client.get(body["status_url"]).get_json()
    assert status["id"] == body["id"] and status["status"] == "queued"
    early = client.get(body["download_url"])
    assert early.status_code == 409 and early.get_json()["status"] == "queued"


def test_export_errors(client, loaded):
    yaw = "/perseverance/orientation/yaw"
    is_json_error(client.post(yaw, data=b"[1, 2]", content_type="application/json"), 400, "must be a JSON object")
    is_json_error(client.post(yaw, data=b"{nope", content_type="application/json"), 400, "not valid JSON")
    is_json_error(client.post(yaw, json={"start": "a", "end": 5}), 400, "start must be a number")
    is_json_error(client.post(yaw, json={"start": 300, "end": 20}), 400, "reversed")
    is_json_error(client.post(yaw, json={"start": 5000, "end": 6000}), 400, "outside the data")
    is_json_error(client.post(yaw, json={"format": "exe"}), 400, "unknown format 'exe'")
    is_json_error(client.post(yaw, json={"width": 100000}), 400, "width 100000 is out of bounds")
    is_json_error(client.post(yaw, json={"colour": "red"}), 400, "unknown field(s) colour")
    deep = b"[" * 5000 + b"]" * 5000
    is_json_error(client.post(yaw, data=deep, content_type="application/json"), 400, "not valid JSON")
    for levels in (40, 990, 1020):  # orjson reads up to 1,024 levels; pydantic's repr recursed (a 500)
        nested = b'{"start": ' + b"[" * levels + b"]" * levels + b', "end": 5}'
        is_json_error(client.post(yaw, data=nested, content_type="application/json"), 400, "nests deeper than 32")
    is_json_error(client.post(yaw, data=b"x" * 70000, content_type="application/json"), 413, "over")
    is_json_error(client.get(yaw), 405, "GET is not allowed")


def test_jobs_route(client, loaded):
    resp = client.post("/jobs", json={"type": "way", "xkey": "lon", "ykey": "yaw", "start": 0, "end": 400})
    assert resp.status_code == 202
    assert resp.get_json()["params"]["xkey"] == "lon"
    is_json_error(
        client.post("/jobs", json={"type": "rover", "xkey": "lon", "ykey": "yaw"}), 400, "unknown type 'rover'"
    )
    body = is_json_error(client.post("/jobs", json={"xkey": "lon", "ykey": "colour"}), 400, "unknown ykey 'colour'")
    assert "tilt" in body["error"]  # the allowed keys are listed
    is_json_error(client.post("/jobs", json={"ykey": "yaw"}), 400, "xkey is required")
    listed = client.get("/jobs/list").get_json()
    assert [j["id"] for j in listed] == [resp.get_json()["id"]]
    assert set(listed[0]) == {
        "id",
        "chart",
        "format",
        "sol_min",
        "sol_max",
        "status",
        "stage",
        "progress",
        "created_at",
        "ended_at",
        "error",
        "filename",
    }  # not other clients' full parameters


def test_job_and_download_ids_are_validated(client, loaded):
    for path in [
        "/jobs/nope",
        "/jobs/../../etc/passwd",
        "/download/export-map-zz",
        "/download/%2e%2e%2fsecret",
        "/jobs/export-map-0123456789abcdef0123",
    ]:
        is_json_error(client.get(path), 404, "no export")


def test_unknown_routes_and_methods(client, loaded):
    is_json_error(client.get("/nope"), 404, "no route /nope")
    is_json_error(client.get("/perseverance/nope"), 404, "no route /perseverance/nope")
    is_json_error(client.post("/perseverance"), 405, "POST is not allowed on /perseverance")
    is_json_error(client.get("/load"), 405, "use POST")
    is_json_error(client.delete("/jobs/list"), 405)
    assert client.get("/_dash-layout").status_code == 200  # Dash's own routes still work


def test_health(client, loaded):
    assert client.get("/healthz").get_json() == {"status": "ok", "checks": {"process": "ok"}}
    body = client.get("/readyz").get_json()
    assert body["checks"].pop("version_watch") in ("not started", "live")
    assert body == {
        "status": "ready",
        "checks": {
            "app": "ok",
            "redis": "ok",
            "dataset": "version 1",
            "datasets": {"perseverance": "version 1", "curiosity": "none loaded"},
        },
    }


def test_openapi_document_names_every_route(client, app):
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    documented = set(doc["paths"])
    rules = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule)  # Flask's <path:job_id> is OpenAPI's {job_id}
        for r in app.server.url_map.iter_rules()
        if (r.endpoint.startswith("api.") and "<path:rest>" not in r.rule) or r.endpoint == "metrics"
    }
    assert rules == documented
    # each route's document names only the methods it serves, and /help lists the same routes
    assert set(doc["paths"]["/perseverance"]) == {"get"} and set(doc["paths"]["/load"]) == {"post"}
    help_text = client.get("/help").data.decode()
    for path, operations in doc["paths"].items():
        for method in operations:
            assert f"{method.upper():<5} {path.replace('{job_id}', '<id>')} " in help_text, (method, path)


def test_current_route_and_sol_with_the_current_layer(client, store, settings, fixture_path):
    assert client.get("/perseverance/current").status_code == 503
    load(store, settings, current_source=str(fixture_path("current_v2026.json")))
    body = client.get("/perseverance/current").get_json()
    assert body["sol"] == 19 and body["earth_date"] == "2021-03-09" and body["layer"] == "current"
    assert body["rmc"] == "4_640" and body["lon"] == pytest.approx(77.4533) and body["lat"] == pytest.approx(18.4422)
    assert body["odometry_m"] == pytest.approx(140.5) and body["elev_geoid_m"] == pytest.approx(-2569.1)
    assert body["layers"]["waypoints"]["sol_max"] == 18 and body["layers"]["traverse"]["sol_max"] == 17
    assert body["layers"]["current"] == {
        "sol": 19,
        "status": "newer",
        "source": "local file current_v2026.json",  # never a server path
    }
    # the current position is served as the newest waypoint, marked as coming from its layer
    assert client.get("/perseverance/sol").data == b"Most recent data waypoint is at Sol-19"
    last = client.get("/perseverance").get_json()[-1]["properties"]
    assert last["sol"] == 19 and last["layer"] == "current"
    assert client.get("/perseverance").get_json()[0]["properties"]["layer"] == "waypoints"
    assert "/perseverance/current" in client.get("/help").get_data(as_text=True)
