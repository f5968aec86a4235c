"""The second rover, in pure code (no Redis): the registry and the sol calendars, the
settings of the rovers served and of Curiosity's sources, the placing of a traverse without
sols on the timeline, an export request's rover, and the API's twin routes (through the
Flask test client, on a store in memory: a rover not served answers 404 naming those served)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta

import orjson
import pandas as pd
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from dashboard.api.blueprint import endpoint_name, rover_of_endpoint, twins
from dashboard.app import create_app
from dashboard.data.legs import MATCH_METRES, place_legs, unplaced
from dashboard.data.megdr import BBox, tile_for, tile_read
from dashboard.data.store import Dataset
from dashboard.data.terrain import MARS_RADIUS_M
from dashboard.exports.errors import ExportError
from dashboard.exports.request import REPLAY, ExportRequest, validate
from dashboard.marstime import M20, MSL, SOL_SECONDS, SolCalendar
from dashboard.rovers import CURIOSITY, DEFAULT_ROVER, PERSEVERANCE, ROVERS, UnknownRover, rover
from dashboard.settings import (
    MOLA_MSL_TILE_URL,
    NASA_CURRENT_URL,
    NASA_MSL_CURRENT_URL,
    NASA_MSL_TRAVERSE_URL,
    NASA_MSL_WAYPOINTS_URL,
    NASA_TRAVERSE_URL,
    NASA_WAYPOINTS_URL,
    Settings,
    SettingsError,
)
from tests.unit.page_fixtures import small_dataset

MSL_SOL0 = datetime(2012, 8, 5, 13, 50, tzinfo=UTC)
M20_SOL0 = datetime(2021, 2, 18, 4, 24, 15, tzinfo=UTC)

# --- the calendars -------------------------------------------------------------------------


def test_each_rover_has_its_own_sol_calendar():
    assert M20.sol_start(0) == M20_SOL0 and M20.sol_date(0) == date(2021, 2, 18)  # Perseverance's, unchanged
    assert M20.sol_date(1840) == date(2026, 4, 23)
    assert MSL.sol_start(0) == MSL_SOL0 and MSL.sol_date(0) == date(2012, 8, 5)
    # the landings (UTC) fall in each mission's sol 0
    assert M20.sol_of(datetime(2021, 2, 18, 20, 55, tzinfo=UTC)) == 0
    assert MSL.sol_of(datetime(2012, 8, 6, 5, 17, 57, tzinfo=UTC)) == 0
    # Curiosity's last waypoint of NASA's file (sol 4469) and its current position (sol 4868)
    assert MSL.sol_date(4469) == (MSL_SOL0 + timedelta(seconds=4469 * 88_775.244)).date() == date(2025, 3, 2)
    assert MSL.sol_date(4868) == date(2026, 4, 16)
    assert MSL.sol_dates([0, 4469, 4868]).tolist() == ["2012-08-05", "2025-03-02", "2026-04-16"]
    assert MSL.sol_instants([4469, math.nan]) == [MSL.sol_start(4469).strftime("%Y-%m-%dT%H:%M:%S"), None]
    # the same sol length for both; one instant is a different sol of each mission
    assert (MSL.sol_start(101) - MSL.sol_start(100)).total_seconds() == pytest.approx(SOL_SECONDS)
    assert MSL.sol_at(MSL.sol_start(4469)) == pytest.approx(4469)
    assert MSL.sol_of(M20_SOL0) == math.floor((M20_SOL0 - MSL_SOL0).total_seconds() / 88_775.244) == 3035
    assert MSL.sol_date(1000) != M20.sol_date(1000)


def test_a_dataset_dates_its_sols_by_its_rovers_calendar():
    data = small_dataset()
    assert data.rover == DEFAULT_ROVER and data.calendar is M20
    curiosity = Dataset(
        version="1",
        meta={},
        waypoints=data.waypoints,
        traverse=data.traverse,
        traverse_points=data.traverse_points,
        rover="curiosity",
    )
    assert curiosity.calendar is MSL and curiosity.calendar.sol_date(18) == date(2012, 8, 24)


# --- the registry --------------------------------------------------------------------------


def test_the_registry():
    assert list(ROVERS) == ["perseverance", "curiosity"] and DEFAULT_ROVER == "perseverance"
    assert rover(None) is PERSEVERANCE and rover("perseverance") is PERSEVERANCE and rover("curiosity") is CURIOSITY
    with pytest.raises(UnknownRover, match="'opportunity'.*perseverance, curiosity"):
        rover("opportunity")
    assert isinstance(UnknownRover("x"), ValueError)
    assert (CURIOSITY.code, CURIOSITY.label, CURIOSITY.calendar, CURIOSITY.has_context) == (
        "MSL",
        "Curiosity",
        MSL,
        False,
    )
    assert (PERSEVERANCE.code, PERSEVERANCE.calendar, PERSEVERANCE.has_context) == ("M20", M20, True)
    assert isinstance(CURIOSITY.calendar, SolCalendar)
    assert CURIOSITY.url("waypoints") == "https://mars.nasa.gov/mmgis-maps/MSL/Layers/json/MSL_waypoints.json"
    assert PERSEVERANCE.url("traverse") == NASA_TRAVERSE_URL
    assert (PERSEVERANCE.env_prefix, CURIOSITY.env_prefix) == ("PTRACKER_", "PTRACKER_MSL_")


def test_keys_of_perseverance_stay_where_they_were_and_curiositys_live_apart():
    assert PERSEVERANCE.key_prefix("ptracker:") == "ptracker:"
    assert CURIOSITY.key_prefix("ptracker:") == "ptracker:curiosity:"
    assert CURIOSITY.key_prefix("ptest:abc:") == "ptest:abc:curiosity:"


def test_curiositys_terrain_crop_covers_gale_crater_and_lies_in_its_tile():
    west, south, east, north = CURIOSITY.terrain_bbox
    assert (east - west, north - south) == (2.0, 2.0)
    for lon, lat in ((137.441633, -4.589467), (137.3817063, -4.8142672)):  # Bradbury Landing, sol 4868
        assert west < lon < east and south < lat < north
    assert tile_for(137.44, -4.59).name == CURIOSITY.terrain_tile == "megt00n090hb.img"
    assert tile_read(BBox(*CURIOSITY.terrain_bbox), CURIOSITY.terrain_tile).tile.name == CURIOSITY.terrain_tile
    assert CURIOSITY.terrain_url.endswith("/meg128/megt00n090hb.img") and MOLA_MSL_TILE_URL == CURIOSITY.terrain_url
    assert tile_for(77.45, 18.44).name == PERSEVERANCE.terrain_tile


# --- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, served",
    [
        (None, ("perseverance", "curiosity")),
        ("", ("perseverance", "curiosity")),
        (" , ", ("perseverance", "curiosity")),
        ("curiosity", ("curiosity",)),
        ("curiosity,perseverance", ("curiosity", "perseverance")),  # order kept: the first is the page's default
        (" perseverance , Curiosity,perseverance,CURIOSITY ", ("perseverance", "curiosity")),  # each once
    ],
)
def test_the_rovers_served(raw, served):
    env = {} if raw is None else {"PTRACKER_ROVERS": raw}
    assert Settings.from_env(env).rovers == served


@pytest.mark.parametrize("raw", ["opportunity", "perseverance,opportunity", "curiosity;perseverance"])
def test_an_unknown_rover_is_refused_by_name(raw):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"PTRACKER_ROVERS": raw})
    bad = raw.split(",")[-1]
    assert "PTRACKER_ROVERS" in str(caught.value) and repr(bad) in str(caught.value)


def test_curiositys_sources_default_to_nasa_and_follow_their_own_variables():
    plain = Settings.from_env({})
    assert (plain.msl_waypoints_source, plain.msl_traverse_source) == (NASA_MSL_WAYPOINTS_URL, NASA_MSL_TRAVERSE_URL)
    assert (plain.msl_current_source, plain.msl_terrain_source) == (NASA_MSL_CURRENT_URL, MOLA_MSL_TILE_URL)
    assert NASA_MSL_CURRENT_URL.endswith("/MSL/Layers/json/MSL_waypoints_current.json")
    env = {
        "PTRACKER_MSL_WAYPOINTS_SOURCE": "/data/MSL_waypoints.json",
        "PTRACKER_MSL_TRAVERSE_SOURCE": "https://example.org/MSL_traverse.json",
        "PTRACKER_MSL_CURRENT_SOURCE": "OFF",
        "PTRACKER_MSL_TERRAIN_SOURCE": " none ",
    }
    set_ = Settings.from_env(env)
    assert set_.msl_waypoints_source == "/data/MSL_waypoints.json"
    assert set_.msl_traverse_source == "https://example.org/MSL_traverse.json"
    assert set_.msl_current_source is None and set_.msl_terrain_source is None
    # Perseverance's sources are not touched by Curiosity's variables, nor the other way round
    assert (set_.waypoints_source, set_.traverse_source, set_.current_source) == (
        NASA_WAYPOINTS_URL,
        NASA_TRAVERSE_URL,
        NASA_CURRENT_URL,
    )
    other = Settings.from_env({"PTRACKER_WAYPOINTS_SOURCE": "/data/M20.json", "PTRACKER_CURRENT_SOURCE": "off"})
    assert other.msl_waypoints_source == NASA_MSL_WAYPOINTS_URL and other.msl_current_source == NASA_MSL_CURRENT_URL


def test_for_rover_puts_a_rovers_sources_where_the_loader_reads_them():
    base = Settings(
        waypoints_source="m20_wp.json",
        traverse_source="m20_tr.json",
        current_source="m20_cur.json",
        heli_source="heli.json",
        samples_source="samples.json",
        terrain_source="megt44n000hb.img",
        msl_waypoints_source="msl_wp.json",
        msl_traverse_source="msl_tr.json",
        msl_current_source=None,
        msl_terrain_source="megt00n090hb.img",
        key_prefix="p:",
    )
    assert base.rover == "perseverance" and base.for_rover("perseverance") is base
    msl = base.for_rover("curiosity")
    assert msl.rover == "curiosity"
    assert (msl.waypoints_source, msl.traverse_source, msl.current_source, msl.terrain_source) == (
        "msl_wp.json",
        "msl_tr.json",
        None,
        "megt00n090hb.img",
    )
    assert msl.heli_source is None and msl.samples_source is None  # Ingenuity and the tubes are Perseverance's
    assert msl.key_prefix == "p:" and msl.rovers == base.rovers  # the rest is the same
    assert base.waypoints_source == "m20_wp.json" and base.heli_source == "heli.json"  # a copy: base unchanged
    with pytest.raises(SettingsError, match="'opportunity'"):
        base.for_rover("opportunity")


# --- placing a traverse without sols ------------------------------------------------------

#: metres a degree of latitude spans on Mars (the placing's own measure)
M_PER_DEG = math.radians(1.0) * MARS_RADIUS_M
LAT = -4.6


def north(metres: float) -> float:
    """The latitude ``metres`` north of LAT."""
    return LAT + metres / M_PER_DEG


def localizations(*rows) -> pd.DataFrame:
    """Waypoints as the placing reads them: (sol, rmc, lat) along one meridian."""
    return pd.DataFrame(
        {
            "sol": [r[0] for r in rows],
            "rmc": [r[1] for r in rows],
            "lon": [137.4] * len(rows),
            "lat": [r[2] for r in rows],
        }
    )


def legs(*vertices) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A traverse without sols (Curiosity's) and its vertices: one list of
    (part, lat) per leg, in the file's order."""
    frame = pd.DataFrame(
        {
            "seg": range(len(vertices)),
            "sol": pd.array([None] * len(vertices), dtype="Int64"),
            "to_rmc": [None] * len(vertices),
            "length_m": [10.0] * len(vertices),
        }
    )
    points = pd.DataFrame(
        [(seg, part, 137.4, lat) for seg, leg in enumerate(vertices) for part, lat in leg],
        columns=["seg", "part", "lon", "lat"],
    )
    return frame, points


