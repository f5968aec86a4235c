"""Export job data and the API's smaller holes, each attack performed for real:
a pickled job written into Redis by hand is never unpickled (web or worker); a job whose
dataset version was dropped fails saying so; files over the size cap fail; the byte
budgets evict the oldest; IPv6 clients count by /64 and each client has a share of the
queue; cross-site form posts, junk query parameters, formula cells, HEAD, and a Redis
that is out of memory."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
from rq import Queue
from rq.serializers import DefaultSerializer

from dashboard.api import serialize
from dashboard.app import create_app
from dashboard.data.load import load
from dashboard.exports.budget import Budgets
from dashboard.exports.queue import QUEUE_NAME, UNREADABLE, fetch_job, file_key, queue
from dashboard.exports.request import selection_names, validate
from dashboard.exports.status import status_of
from tests.helpers import FIXTURES, queue_export

pytestmark = pytest.mark.faults


@pytest.fixture
def client(client, loaded):
    """The shared test client, with the fixture files loaded."""
    return client


def wait_status(redis_client, job_id, wanted=("finished", "failed", "unreadable"), timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        info = status_of(redis_client, job_id)
        if info and info["status"] in wanted:
            return info
        time.sleep(0.2)
    pytest.fail(f"{job_id} not done: {status_of(redis_client, job_id)}")


class Touch:
    """Unpickling this creates a file: proof that pickle ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def test_a_pickled_job_is_refused_by_the_web_and_never_run_by_the_worker(
    redis_client, store, loaded, client, start_worker, tmp_path
):
    marker = tmp_path / "pwned"
    job_id = "export-map-" + "ab" * 10
    # what an old (or forged) job looks like: RQ's default serializer is pickle
    Queue(QUEUE_NAME, connection=redis_client, serializer=DefaultSerializer).enqueue(
        "jobs.export_job.export_chart", args=(Touch(marker),), job_id=job_id, meta={"chart": Touch(marker)}
    )
    redis_client.zadd(f"{store.prefix}export:recent:127.0.0.1", {job_id: time.time()})  # the test client's
    assert b"\x80" in redis_client.hget(f"rq:job:{job_id}", "meta")  # a pickle, as written
    status = client.get(f"/jobs/{job_id}")
    assert status.status_code == 422 and "not JSON" in status.get_json()["error"]
    listed = client.get("/jobs/list").get_json()
    assert [(j["id"], j["status"]) for j in listed] == [(job_id, "unreadable")]
    assert listed[0]["error"] == UNREADABLE
    assert client.get(f"/download/{job_id}").status_code == 409
    start_worker()
    end = time.monotonic() + 30
    while redis_client.hget(f"rq:job:{job_id}", "status") != b"failed":
        assert time.monotonic() < end, redis_client.hgetall(f"rq:job:{job_id}")
        time.sleep(0.2)
    assert not marker.exists()  # never unpickled, by the web or the worker
    assert client.get(f"/jobs/{job_id}").status_code == 422
    # the worker goes on with real work
    fine = queue_export(store, loaded.version, validate("position", 13, 18, "png", 400, 320))
    assert wait_status(redis_client, fine.id)["status"] == "finished"
    assert not marker.exists()


def test_job_data_and_results_are_json(redis_client, store, loaded, start_worker):
    start_worker()
    names = selection_names(loaded.waypoints)
    req = validate("distance", 13, 18, "png", 400, 320, selection=names[:3], names=names)
    job = queue_export(store, loaded.version, req)
    assert wait_status(redis_client, job.id)["status"] == "finished"
    raw = redis_client.hgetall(f"rq:job:{job.id}")
    import zlib

    data = json.loads(zlib.decompress(raw[b"data"]))  # the job's function and arguments
    assert data[0] == "dashboard.exports.job.export_chart" and data[3]["request"] == req.to_json()
    assert data[3]["request"]["selection"] == req.selection and data[3]["version"] == loaded.version
    meta = json.loads(raw[b"meta"])
    assert meta["params"]["selected"] == 3 and "selection" not in meta["params"]
    result = fetch_job(redis_client, job.id).latest_result()
    assert result.return_value["bytes"] > 0  # metadata; the file is its own key
    assert redis_client.ttl(file_key(store.prefix, job.id)) > 0


