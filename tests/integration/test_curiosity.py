"""The second rover, Curiosity, beside Perseverance on a real (private) Redis: its layers
loaded from the fixtures (tests/fixtures/msl_*.json, a stretch of NASA's files), its twin
routes, ``GET /rovers``, Perseverance's answers untouched by it, the two rovers' keys and
loads apart, the refresh job, the CLI, an export through a real worker; and NASA's real
files for it (``realdata``)."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import orjson
import pandas as pd
import pytest
from rq.job import Job

from dashboard.app import create_app
from dashboard.data.load import LoadBusy, LoadError, load, one_line
from dashboard.data.refresh import RefreshFailed, refresh
from dashboard.data.store import DatasetStore
from dashboard.data.timeline import traverse_by_sol
from dashboard.exports.queue import SERIALIZER
from dashboard.exports.request import ExportRequest
from dashboard.exports.status import status_of
from dashboard.figures import BUILDERS, View, build
from dashboard.marstime import MSL
from dashboard.rovers import CURIOSITY
from tests.helpers import FIXTURES, ROOT

MSL_WAYPOINTS, MSL_TRAVERSE, MSL_CURRENT = (FIXTURES / f"msl_{n}.json" for n in ("waypoints", "traverse", "current"))
#: what the fixtures hold: 12 waypoints (sols 419..440), the current position (sol 453), and
#: 15 legs of which 13 end at one of those, the first ends at an earlier waypoint (carried
#: to the next leg's sol) and the last at a later one (unplaced)
PLACED = {"matched": 13, "carried": 1, "unplaced": 1}
RMCS = ["19_0", "19_320", "19_1066", "20_0", "20_256", "20_764", "21_0", "21_646", "21_1028", "21_1362"]
RMCS += ["21_1572", "22_0", "22_484"]
SOL_453 = "2013-11-14"  # Curiosity's calendar; Perseverance's sol 453 began on 2022-05-29
ONE_LINE = (
    "loaded version 1: 12 waypoints (sols 419..440), 15 traverse segments (sols 419..453, placed from the "
    "waypoints), current position sol 453 (after the last waypoint), 0 features skipped"
)


def sources(settings, **changes):
    """``settings`` serving both rovers, Curiosity's layers from the fixtures (no terrain)."""
    fields = {
        "rovers": ("perseverance", "curiosity"),
        "msl_waypoints_source": str(MSL_WAYPOINTS),
        "msl_traverse_source": str(MSL_TRAVERSE),
        "msl_current_source": str(MSL_CURRENT),
        "msl_terrain_source": None,
    }
    return settings.replace(**(fields | changes))


@pytest.fixture
def both(settings):
    return sources(settings)


@pytest.fixture
def msl_store(redis_client, both) -> DatasetStore:
    """Curiosity's store beside the test's (Perseverance's) one."""
    return DatasetStore.of(redis_client, both, "curiosity")


@pytest.fixture
def web(both, store):
    """The app serving both rovers on the test's Redis and prefix; nothing loaded."""
    return create_app(both, store).server.test_client()


def own_keys(redis_client, prefix: str) -> dict[str, bytes]:
    """Perseverance's keys (the prefix's, without Curiosity's) and their values (DUMP)."""
    keys = [k.decode() for k in redis_client.scan_iter(match=f"{prefix}*", count=1000)]
    return {k: redis_client.dump(k) for k in sorted(keys) if not k.startswith(prefix + "curiosity:")}


# --- loading and serving Curiosity ---------------------------------------------------------


def test_curiosity_loads_from_its_own_sources_and_places_its_legs(web, msl_store, store):
    resp = web.post("/load?rover=curiosity")
    assert resp.status_code == 200, resp.data
    summary = resp.get_json()
    assert one_line(summary) == ONE_LINE
    assert summary["waypoints"] | {"source": None} == {
        "rows": 12,
        "sol_min": 419,
        "sol_max": 440,
        "skipped": 0,
        "source": None,
    }
    assert summary["waypoints"]["source"] == "local file msl_waypoints.json"
    assert summary["traverse"]["rows"] == 15 and summary["traverse"]["placed"] == PLACED
    assert (summary["traverse"]["sol_min"], summary["traverse"]["sol_max"]) == (419, 453)
    assert summary["current"]["sol"] == 453 and summary["current"]["status"] == "newer"
    assert (summary["ingenuity"]["status"], summary["samples"]["status"]) == ("off", "off")  # Perseverance's alone
    dataset = msl_store.current()
    assert dataset.rover == "curiosity" and dataset.calendar is MSL
    assert dataset.meta["layers"]["traverse"]["placed"] == PLACED
    legs = dataset.traverse
    assert legs["sol"].tolist()[:3] == [419, 419, 422] and legs["sol"].isna().tolist() == [False] * 14 + [True]
    ends = [None if pd.isna(r) else r for r in legs["to_rmc"]]  # where each leg ends (NA: at no localization)
    assert ends == [None, *RMCS, None]
    assert store.current() is None  # Perseverance's store was not written
    # the same sources again: nothing new
    assert web.post("/load?rover=curiosity").get_json()["status"] == "unchanged"