WAYPOINTS = localizations((10, "1_0", north(0)), (12, "1_100", north(200)), (15, "1_200", north(400)))


def test_legs_are_matched_carried_or_left_unplaced():
    traverse, points = legs(
        [(0, north(-50)), (0, north(0))],  # ends at sol 10's waypoint: matched
        [(0, north(0)), (0, north(100))],  # ends 100 m from any: carried to the next matched leg (sol 12)
        [(0, north(100)), (0, north(150)), (1, north(150)), (1, north(203))],  # last part ends 3 m from sol 12's
        [(0, north(203)), (0, north(300)), (0, north(400.2))],  # ends 20 cm from sol 15's
        [(0, north(400.2)), (0, north(500))],  # after the last match: unplaced
        [(0, north(500)), (0, north(430))],  # 30 m from sol 15's: unplaced too
    )
    before = traverse.copy()
    placed, counts = place_legs(traverse, points, WAYPOINTS)
    assert counts == {"matched": 3, "carried": 1, "unplaced": 2}
    assert placed["sol"].tolist() == [10, 12, 12, 15, pd.NA, pd.NA]
    assert str(placed["sol"].dtype) == "Int64"
    assert placed["to_rmc"].tolist() == ["1_0", None, "1_100", "1_200", None, None]
    assert placed["seg"].tolist() == list(range(6)) and placed["length_m"].tolist() == [10.0] * 6
    pd.testing.assert_frame_equal(traverse, before)  # the input is not changed
    assert unplaced(traverse) and not unplaced(placed) and not unplaced(traverse.iloc[0:0])