def test_a_job_on_a_dropped_dataset_version_fails_saying_so(redis_client, store, loaded, start_worker):
    start_worker()
    job = queue_export(store, "999", validate("position", 13, 18, "png", 400, 320))
    info = wait_status(redis_client, job.id)
    assert info["status"] == "failed"
    assert info["error"] == (
        "dataset version 999 that this export was asked on has been replaced and dropped "
        f"(the current one is {loaded.version}): export it again"
    )
    assert info["retries_left"] == 0  # not retried: it could only fail again


def test_an_export_over_the_byte_cap_fails_with_the_reason(redis_client, store, loaded, start_worker):
    start_worker(PTRACKER_EXPORT_MAX_BYTES="2000")  # the thinned vector map of the fixtures is ~20 KB
    job = queue_export(store, loaded.version, validate("map", 13, 18, "svg", 2000, 1500, 2))
    info = wait_status(redis_client, job.id)
    assert info["status"] == "failed" and "over the limit of 0.0 MB for one export" in info["error"], info
    assert redis_client.get(file_key(store.prefix, job.id)) is None


def test_byte_budgets_evict_the_oldest_per_client_and_in_total(redis_client, store, loaded):
    p = store.prefix
    for i in range(3):  # client a: 3 x 400 of a 1,000 budget: its oldest goes
        redis_client.set(file_key(p, f"a{i}"), b"x")
        assert Budgets(redis_client, p, 2000, 1000).charge(f"a{i}", 400, "a", 3600) == ([] if i < 2 else ["a0"])
    Budgets(redis_client, p, 0, 0).evict(["a0"])
    assert redis_client.get(file_key(p, "a0")) is None
    assert Budgets(redis_client, p, 0, 0).usage() == 800
    # client b: its own oldest goes when it is over its budget
    assert Budgets(redis_client, p, 2000, 1000).charge("b0", 900, "b", 3600) == []
    assert Budgets(redis_client, p, 2000, 1000).charge("b1", 900, "b", 3600) == ["b0"]
    assert Budgets(redis_client, p, 0, 0).usage() == 800 + 900
    # client c pushes the total over: anyone's oldest goes
    assert Budgets(redis_client, p, 2000, 1000).charge("c0", 500, "c", 3600) == ["a1"]
    assert Budgets(redis_client, p, 0, 0).usage() == 400 + 900 + 500 <= 2000
    # expired entries are forgotten (not evicted: they are gone already)
    assert Budgets(redis_client, p, 2000, 1000).charge("d0", 100, "d", -1) == []
    assert Budgets(redis_client, p, 2000, 1000).charge("d1", 100, "d", 3600) == []
    assert Budgets(redis_client, p, 0, 0).usage() == 400 + 900 + 500 + 100


def test_ipv6_clients_count_by_their_64_and_each_has_a_share_of_the_queue(store, settings, loaded):
    client = create_app(settings.replace(export_rate=5, queue_client_max=2, proxy_count=1), store).server.test_client()

    def export(ip: str, end: int) -> int:
        return client.post(
            "/perseverance/orientation/pitch", json={"start": 13, "end": end}, headers={"X-Forwarded-For": ip}
        ).status_code

    # one /64, five addresses: one client, its share (2 waiting) then 429
    codes = [export(f"2001:db8:7:7::{i}", 14 + i) for i in range(1, 5)]
    assert codes == [202, 202, 429, 429]
    share = client.post(
        "/perseverance/orientation/pitch",
        json={"start": 13, "end": 18},
        headers={"X-Forwarded-For": "2001:db8:7:7::99"},
    )
    assert "at most 2 at a time" in share.get_json()["error"] and share.headers["Retry-After"] == "10"
    assert export("2001:db8:7:8::1", 14) == 202  # the next /64 is another client
    assert export("198.51.100.3", 15) == 202
    # the moving window: 5 a minute for one client, whatever the share
    rate = create_app(settings.replace(export_rate=2, queue_client_max=10), store).server.test_client()
    got = [
        rate.post(
            "/perseverance/position/latitude", json={"start": 13, "end": 14 + i}, environ_base={"REMOTE_ADDR": "::1"}
        ).status_code
        for i in range(3)
    ]
    assert got == [202, 202, 429]


