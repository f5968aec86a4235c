"""The scheduled refresh in one process, against a real Redis and a local HTTP server in
NASA's place (tests/upstream.py): the clock's JSON enqueue, the refresh's outcomes and
the load record's ``failing_since``, and the changes' routes (JSON and Atom) with their
validators. The Procfile's processes doing it all for real: test_refresh_processes.py."""

from __future__ import annotations

import json
import shutil
import time
import xml.etree.ElementTree as ET
import zlib

import pytest
import redis
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from rq.cron import CronJob

from dashboard.data import changes
from dashboard.data.load import LoadError, load
from dashboard.data.refresh import QUEUE_NAME, RefreshFailed, queue, run_refresh
from dashboard.data.store import DatasetStore
from dashboard.marstime import sol_start
from jobs.clock import RefreshClock, refresh_job
from tests.helpers import FIXTURES, free_port
from tests.upstream import Upstream

ATOM = "{http://www.w3.org/2005/Atom}"
FILES = {"waypoints": "waypoints_v2024.json", "traverse": "traverse_v2026.json", "current": "current_v2026.json"}


def refreshes(outcome: str) -> float:
    return REGISTRY.get_sample_value("ptracker_refresh_total", {"outcome": outcome}) or 0.0


@pytest.fixture
def upstream(tmp_path):
    folder = tmp_path / "nasa"
    folder.mkdir()
    for name in FILES.values():
        shutil.copyfile(FIXTURES / name, folder / name)
    with Upstream(folder, hang_seconds=3) as up:
        yield up


@pytest.fixture
def remote(settings, upstream):
    """The settings with the three layers served by ``upstream``."""
    return settings.replace(
        waypoints_source=upstream.url(FILES["waypoints"]),
        traverse_source=upstream.url(FILES["traverse"]),
        current_source=upstream.url(FILES["current"]),
        read_timeout=1.0,
        fetch_deadline=2.0,
    )


def newer_current(sol: int = 20) -> bytes:
    body = json.loads((FIXTURES / FILES["current"]).read_text())
    props = body["features"][0]["properties"]
    props.update(sol=sol, RMC="4_700", drive=700, lon=77.4541, lat=18.4417, dist_total_m=170.5, elev_geoid=-2567.3)
    body["features"][0]["geometry"]["coordinates"] = [77.4541, 18.4417, -2567.3]
    return json.dumps(body).encode()


# --- the clock's enqueue ----------------------------------------------------------------------


def test_the_clock_queues_the_refresh_as_json_never_pickle(redis_client, settings):
    clock = RefreshClock(redis_client, settings.replace(refresh_seconds=900))
    cron = clock.add(refresh_job(settings.replace(refresh_seconds=900)))
    assert [j.name for j in clock.enqueue_jobs()] == [cron.name]
    jobs = queue(redis_client).get_jobs()
    assert len(jobs) == 1
    raw = redis_client.hget(f"rq:job:{jobs[0].id}", "data")
    assert json.loads(zlib.decompress(raw)) == ["dashboard.data.refresh.refresh", None, [], {}]
    job = jobs[0]
    assert (job.origin, job.timeout, job.ttl) == (QUEUE_NAME, cron.job_options["job_timeout"], 900)
    # RQ's own bookkeeping, as its CronJob.enqueue does it
    assert cron.get_job_ids(redis_client) == [job.id]
    assert redis_client.zscore("rq:cron_jobs", cron.name) is not None
    # not due again before the interval; a restarted clock starts from the last enqueue
    cron.set_enqueue_time(job.enqueued_at)
    assert clock.enqueue_jobs() == []
    again = refresh_job(settings.replace(refresh_seconds=900))
    assert again.should_run()
    again.resume(redis_client)
    assert not again.should_run()


def test_rqs_own_cron_job_would_have_pickled_it(redis_client):
    """What the JSON queue is for: RQ 3.0's CronJob.enqueue writes pickle."""
    job = CronJob(QUEUE_NAME, func=time.time, interval=60).enqueue(redis_client)
    assert zlib.decompress(redis_client.hget(f"rq:job:{job.id}", "data"))[:1] == b"\x80"  # a pickle