def test_a_leg_ends_at_a_localization_within_25_metres():
    assert MATCH_METRES == 25.0
    traverse, points = legs([(0, north(-100)), (0, north(24))], [(0, north(24)), (0, north(400 - 26))])
    placed, counts = place_legs(traverse, points, WAYPOINTS)
    assert counts == {"matched": 1, "carried": 0, "unplaced": 1}
    assert placed["sol"].tolist() == [10, pd.NA] and placed["to_rmc"].tolist() == ["1_0", None]


def test_the_file_order_places_legs_not_the_sols():
    # NASA's file lists a later leg first now and then: each leg takes its own end's sol,
    # a carried leg the sol of the leg after it in the file
    traverse, points = legs(
        [(0, north(0)), (0, north(400))],
        [(0, north(400)), (0, north(300))],
        [(0, north(300)), (0, north(200))],
    )
    placed, counts = place_legs(traverse, points, WAYPOINTS)
    assert placed["sol"].tolist() == [15, 12, 12] and counts == {"matched": 2, "carried": 1, "unplaced": 0}


def test_the_current_position_places_legs_and_unusable_localizations_do_not():
    traverse, points = legs([(0, north(400)), (0, north(600))])
    alone, counts = place_legs(traverse, points, WAYPOINTS)
    assert counts["unplaced"] == 1 and alone["sol"].isna().all()
    current = localizations((19, "2_0", north(600)))
    merged = pd.concat([WAYPOINTS, current.assign(lat=[north(600.5)])], ignore_index=True)
    placed, counts = place_legs(traverse, points, merged)
    assert counts == {"matched": 1, "carried": 0, "unplaced": 0} and placed["to_rmc"].tolist() == ["2_0"]
    # a localization without a position or a sol places nothing
    blind = pd.concat([WAYPOINTS, current.assign(lat=[math.nan]), current.assign(sol=[math.nan])], ignore_index=True)
    assert place_legs(traverse, points, blind)[1] == {"matched": 0, "carried": 0, "unplaced": 1}
    # no localizations at all: every leg unplaced, none made up
    nothing, counts = place_legs(traverse, points, WAYPOINTS.iloc[0:0])
    assert counts == {"matched": 0, "carried": 0, "unplaced": 1} and nothing["sol"].isna().all()