def test_export_posts_need_json(client, redis_client):
    for content_type, body in [
        ("text/plain", '{"start": 13, "end": 18}'),
        ("application/x-www-form-urlencoded", "start=13&end=18"),
        ("multipart/form-data; boundary=x", "--x--"),
    ]:
        resp = client.post("/perseverance/position/map", data=body, content_type=content_type)
        assert resp.status_code == 415 and "application/json" in resp.get_json()["error"], content_type
    assert client.post("/jobs", data="{}", content_type="text/plain").status_code == 415
    assert queue(redis_client).count == 0


def test_junk_query_parameters_are_400s_and_cannot_defeat_the_cache(client, store, monkeypatch):
    built: list[str] = []
    for name in ("features", "columns_json", "csv_bytes", "geojson_bytes"):  # count what is serialised
        real = getattr(serialize, name)
        monkeypatch.setattr(serialize, name, lambda *a, _real=real, _name=name: built.append(_name) or _real(*a))
    for path in (
        "/perseverance",
        "/perseverance/position",
        "/perseverance/orientation",
        "/perseverance/waypoints.csv",
        "/perseverance/waypoints.geojson",
        "/perseverance/sol",
        "/jobs/list",
    ):
        resp = client.get(path + "?cachebust=1")
        assert resp.status_code == 400 and "unknown query parameter(s) cachebust" in resp.get_json()["error"], path
    # the same rows, spelled differently, are one cache entry; CSV and GeoJSON are cached
    for path in (
        "/perseverance/position",
        "/perseverance/waypoints.csv",
        "/perseverance/waypoints.geojson",
        "/perseverance",
    ):
        first = client.get(path).data
        before = len(built)
        bodies = {
            first,
            *(
                client.get(path + q).data
                for q in ("?sol_min=0", "?sol_min=13.0&sol_max=18", "?sol_max=99999", "?sol_min=-5&sol_max=1e6")
            ),
        }
        assert len(bodies) == 1 and len(built) == before, path  # built once, answered five times


def test_csv_text_cells_cannot_run_as_formulas(store, settings, tmp_path):
    doc = json.loads((FIXTURES / "waypoints_v2024.json").read_text())
    notes = ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)", "plain -text"]
    for feature, note in zip(doc["features"], notes, strict=False):
        feature["properties"]["note"] = note
    source = tmp_path / "waypoints.json"
    source.write_text(json.dumps(doc))
    load(store, settings.replace(waypoints_source=str(source)))
    client = create_app(settings, store).server.test_client()
    rows = list(csv.DictReader(io.StringIO(client.get("/perseverance/waypoints.csv").data.decode())))
    got = [r["note"] for r in rows[:5]]
    assert got == ['\'=HYPERLINK("http://x","y")', "'+1+2", "'-2+3", "'@SUM(A1)", "plain -text"]
    assert any(r["lon"].startswith("-") or r["pitch"].startswith("-") or r["roll"].startswith("-") for r in rows)
    assert not any(v.startswith("'") for r in rows for k, v in r.items() if k != "note")  # numbers untouched


def test_head_answers_every_get_route_like_get_without_a_body(client, app_routes=None):
    for path in (
        "/help",
        "/healthz",
        "/readyz",
        "/perseverance",
        "/perseverance/sol",
        "/perseverance/orientation",
        "/perseverance/position",
        "/perseverance/waypoints.csv",
        "/perseverance/waypoints.geojson",
        "/jobs/list",
        "/openapi.json",
        "/jobs/export-map-0123456789abcdef0123",
    ):
        get, head = client.get(path), client.head(path)
        assert head.status_code == get.status_code, path
        assert head.content_type == get.content_type and head.data == b"", path
    assert client.head("/load").status_code == 405