def test_curiositys_twin_routes(web, msl_store, both, loaded):
    load(msl_store, both.for_rover("curiosity"))
    assert web.get("/curiosity/sol").data == b"Most recent data waypoint is at Sol-453"
    assert web.get("/curiosity/sol", headers={"Accept": "application/json"}).get_json() == {
        "sol": 453,
        "earth_date": SOL_453,
    }
    assert MSL.sol_date(453).isoformat() == SOL_453
    now = web.get("/curiosity/current").get_json()
    assert (now["sol"], now["earth_date"], now["layer"], now["rmc"]) == (453, SOL_453, "current", "22_484")
    assert now["lon"] == pytest.approx(137.4146756) and now["lat"] == pytest.approx(-4.622509)
    assert now["odometry_m"] == pytest.approx(4229.7) and now["elev_geoid_m"] == pytest.approx(-4492.15)
    assert now["layers"]["waypoints"]["sol_max"] == 440 and now["layers"]["traverse"]["sol_max"] == 453
    assert now["sol_start_utc"].startswith(SOL_453)
    features = web.get("/curiosity").get_json()
    assert [f["properties"]["rmc"] for f in features] == RMCS
    assert features[0]["geometry"]["coordinates"] == [137.4207696, -4.6152139, -4497.884]
    assert features[-1]["properties"]["layer"] == "current" and features[0]["properties"]["layer"] == "waypoints"
    assert all(f["properties"]["final"] for f in features)  # NASA's drive_type "final", no `final` property
    geo = orjson.loads(web.get("/curiosity/waypoints.geojson").data)
    assert len(geo["features"]) == 13 and geo["dataset_version"] == "1"
    text = web.get("/curiosity/waypoints.csv?sol_min=430&sol_max=437")
    assert text.status_code == 200 and text.content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.get_data(as_text=True))))
    assert [(r["sol"], r["rmc"]) for r in rows] == [
        ("431", "20_764"),
        ("433", "21_0"),
        ("436", "21_646"),
        ("437", "21_1028"),
    ]
    assert rows[0]["dist_total_m"] == "3884.94"
    yaw = orjson.loads(web.get("/curiosity/orientation?sol_max=422").data)
    assert yaw == [
        {"sol": 419, "yaw_rad": pytest.approx(3.13582, abs=1e-4), "pitch": 1.32, "roll": -1.6},
        {"sol": 422, "yaw_rad": pytest.approx(3.12982, abs=1e-4), "pitch": 0.41, "roll": -1.34},
    ]
    assert orjson.loads(web.get("/curiosity/position?sol_min=453").data) == [
        {"sol": 453, "lon": 137.4146756, "lat": -4.62250916}
    ]
    version = web.get("/curiosity/version").get_json()
    assert (version["version"], version["sol"], version["error"]) == ("1", 453, None)
    changes = web.get("/curiosity/changes").get_json()
    assert len(changes) == 1 and changes[0]["newest"]["sol"] == 453 and changes[0]["newest"]["earth_date"] == SOL_453
    # Perseverance's routes answer from Perseverance's dataset, with its calendar
    assert web.get("/perseverance/sol", headers={"Accept": "application/json"}).get_json() == {
        "sol": 18,
        "earth_date": "2021-03-08",
    }
    assert len(web.get("/perseverance").get_json()) == 8