# --- an export request's rover -------------------------------------------------------------


def old_job_id(request: ExportRequest, version: str) -> str:
    """A chart's job id as it was before the rover existed: the request without the replay's
    fields (and so without a rover), with the version, sorted, hashed."""
    fields = {k: v for k, v in asdict(request).items() if k not in ("frames", "fps", "rover")}
    digest = hashlib.sha256(orjson.dumps({"v": version, **fields}, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"export-{request.chart}-{digest[:20]}"


def test_perseverances_export_ids_are_unchanged_by_the_rover():
    plain = validate("xy", 13, 400, xkey="sol", ykey="yaw", bounds=(13, 18))
    named = validate("xy", 13, 400, xkey="sol", ykey="yaw", bounds=(13, 18), rover="perseverance")
    assert plain.rover is None and named.rover is None and plain == named
    assert "rover" not in plain.to_json() and "rover" not in plain.public()
    assert plain.job_id("7") == named.job_id("7") == old_job_id(plain, "7")
    assert plain.filename == "perseverance-yaw-vs-sol-sols-13-18.png"
    msl = validate("xy", 13, 400, xkey="sol", ykey="yaw", bounds=(13, 18), rover="curiosity")
    assert msl.rover == "curiosity" and msl.to_json()["rover"] == "curiosity" and msl.public()["rover"] == "curiosity"
    assert msl.job_id("7") != plain.job_id("7") and msl.job_id("7").startswith("export-xy-")
    assert msl.filename == "curiosity-yaw-vs-sol-sols-13-18.png"
    assert validate("orientation", 419, 453, rover="curiosity").filename == "curiosity-orientation-sols-419-453.png"
    replay = validate(REPLAY, 419, 453, frames=20, fps=10, rover="curiosity")
    assert replay.rover == "curiosity" and replay.filename == "curiosity-replay-sols-419-453.mp4"
    assert replay.job_id("1") != validate(REPLAY, 419, 453, frames=20, fps=10).job_id("1")


def test_a_stored_request_reads_back_with_its_rover_and_a_strange_rover_is_refused():
    msl = validate("map", 419, 453, "svg", 800, 600, rover="curiosity")
    assert ExportRequest.from_json(msl.to_json()) == msl
    plain = validate("map", 419, 453, "svg", 800, 600)
    assert ExportRequest.from_json(plain.to_json()) == plain and ExportRequest.from_json(plain.to_json()).rover is None
    with pytest.raises(ExportError, match="names no rover this release knows \\('opportunity'\\)"):
        ExportRequest.from_json({**msl.to_json(), "rover": "opportunity"})


# --- the API's twins -----------------------------------------------------------------------


def test_routes_under_perseverance_have_a_twin_per_rover():
    assert twins("/perseverance/sol") == [("perseverance", "/perseverance/sol"), ("curiosity", "/curiosity/sol")]
    assert twins("/perseverance") == [("perseverance", "/perseverance"), ("curiosity", "/curiosity")]
    for other in ("/rovers", "/load", "/perseverancex", "/jobs/<path:job_id>"):
        assert twins(other) == [(None, other)]
    assert endpoint_name("latest_sol", None) == endpoint_name("latest_sol", "perseverance") == "latest_sol"
    assert endpoint_name("latest_sol", "curiosity") == "latest_sol__curiosity"
    assert rover_of_endpoint("api.latest_sol__curiosity") == "curiosity"
    assert rover_of_endpoint("api.latest_sol") == "perseverance"
    assert rover_of_endpoint("api.healthz") is None and rover_of_endpoint(None) is None
    assert rover_of_endpoint("_dash-layout") is None


class MemoryStore:
    """Perseverance's store, its reading side in memory (the other rovers' stores the app
    makes on its client: a Redis nobody listens to)."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.redis = redis.Redis(port=1, socket_connect_timeout=0.2, socket_timeout=0.2, retry=Retry(NoBackoff(), 0))
        self.prefix = "test:"
        self.watch = None  # in memory: nothing for Redis to tell it

    def use_watch(self, watch):
        return self

    def current_version(self):
        return self.dataset.version

    def current(self):
        return self.dataset

    def last_load(self):
        return {"ok": True, "at": "2026-12-06T14:00:00Z"}


def app_client(**settings):
    store = MemoryStore(small_dataset())
    app = create_app(Settings(current_source=None, log_format="text", access_log=False, **settings), store)
    return app.server, app.server.test_client()


def test_every_perseverance_route_is_registered_for_curiosity_too():
    server, _ = app_client()
    rules = {(rule.rule, rule.endpoint) for rule in server.url_map.iter_rules()}
    mine = sorted(r for r in rules if r[0] == "/perseverance" or r[0].startswith("/perseverance/"))
    assert len(mine) >= 15
    for path, endpoint in mine:
        assert ("/curiosity" + path[len("/perseverance") :], f"{endpoint}__curiosity") in rules, path
    assert ("/curiosity/sol", "api.latest_sol__curiosity") in rules
    assert ("/curiosity/orientation/yaw", "api.export_yaw__curiosity") in rules
    # and every /curiosity rule is a twin of one of Perseverance's
    assert all(endpoint.endswith("__curiosity") for path, endpoint in rules if path.split("/")[1] == "curiosity")


NOT_SERVED = {"error": "rover 'curiosity' is not served here; this server serves: perseverance"}


def test_a_rover_not_served_answers_404_naming_the_rovers_served():
    _, client = app_client(rovers=("perseverance",))
    for method, path in [
        ("GET", "/curiosity"),
        ("GET", "/curiosity/sol"),
        ("GET", "/curiosity/current"),
        ("GET", "/curiosity/waypoints.csv"),
        ("GET", "/curiosity/orientation"),
        ("GET", "/curiosity/version"),
        ("GET", "/curiosity/changes"),
        ("GET", "/curiosity/feed.atom"),
        ("GET", "/curiosity/no-such-route"),
        ("POST", "/curiosity/orientation/yaw"),
        ("POST", "/curiosity/replay"),
        ("POST", "/load?rover=curiosity"),
    ]:
        resp = client.open(path, method=method, json={} if method == "POST" else None)
        assert resp.status_code == 404, (path, resp.data[:200])
        assert resp.content_type == "application/json" and resp.get_json() == NOT_SERVED, path
    # Perseverance's are served as before, and /rovers lists the rover served only
    assert client.get("/perseverance/sol").data == b"Most recent data waypoint is at Sol-18"
    listed = client.get("/rovers").get_json()
    assert [r["rover"] for r in listed] == ["perseverance"]
    assert listed[0]["sol"] == 18 and listed[0]["earth_date"] == "2021-03-08" and listed[0]["loaded"] is True
    # an unknown rover is a bad request, not a rover "not served"
    bad = client.post("/load?rover=opportunity")
    assert bad.status_code == 400 and "rover" in bad.get_json()["error"]


def test_perseverance_not_served_and_curiositys_store_of_its_own():
    _, client = app_client(rovers=("curiosity",))
    away = client.get("/perseverance/sol")
    assert away.status_code == 404
    assert away.get_json() == {"error": "rover 'perseverance' is not served here; this server serves: curiosity"}
    # Curiosity's twin reads Curiosity's store (here a Redis nobody listens to), never
    # Perseverance's dataset: 503 in words, not Perseverance's sol
    resp = client.get("/curiosity/sol")
    assert resp.status_code == 503 and "Sol-18" not in resp.get_data(as_text=True) and resp.get_json()["error"]
    doc = client.get("/openapi.json").get_json()
    assert {"/perseverance/sol", "/curiosity/sol", "/curiosity/current", "/rovers"} <= set(doc["paths"])
    assert "/curiosity/waypoints.csv" in client.get("/help").get_data(as_text=True)