def test_a_clock_outlives_a_redis_outage(settings):
    gone = redis.Redis(port=free_port(), socket_timeout=0.5, socket_connect_timeout=0.5)
    clock = RefreshClock(gone, settings)
    clock.add(refresh_job(settings.replace(refresh_seconds=60)))
    assert clock.enqueue_jobs() == []  # logged, tried again on the next tick
    clock.heartbeat()
    assert clock.get_jobs()[0].should_run()


# --- the refresh's outcomes -------------------------------------------------------------------


def test_unchanged_layers_cost_conditional_requests_only(store, remote, upstream):
    before = refreshes("unchanged")
    assert run_refresh(store, remote)["outcome"] == "loaded"
    assert upstream.stats["bodies"] == 3
    upstream.reset()
    for _ in range(3):
        outcome = run_refresh(store, remote)
        assert outcome["outcome"] == "unchanged" and outcome["version"] == "1"
    assert upstream.stats["requests"] == upstream.stats["not_modified"] == 9
    assert upstream.stats["bodies"] == upstream.stats["body_bytes"] == 0
    assert store.versions() == ["1"]
    assert refreshes("unchanged") == before + 3


def test_a_newer_file_is_a_new_version_and_one_change(store, remote, upstream):
    run_refresh(store, remote)
    upstream.put(FILES["current"], newer_current(20))
    upstream.reset()
    outcome = run_refresh(store, remote)
    assert outcome["outcome"] == "loaded" and outcome["version"] == "2"
    assert upstream.stats["bodies"] == 1  # only the changed layer's body
    listed = changes.recent_changes(store)
    assert [c["version"] for c in listed] == ["2", "1"]
    assert listed[0]["newest"]["sol"] == 20 and listed[0]["layers_changed"] == ["current"]
    assert listed[0]["distance_m"] == pytest.approx(170.5 - 140.5)  # since the previous current position


def test_a_refresh_while_a_load_runs_is_skipped_not_failed(store, remote, upstream):
    before = refreshes("busy")
    lock = store.load_lock()
    assert lock.acquire()
    try:
        assert run_refresh(store, remote)["outcome"] == "busy"
    finally:
        lock.release()
    assert upstream.stats["requests"] == 0 and store.last_load() is None
    assert refreshes("busy") == before + 1


@pytest.mark.parametrize("fault", ["500", "hang", "html", "empty"])
def test_failures_keep_the_data_and_say_since_when(store, remote, upstream, fault):
    run_refresh(store, remote)
    kept = store.meta()
    failed = refreshes("failed")
    upstream.fault[FILES["waypoints"]] = fault
    with pytest.raises(RefreshFailed) as first:
        run_refresh(store, remote)
    record = store.last_load()
    assert record["ok"] is False and record["failing_since"] == record["at"]
    assert record["failing_since"] in str(first.value)
    time.sleep(1.1)  # the next failure's time differs (records are to the second)
    with pytest.raises(RefreshFailed):
        run_refresh(store, remote)
    again = store.last_load()
    assert again["at"] != record["at"] and again["failing_since"] == record["failing_since"]
    assert store.meta() == kept and store.versions() == ["1"]
    assert refreshes("failed") == failed + 2
    del upstream.fault[FILES["waypoints"]]
    assert run_refresh(store, remote)["outcome"] == "unchanged"
    assert "failing_since" not in store.last_load() and store.last_load()["ok"] is True


def test_a_failure_after_a_failed_manual_load_dates_from_that_one(store, remote, upstream):
    run_refresh(store, remote)
    upstream.fault[FILES["traverse"]] = "500"
    with pytest.raises(LoadError):
        load(store, remote)  # as `python -m dashboard load` would: no failing_since of its own
    manual = store.last_load()
    time.sleep(1.1)
    with pytest.raises(RefreshFailed):
        run_refresh(store, remote)
    assert store.last_load()["failing_since"] == manual["at"]


def test_the_list_keeps_the_newest(store, remote, upstream, monkeypatch):
    monkeypatch.setattr(changes, "KEEP_CHANGES", 2)
    run_refresh(store, remote)
    for sol in (20, 21):
        upstream.put(FILES["current"], newer_current(sol))
        run_refresh(store, remote)
    assert [c["newest"]["sol"] for c in changes.recent_changes(store)] == [21, 20]