def test_rovers_lists_both_with_their_sols(web, msl_store, both, loaded):
    assert [r["loaded"] for r in web.get("/rovers").get_json()] == [True, False]
    load(msl_store, both.for_rover("curiosity"))
    perseverance, curiosity = web.get("/rovers").get_json()
    assert perseverance | {"loaded_at": None, "checked_at": None} == {
        "rover": "perseverance",
        "name": "Perseverance",
        "mission": "Mars 2020",
        "place": "Jezero crater",
        "routes": "/perseverance",
        "sol_epoch_utc": "2021-02-18T04:24:15Z",
        "loaded": True,
        "dataset_version": "1",
        "sol": 18,
        "earth_date": "2021-03-08",
        "lon": pytest.approx(77.4529, abs=1e-3),
        "lat": pytest.approx(18.4429, abs=1e-3),
        "odometry_m": pytest.approx(133.9),
        "loaded_at": None,
        "checked_at": None,
        "failing_since": None,
        "error": None,
    }
    assert (curiosity["rover"], curiosity["name"], curiosity["routes"]) == ("curiosity", "Curiosity", "/curiosity")
    assert (curiosity["sol"], curiosity["earth_date"], curiosity["loaded"]) == (453, SOL_453, True)
    assert curiosity["sol_epoch_utc"] == "2012-08-05T13:50:00Z" and curiosity["place"] == "Gale crater"
    assert curiosity["lon"] == pytest.approx(137.414676) and curiosity["odometry_m"] == pytest.approx(4229.7)
    assert curiosity["error"] is None and curiosity["loaded_at"] and curiosity["checked_at"]


def test_curiositys_figures_date_its_sols_by_its_calendar(msl_store, both):
    load(msl_store, both.for_rover("curiosity"))
    dataset = msl_store.current()
    for chart in BUILDERS:  # every chart draws a traverse with an unplaced leg
        assert build(chart, dataset, View.of(419, 453))["data"], chart
    figure = build("xy", dataset, View.of(419, 453), xkey="sol", ykey="yaw")
    assert figure["data"][0]["text"][:2] == ["Sol 419 · 2013-10-10", "Sol 422 · 2013-10-13"]
    dated = build("orientation", dataset, View.of(419, 453, time_axis="date"))
    assert dated["data"][0]["x"][:2] == [MSL.sol_start(419).strftime("%Y-%m-%dT%H:%M:%S"), "2013-10-13T04:15:52"]
    assert [t["x"] for t in dated["data"] if t["name"] == "current position"][0] == ["2013-11-14T00:43:05"]


# --- Perseverance untouched --------------------------------------------------------------

PERSEVERANCE_ANSWERS = [
    ("/perseverance", {}),
    ("/perseverance/sol", {}),
    ("/perseverance/sol", {"Accept": "application/json"}),
    ("/perseverance/waypoints.csv", {}),
    ("/perseverance/waypoints.geojson", {}),
    ("/perseverance/orientation?sol_max=16", {}),
    ("/perseverance/current", {}),
    ("/perseverance/version", {}),
]


def test_perseverances_answers_and_keys_are_unchanged_by_curiosity(web, loaded, redis_client, key_prefix):
    def answers():
        out = []
        for path, headers in PERSEVERANCE_ANSWERS:
            resp = web.get(path, headers=headers)
            assert resp.status_code == 200, path
            out.append((path, resp.data, resp.headers.get("ETag"), resp.headers.get("Last-Modified")))
        return out

    before, keys = answers(), own_keys(redis_client, key_prefix)
    assert sum(tag is not None for _, _, tag, _ in before) >= 6
    assert web.post("/load?rover=curiosity").status_code == 200
    assert web.get("/curiosity/sol").status_code == 200
    assert answers() == before  # byte for byte, ETag and Last-Modified too
    assert own_keys(redis_client, key_prefix) == keys  # not one of Perseverance's keys written
    for (path, headers), (_, _, tag, _) in zip(PERSEVERANCE_ANSWERS, before, strict=True):
        if tag is not None and path != "/perseverance/version":
            assert web.get(path, headers={**headers, "If-None-Match": tag}).status_code == 304, path
    curiosity_tag = web.get("/curiosity/sol").headers["ETag"]
    assert curiosity_tag not in {tag for _, _, tag, _ in before}


def test_the_rovers_keys_and_loads_are_apart(both, store, msl_store, redis_client, key_prefix):
    load(store, both)
    load(msl_store, both.for_rover("curiosity"))
    keys = sorted(k.decode() for k in redis_client.scan_iter(match=f"{key_prefix}*"))
    mine = [k for k in keys if k.startswith(key_prefix + "curiosity:")]
    assert msl_store.prefix == key_prefix + "curiosity:" and CURIOSITY.key_prefix(key_prefix) == msl_store.prefix
    assert f"{key_prefix}curiosity:dataset:current" in mine and f"{key_prefix}curiosity:load:last" in mine
    assert f"{key_prefix}dataset:current" in keys and f"{key_prefix}dataset:current" not in mine
    # each rover's versions count on their own
    assert (store.current_version(), msl_store.current_version()) == ("1", "1")
    assert store.current().rover == "perseverance" and msl_store.current().rover == "curiosity"
    # a load of one rover never waits for the other's
    lock = store.load_lock()
    assert lock.acquire()
    try:
        with pytest.raises(LoadBusy):
            load(store, both, force=True)
        assert load(msl_store, both.for_rover("curiosity"), force=True)["version"] == "2"
    finally:
        lock.release()
    assert store.current_version() == "1" and msl_store.versions() == ["1", "2"]