def test_redis_out_of_memory_is_said_as_such(client, redis_client, store, loaded):
    config = redis_client.config_get("maxmemory*")
    try:
        redis_client.config_set("maxmemory-policy", "noeviction")
        redis_client.config_set("maxmemory", 1024 * 1024)  # far below what is in use: writes fail
        resp = client.post("/load")
        assert resp.status_code == 503 and "out of memory" in resp.get_json()["error"]
        assert resp.headers["Retry-After"] == "60"
        export = client.post("/perseverance/position/map", json={})
        assert export.status_code == 503 and "out of memory" in export.get_json()["error"]
        assert client.get("/perseverance/sol").status_code == 200  # reading still works
    finally:
        redis_client.config_set("maxmemory", config["maxmemory"])
        redis_client.config_set("maxmemory-policy", config["maxmemory-policy"])
    assert store.current().version == loaded.version


def test_jobs_list_is_per_client_and_costs_a_few_round_trips(client, redis_client, store, loaded):
    """/jobs/list shows the asking client its own exports only, and reads them in one pipeline
    (it used to list every client's, with three or four commands and round trips per export)."""

    def commands() -> int:  # not INFO (this count's own) nor PING (the key watch's heartbeat, 50 a second)
        stats = redis_client.info("commandstats")
        return sum(v["calls"] for k, v in stats.items() if k not in ("cmdstat_info", "cmdstat_ping"))

    mine = [
        client.post("/perseverance/orientation/yaw", json={"start": 13, "end": 13 + i % 6, "width": 300 + i}).get_json()
        for i in range(8)  # within one client's share of the queue (10)
    ]
    theirs = client.post(
        "/perseverance/position/map", json={"start": 13, "end": 18}, environ_base={"REMOTE_ADDR": "203.0.113.7"}
    ).get_json()
    before = commands()
    listed = client.get("/jobs/list").get_json()
    used = commands() - before
    assert sorted(j["id"] for j in listed) == sorted(j["id"] for j in mine)
    assert theirs["id"] not in {j["id"] for j in listed}
    assert used <= len(mine) + 3, f"{used} Redis commands for {len(mine)} listed exports"  # one HGETALL each, pipelined
    other = client.get("/jobs/list", environ_base={"REMOTE_ADDR": "203.0.113.7"}).get_json()
    assert [j["id"] for j in other] == [theirs["id"]]


def test_byte_budgets_take_the_clock_from_redis_not_from_the_worker(redis_client, store, monkeypatch):
    """Finding 7: a worker whose clock is two hours ahead must not expire (and so stop
    counting) every other client's export that is still kept."""
    p = store.prefix
    budgets = Budgets(redis_client, p, 10_000, 10_000)
    assert budgets.charge("x0", 1000, "x", 3600, body=b"x" * 10) == []
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 7200)
    assert budgets.charge("y0", 500, "y", 3600, body=b"y" * 10) == []
    monkeypatch.undo()
    assert budgets.usage() == 1500


def test_a_charged_export_always_has_its_file_and_a_killed_worker_leaves_no_orphans(redis_client, store):
    """Finding 7: charging and storing the file are one step; an eviction a worker could not
    finish (killed after the charge, before deleting the evicted files) is finished by the
    next charge."""
    p = store.prefix
    budgets = Budgets(redis_client, p, 10_000, 1000)
    assert budgets.charge("k0", 600, "k", 3600, body=b"first") == []
    assert redis_client.get(file_key(p, "k0")) == b"first"
    assert 0 < redis_client.ttl(file_key(p, "k0")) <= 3600
    # the worker is "killed" right after this charge: it never calls evict(["k0"])
    assert budgets.charge("k1", 600, "k", 3600, body=b"second") == ["k0"]
    assert redis_client.get(file_key(p, "k0")) == b"first"
    assert budgets.charge("z0", 10, "z", 3600, body=b"z") == []  # anyone's next charge cleans up
    assert redis_client.get(file_key(p, "k0")) is None
    assert redis_client.get(file_key(p, "k1")) == b"second"
    assert budgets.usage() == 610