# --- the routes -------------------------------------------------------------------------------


def test_changes_and_feed_routes_with_validators(client, store, remote, upstream):
    assert client.get("/perseverance/changes").status_code == 503  # nothing loaded yet
    run_refresh(store, remote)
    first = client.get("/perseverance/changes")
    assert first.status_code == 200 and [c["first"] for c in first.get_json()] == [True]
    feed = client.get("/perseverance/feed.atom", base_url="https://tracker.example")
    assert feed.status_code == 200 and feed.mimetype == "application/atom+xml"
    entries = ET.fromstring(feed.data).findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}link").get("href") for e in entries] == ["https://tracker.example/?sol_min=13&sol_max=19"]
    for path, resp in (("/perseverance/changes", first), ("/perseverance/feed.atom", feed)):
        etag = resp.headers["ETag"]
        assert resp.headers["Last-Modified"] and "max-age" in resp.headers["Cache-Control"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
    upstream.put(FILES["current"], newer_current(20))
    run_refresh(store, remote)
    newer = client.get("/perseverance/feed.atom", headers={"If-None-Match": feed.headers["ETag"]})
    assert newer.status_code == 200 and newer.headers["ETag"] != feed.headers["ETag"]
    titles = [e.findtext(f"{ATOM}title") for e in ET.fromstring(newer.data).findall(f"{ATOM}entry")]
    assert titles[0].startswith("Sol 20: drove 30 m, now at 77.4541° E, 18.4417° N") and len(titles) == 2
    assert [c["version"] for c in client.get("/perseverance/changes?limit=1").get_json()] == ["2"]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "limit=2&sol=3"])
def test_changes_refuse_bad_queries_in_words(client, store, remote, query):
    run_refresh(store, remote)
    resp = client.get(f"/perseverance/changes?{query}")
    assert resp.status_code == 400 and resp.get_json()["error"]


def test_a_version_whose_change_is_being_recorded_is_not_served(client, store, remote, redis_client):
    run_refresh(store, remote)
    redis_client.set(store.key("changes", "version"), "0")  # as between the version switch and the record
    for path in ("/perseverance/changes", "/perseverance/feed.atom"):
        resp = client.get(path)
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "1" and "ETag" not in resp.headers
    assert changes.pending(store, store.current(), when=time.time() + changes.PENDING_GRACE + 1) is False


def test_the_document_describes_both_routes(client):
    doc = client.get("/openapi.json").get_json()
    paths, schemas = doc["paths"], doc["components"]["schemas"]
    listing = paths["/perseverance/changes"]["get"]
    assert [p["name"] for p in listing["parameters"]] == ["limit"]
    ref = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert schemas[ref.rsplit("/", 1)[-1]]["type"] == "array"
    assert {"newest", "distance_m", "data_changed_at"} <= set(schemas["Change"]["properties"])
    feed = paths["/perseverance/feed.atom"]["get"]["responses"]
    assert "application/atom+xml" in feed["200"]["content"] and "304" in feed
    assert "/perseverance/feed.atom" in client.get("/help").get_data(as_text=True)


def test_another_store_prefix_sees_no_changes(redis_client, store, remote, key_prefix):
    run_refresh(store, remote)
    other = DatasetStore(redis_client, key_prefix + "other:")
    assert changes.recent_changes(other) == [] and len(changes.recent_changes(store)) == 1


def test_metrics_say_how_old_the_newest_sol_is(client, store, remote):
    run_refresh(store, remote)  # the current position: sol 19
    text = client.get("/metrics").get_data(as_text=True)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    age = families["ptracker_newest_sol_age_seconds"].samples[0].value
    assert age == pytest.approx(time.time() - sol_start(19).timestamp(), abs=5)
    outcomes = {s.labels["outcome"] for s in families["ptracker_refresh"].samples if s.name.endswith("_total")}
    assert outcomes == {"loaded", "unchanged", "failed", "busy"}  # every series, from the start