@pytest.mark.parametrize(
    "source, says",
    [
        (FIXTURES / "bad_html.html", "got an HTML page"),
        (FIXTURES / "no_such_msl_waypoints.json", "no_such_msl_waypoints.json"),
    ],
)
def test_a_broken_curiosity_source_fails_curiositys_load_only(settings, store, loaded, source, says):
    broken = sources(settings, msl_waypoints_source=str(source))
    web = create_app(broken, store).server.test_client()
    msl_store = DatasetStore.of(store.redis, broken, "curiosity")
    with pytest.raises(LoadError, match=says.replace(".", "\\.")):
        load(msl_store, broken.for_rover("curiosity"))
    resp = web.post("/load?rover=curiosity")
    assert resp.status_code == 502 and says in resp.get_json()["error"]
    assert resp.get_json()["detail"] == "no dataset is loaded" and resp.get_json()["current_version"] is None
    assert msl_store.current_version() is None and store.current_version() == "1"
    assert web.get("/perseverance/sol").data == b"Most recent data waypoint is at Sol-18"
    assert web.get("/curiosity/sol").status_code == 503
    perseverance, curiosity = web.get("/rovers").get_json()
    assert perseverance["loaded"] is True and perseverance["error"] is None and perseverance["sol"] == 18
    assert curiosity["loaded"] is False and curiosity["dataset_version"] is None
    assert says in curiosity["error"] and curiosity["checked_at"]
    # Perseverance loads on, unaffected
    assert web.post("/load", query_string={"rover": "perseverance"}).get_json()["status"] == "unchanged"


def test_a_curiosity_that_breaks_after_loading_keeps_its_data_and_says_why(settings, store, msl_store, both):
    load(msl_store, both.for_rover("curiosity"))
    broken = sources(settings, msl_traverse_source=str(FIXTURES / "bad_truncated.json"))
    web = create_app(broken, store).server.test_client()
    resp = web.post("/load?rover=curiosity")
    assert resp.status_code == 502 and resp.get_json()["current_version"] == "1"
    assert web.get("/curiosity/sol").data == b"Most recent data waypoint is at Sol-453"
    curiosity = web.get("/rovers").get_json()[1]
    assert curiosity["loaded"] is True and curiosity["sol"] == 453 and "msl_traverse" not in curiosity["error"]
    assert "bad_truncated.json" in curiosity["error"]
    assert web.get("/curiosity/version").get_json()["error"] == curiosity["error"]


# --- the refresh job ------------------------------------------------------------------------


def test_refresh_refreshes_each_rover_and_one_failing_stops_no_other(monkeypatch, redis_url, key_prefix, store):
    msl_store = DatasetStore(store.redis, key_prefix + "curiosity:", rover="curiosity")
    env = {
        "REDIS_URL": redis_url,
        "PTRACKER_KEY_PREFIX": key_prefix,
        "PTRACKER_ROVERS": "curiosity,perseverance",  # Curiosity first: its failure must not stop Perseverance
        "PTRACKER_WAYPOINTS_SOURCE": str(FIXTURES / "waypoints_v2024.json"),
        "PTRACKER_TRAVERSE_SOURCE": str(FIXTURES / "traverse_v2026.json"),
        "PTRACKER_CURRENT_SOURCE": "off",
        "PTRACKER_MSL_WAYPOINTS_SOURCE": str(MSL_WAYPOINTS),
        "PTRACKER_MSL_TRAVERSE_SOURCE": str(MSL_TRAVERSE),
        "PTRACKER_MSL_CURRENT_SOURCE": str(MSL_CURRENT),
        "PTRACKER_MSL_TERRAIN_SOURCE": "off",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    first = refresh()
    assert first["outcome"] == "loaded" and first["waypoints"]["sol_max"] == 18  # Perseverance's, though second
    assert {name: out["outcome"] for name, out in first["rovers"].items()} == {
        "curiosity": "loaded",
        "perseverance": "loaded",
    }
    assert first["rovers"]["curiosity"]["traverse"]["placed"] == PLACED
    assert refresh()["rovers"]["curiosity"]["outcome"] == "unchanged"
    # Curiosity's source breaks while Perseverance's current position appears
    monkeypatch.setenv("PTRACKER_MSL_WAYPOINTS_SOURCE", str(FIXTURES / "bad_html.html"))
    monkeypatch.setenv("PTRACKER_CURRENT_SOURCE", str(FIXTURES / "current_v2026.json"))
    with pytest.raises(RefreshFailed) as caught:
        refresh()
    message = str(caught.value)
    assert message.startswith("curiosity: refresh failed (failing since ") and "got an HTML page" in message
    assert "perseverance" not in message
    assert store.current_version() == "2" and store.current().waypoints["sol"].max() == 19  # refreshed all the same
    assert msl_store.current_version() == "1"  # Curiosity's data kept
    record = msl_store.last_load()
    assert record["ok"] is False and record["failing_since"] and "HTML" in record["error"]
    assert store.last_load()["ok"] is True
    # a rover not served is not refreshed
    monkeypatch.setenv("PTRACKER_ROVERS", "perseverance")
    only = refresh()
    assert list(only["rovers"]) == ["perseverance"] and only["outcome"] == "unchanged"
    assert msl_store.last_load() == record


# --- the CLI ---------------------------------------------------------------------------------


def cli(args, redis_url, key_prefix, **env):
    full_env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "PTRACKER_KEY_PREFIX": key_prefix,
        "PTRACKER_MSL_WAYPOINTS_SOURCE": str(MSL_WAYPOINTS),
        "PTRACKER_MSL_TRAVERSE_SOURCE": str(MSL_TRAVERSE),
        "PTRACKER_MSL_CURRENT_SOURCE": str(MSL_CURRENT),
        "PTRACKER_MSL_TERRAIN_SOURCE": "off",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60
    )


def test_cli_loads_and_tells_of_curiosity(redis_url, key_prefix, redis_client, store):
    res = cli(["load", "--rover", "curiosity"], redis_url, key_prefix)
    assert res.returncode == 0, res.stderr
    assert res.stdout == ONE_LINE + "\n"
    info = cli(["info", "--rover", "curiosity", "--json"], redis_url, key_prefix)
    assert info.returncode == 0, info.stderr
    summary = orjson.loads(info.stdout)
    assert summary["status"] == "current" and summary["version"] == "1"
    assert summary["traverse"]["placed"] == PLACED and summary["current"]["sol"] == 453
    assert redis_client.get(f"{key_prefix}curiosity:dataset:current") == b"1"
    assert store.current_version() is None  # Perseverance's untouched
    nothing = cli(["info"], redis_url, key_prefix)
    assert nothing.returncode == 1 and nothing.stderr == "no dataset loaded yet: run 'python -m dashboard load'\n"


# --- an export of a Curiosity chart, through a real worker ------------------------------------


def test_a_curiosity_chart_exports_end_to_end(web, msl_store, both, loaded, start_worker, redis_client):
    start_worker()
    load(msl_store, both.for_rover("curiosity"))
    # Curiosity at version 2, Perseverance at 1: a worker reading the wrong rover's store fails
    assert load(msl_store, both.for_rover("curiosity"), force=True)["version"] == "2"
    queued = web.post("/curiosity/orientation/yaw", json={"width": 500, "height": 320})
    assert queued.status_code == 202, queued.data
    job = queued.get_json()
    assert job["params"]["rover"] == "curiosity" and (job["params"]["sol_min"], job["params"]["sol_max"]) == (419, 453)
    same = web.post("/perseverance/orientation/yaw", json={"width": 500, "height": 320}).get_json()
    assert same["id"] != job["id"] and "rover" not in same["params"]
    end = time.monotonic() + 90
    while (status_of(redis_client, job["id"]) or {}).get("status") not in ("finished", "failed"):
        assert time.monotonic() < end, status_of(redis_client, job["id"])
        time.sleep(0.2)
    assert status_of(redis_client, job["id"])["status"] == "finished", status_of(redis_client, job["id"])
    resp = web.get(job["download_url"])
    assert resp.status_code == 200 and resp.content_type == "image/png"
    assert resp.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="curiosity-yaw-vs-sol-sols-419-453.png"'
    done = Job.fetch(job["id"], connection=redis_client, serializer=SERIALIZER)
    assert ExportRequest.from_json(done.kwargs["request"]).rover == "curiosity" and done.kwargs["version"] == "2"
    assert done.return_value()["dataset_version"] == "2"
    assert done.return_value()["filename"] == "curiosity-yaw-vs-sol-sols-419-453.png"


# --- answers that name their rover -----------------------------------------------------------------


def test_curiositys_waypoint_files_are_named_after_curiosity(web, msl_store, both):
    load(msl_store, both.for_rover("curiosity"))
    text = web.get("/curiosity/waypoints.csv")
    assert text.headers["Content-Disposition"] == 'attachment; filename="curiosity-waypoints-sols-419-453.csv"'
    assert orjson.loads(web.get("/curiosity/waypoints.geojson").data)["name"] == "curiosity_waypoints"


def test_curiositys_feed_names_itself(web, msl_store, both, loaded):
    load(msl_store, both.for_rover("curiosity"))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    feeds = {}
    for name in ("perseverance", "curiosity"):
        resp = web.get(f"/{name}/feed.atom")
        assert resp.status_code == 200
        feeds[name] = ET.fromstring(resp.data)
    curiosity = feeds["curiosity"]
    assert "Sol 453" in curiosity.find("a:entry/a:title", ns).text  # Curiosity's change, Curiosity's data
    self_link = curiosity.find("a:link[@rel='self']", ns).get("href")
    assert self_link == "http://localhost/curiosity/feed.atom"
    assert curiosity.find("a:id", ns).text != feeds["perseverance"].find("a:id", ns).text


def test_a_rover_not_served_never_answers_304(both, store, msl_store):
    load(msl_store, both.for_rover("curiosity"))  # e.g. by `python -m dashboard load --rover curiosity`
    served = create_app(both, store).server.test_client()
    tag = served.get("/curiosity/sol").headers["ETag"]
    alone = create_app(both.replace(rovers=("perseverance",)), store).server.test_client()
    assert alone.get("/curiosity/sol").status_code == 404
    later = datetime(2100, 1, 1, tzinfo=UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert alone.get("/curiosity/sol", headers={"If-Modified-Since": later}).status_code == 404
    assert alone.get("/curiosity/sol", headers={"If-None-Match": tag}).status_code == 404


# --- NASA's real files ------------------------------------------------------------------------


@pytest.mark.realdata
def test_curiositys_real_files(settings, store, shared_data):
    if not (shared_data / "MSL_traverse.json").exists():
        pytest.skip("Curiosity's files are not in the shared data")
    real = settings.replace(
        msl_waypoints_source=str(shared_data / "MSL_waypoints.json"),
        msl_traverse_source=str(shared_data / "MSL_traverse.json"),
        msl_current_source=str(shared_data / "MSL_waypoints_current.json"),
        msl_terrain_source=str(shared_data / "MSL_mola128_gale.img"),
        max_bytes=20 * 1024 * 1024,
    )
    msl_store = DatasetStore.of(store.redis, real, "curiosity")
    summary = load(msl_store, real.for_rover("curiosity"))
    assert (summary["waypoints"]["rows"], summary["waypoints"]["sol_min"], summary["waypoints"]["sol_max"]) == (
        1227,
        3,
        4469,
    )
    assert summary["waypoints"]["skipped"] == 0 and summary["current"]["sol"] == 4868
    traverse = summary["traverse"]
    assert traverse["rows"] == 1273 and traverse["skipped"] == 0
    # every leg placed: NASA's traverse runs past the last waypoint to the current position
    assert traverse["placed"] == {"matched": 1163, "carried": 110, "unplaced": 0}
    assert (traverse["sol_min"], traverse["sol_max"]) == (329, 4868)
    dataset = msl_store.current()
    layer = dataset.waypoint_layer
    last = layer[layer["sol"] == 4469].iloc[-1]
    assert last["rmc"] == "113_2670" and last["dist_total_m"] == pytest.approx(34_298, abs=1)
    assert dataset.calendar.sol_date(4469).year == 2025 and dataset.calendar.sol_date(4469).isoformat() == "2025-03-02"
    # the placed legs' lengths add up to the odometry (NASA's two measures agree within 1.5 %)
    by_sol = traverse_by_sol(dataset.traverse, dataset.traverse_points).set_index("sol")["total_m"]
    assert by_sol[4469] == pytest.approx(34_298, rel=0.015) and by_sol[4868] == pytest.approx(37_170.6, rel=0.015)
    # Curiosity's crop covers its whole drive
    west, south, east, north = CURIOSITY.terrain_bbox
    assert dataset.waypoints["lon"].between(west, east).all() and dataset.waypoints["lat"].between(south, north).all()
    # the crop's sidecar names a tile that does not hold it: refused, the layer missing, saying why
    terrain = dataset.meta["layers"]["terrain"]
    assert terrain["status"] == "missing" and dataset.terrain is None
    assert "megt44s090hb.img" in terrain["error"] and "lies outside the tile" in terrain["error"]
    assert terrain["error"].startswith("local file MSL_mola128_gale.img: ")
    web = create_app(real, store).server.test_client()
    assert web.get("/curiosity/sol").data == b"Most recent data waypoint is at Sol-4868"
    now = web.get("/curiosity/current").get_json()
    assert (now["sol"], now["earth_date"], now["rmc"]) == (4868, "2026-04-16", "122_0")
    assert now["odometry_m"] == pytest.approx(37_170.6)
    assert now["layers"]["terrain"]["status"] == "missing" and "megt44s090hb.img" in now["layers"]["terrain"]["problem"]
    features = orjson.loads(web.get("/curiosity?sol_min=4469&sol_max=4469").data)
    assert [f["properties"]["dist_total_m"] for f in features] == [pytest.approx(34_298.4)]


#: Perseverance's answers on NASA's files (all six layers) as the release before Curiosity
#: served them (commit a31b04b): the first 16 hex digits of each body's sha256 and of its
#: ETag. Following a second rover changed none of them, nor an export's job id.
BEFORE_CURIOSITY = {
    "/perseverance": ("7a10df3af3d158ac", '"v1-2def37f6'),
    "/perseverance?sol_min=100&sol_max=400": ("acbaea482c26aba3", '"v1-bde35777'),
    "/perseverance/sol": ("bf9e6ba636e04c5b", '"v1-ad636ac9'),
    "/perseverance/orientation": ("46f7216c4e24ee05", '"v1-6c4f5ce4'),
    "/perseverance/position?sol_min=5&sol_max=900": ("00e1bbdd7112d913", '"v1-45bde167'),
    "/perseverance/waypoints.csv": ("820a16d9d46420ed", '"v1-e7aea13a'),
    "/perseverance/waypoints.geojson": ("0938259bd265cc92", '"v1-4a4041a1'),
    "/ingenuity/flights": ("10fbeb79777d68e8", '"v1-49668a20'),
    "/ingenuity/flights.csv": ("87efeac78a3c1e79", '"v1-83651f8d'),
    "/perseverance/samples": ("18db3e62c70ea904", '"v1-56df7328'),
    "/perseverance/samples.geojson": ("6d2c8f0268007eb5", '"v1-bf4ab246'),
    "/terrain": ("0c4b30cfef700179", '"v1-158ebae7'),
}
EXPORT_ID_BEFORE = "export-xy-61be86fa336cc2e08744"


@pytest.mark.realdata
def test_perseverances_answers_are_the_ones_served_before_curiosity(settings, store, shared_data):
    real = settings.replace(
        waypoints_source=str(shared_data / "M20_waypoints.json"),
        traverse_source=str(shared_data / "M20_traverse.json"),
        current_source=str(shared_data / "M20_waypoints_current.json"),
        heli_source=str(shared_data / "m20_heli_waypoints.json"),
        samples_source=str(shared_data / "M20_SAMPLE_v3.json"),
        terrain_source=str(shared_data / "M20_mola128_jezero.img"),
        max_bytes=20 * 1024 * 1024,
    )
    load(store, real)
    web = create_app(real, store).server.test_client()
    got = {}
    for route in BEFORE_CURIOSITY:
        resp = web.get(route)
        got[route] = (hashlib.sha256(resp.data).hexdigest()[:16], resp.headers.get("ETag", "")[:12])
    assert got == BEFORE_CURIOSITY
    assert web.get("/perseverance/waypoints.csv").headers["Content-Disposition"] == (
        'attachment; filename="perseverance-waypoints-sols-13-1840.csv"'
    )
    assert web.get("/perseverance/sol", headers={"Accept": "application/json"}).json == {
        "sol": 1840,
        "earth_date": "2026-04-23",
    }
    answer = web.post("/perseverance/orientation/yaw", json={"start": 0, "end": 400})
    assert answer.status_code == 202 and answer.json["id"] == EXPORT_ID_BEFORE


def test_a_field_against_another_of_curiosity_and_unknown_rovers_in_words(web, msl_store, both, store):
    load(msl_store, both.for_rover("curiosity"))
    body = {"type": "way", "xkey": "lon", "ykey": "yaw", "start": 0, "end": 9999}
    queued = web.post("/jobs", json={**body, "rover": "curiosity"})
    assert queued.status_code == 202 and queued.json["params"]["rover"] == "curiosity"
    assert (queued.json["params"]["sol_min"], queued.json["params"]["sol_max"]) == (419, 453)  # Curiosity's sols
    for answer in (web.post("/jobs", json={**body, "rover": "mars"}), web.post("/load?rover=mars")):
        assert answer.status_code == 400
        assert answer.json == {"error": "unknown rover 'mars'; the rovers are perseverance, curiosity"}
    alone = create_app(both.replace(rovers=("perseverance",)), store).server.test_client()
    refused = alone.post("/jobs", json={**body, "rover": "curiosity"})
    assert refused.status_code == 404 and "this server serves: perseverance" in refused.json["error"]


# --- what the review of the change found ---------------------------------------------------------


def test_each_rovers_terrain_is_served_under_its_own_name(web, msl_store, both, loaded):
    """Curiosity's relief is at /curiosity/terrain/<fp>.png (its figures point there);
    Perseverance's stays at /terrain/<fp>.png, as it always was."""
    tiny = str(FIXTURES / "terrain_tiny.img")
    load(msl_store, both.replace(msl_terrain_source=tiny).for_rover("curiosity"))
    info = web.get("/curiosity/terrain")
    assert info.status_code == 200
    url = info.json["image"]["url"]
    assert url.startswith("/curiosity/terrain/") and url.endswith(".png")
    png = web.get(url)
    assert png.status_code == 200 and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert web.get("/terrain" + url.removeprefix("/curiosity/terrain")).status_code == 404  # not Perseverance's
    regional = build("map", msl_store.current(), View.of(0, 9999))
    assert [image["source"] for image in regional["layout"]["images"]] == [url]
    # Perseverance has none loaded here: its routes say so, in Perseverance's words
    assert web.get("/terrain").status_code == 404 and web.get("/perseverance/terrain").status_code == 404


def test_curiosity_alone_serves_no_perseverance_context(both, store, msl_store):
    load(store, both)
    load(msl_store, both.for_rover("curiosity"))
    alone = create_app(both.replace(rovers=("curiosity",)), store).server.test_client()
    for path in ("/terrain", "/ingenuity/flights", "/ingenuity/flights.csv", "/perseverance/sol"):
        answer = alone.get(path)
        assert answer.status_code == 404 and "this server serves: curiosity" in answer.json["error"], path
    assert alone.get("/curiosity/samples").json["error"] == "Curiosity has no sample tubes layer"
    ready = alone.get("/readyz").json["checks"]
    assert ready["dataset"] == "version 1" and ready["datasets"] == {"curiosity": "version 1"}
    # a request that names no rover is for the one served
    body = {"type": "way", "xkey": "lon", "ykey": "yaw"}
    assert alone.post("/jobs", json=body).json["params"]["rover"] == "curiosity"


def test_metrics_and_readiness_name_each_rover(web, msl_store, both, loaded):
    load(msl_store, both.for_rover("curiosity"))
    text = web.get("/metrics").get_data(as_text=True)
    assert 'ptracker_dataset_version{rover="perseverance"} 1.0' in text
    assert 'ptracker_dataset_version{rover="curiosity"} 1.0' in text
    assert 'ptracker_dataset_waypoints{rover="curiosity"} 12.0' in text
    assert 'ptracker_newest_sol_age_seconds{rover="curiosity"}' in text
    assert web.get("/readyz").json["checks"]["datasets"] == {"perseverance": "version 1", "curiosity": "version 1"}


def test_a_rover_whose_refresh_raises_stops_no_other(monkeypatch, redis_url, key_prefix, store):
    """Not only a failed load: anything a rover's refresh raises is said, and the next rover
    is refreshed all the same."""
    import dashboard.data.refresh as refresh_module

    real = refresh_module.run_refresh

    def broken_for_curiosity(rover_store, settings):
        if settings.rover == "curiosity":
            raise RuntimeError("a bug in Curiosity's parser")
        return real(rover_store, settings)

    monkeypatch.setattr(refresh_module, "run_refresh", broken_for_curiosity)
    for name, value in {
        "REDIS_URL": redis_url,
        "PTRACKER_KEY_PREFIX": key_prefix,
        "PTRACKER_ROVERS": "curiosity,perseverance",
        "PTRACKER_WAYPOINTS_SOURCE": str(FIXTURES / "waypoints_v2024.json"),
        "PTRACKER_TRAVERSE_SOURCE": str(FIXTURES / "traverse_v2026.json"),
        "PTRACKER_CURRENT_SOURCE": "off",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(RefreshFailed, match="curiosity: RuntimeError: a bug in Curiosity's parser"):
        refresh()
    assert store.current_version() == "1"  # Perseverance refreshed
