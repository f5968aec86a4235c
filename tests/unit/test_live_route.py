"""``/perseverance/version`` through the Flask test client, on a store in memory: 200 with
a strong ETag, then 304 without decoding the dataset; a changed load record or version
gives a new ETag; the page links the feed in its head."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from dashboard.api.live_routes import load_state, version_etag
from dashboard.app import create_app
from dashboard.settings import Settings
from tests.unit.page_fixtures import dataset_with_current, small_dataset

PATH = "/perseverance/version"
FAILED = {"ok": False, "at": "2026-12-06T14:10:00Z", "failing_since": "2026-12-05T14:02:00Z", "error": "HTTP 500"}


class MemoryStore:
    """The store's reading side, in memory, counting the reads the route makes."""

    def __init__(self, dataset=None, record=None):
        self.dataset, self.record, self.down = dataset, record, False
        self.decodes = 0
        # a client nothing listens to (the export and metrics code paths are not used)
        self.redis = redis.Redis(port=1, socket_connect_timeout=0.2, socket_timeout=0.2, retry=Retry(NoBackoff(), 0))
        self.prefix = "test:"
        self.watch = None  # in memory: nothing for Redis to tell it

    def use_watch(self, watch):
        return self

    def _check(self):
        if self.down:
            raise redis.ConnectionError("refused")

    def current_version(self):
        self._check()
        return self.dataset.version if self.dataset is not None else None

    def current(self):
        self._check()
        self.decodes += 1
        return self.dataset

    def last_load(self):
        self._check()
        return self.record


def client_of(store):
    return create_app(Settings(current_source=None, log_format="text", access_log=False), store).server.test_client()


def test_200_with_a_strong_etag_then_304_without_decoding():
    store = MemoryStore(small_dataset(), {"ok": True, "at": "2026-12-06T14:00:00Z"})
    client = client_of(store)
    first = client.get(PATH)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "no-cache"
    tag = first.headers["ETag"]
    assert tag.startswith('"live-3-') and not tag.startswith("W/")
    assert first.get_json() == {
        "version": "3",
        "sol": 18,
        "odometry_m": 133.9,
        "loaded_at": "2026-11-29T03:00:00Z",
        "checked_at": "2026-12-06T14:00:00Z",
        "failing_since": None,
        "error": None,
    }
    decodes = store.decodes
    for header in (tag, f"W/{tag}", f'"other", {tag[:-1]}:gzip"'):
        again = client.get(PATH, headers={"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.data == b"" and again.headers["Cache-Control"] == "no-cache" and again.headers["ETag"]
    assert store.decodes == decodes  # a 304 never decodes the dataset
    assert client.get(PATH, headers={"If-None-Match": '"live-2-0"'}).status_code == 200


def test_a_failing_refresh_and_a_new_version_change_the_etag():
    store = MemoryStore(small_dataset(), {"ok": True, "at": "2026-12-06T14:00:00Z"})
    client = client_of(store)
    tag = client.get(PATH).headers["ETag"]
    store.record = FAILED
    failing = client.get(PATH, headers={"If-None-Match": tag})
    assert failing.status_code == 200 and failing.headers["ETag"] != tag
    body = failing.get_json()
    assert body["failing_since"] == "2026-12-05T14:02:00Z" and body["error"] == "HTTP 500"
    assert body["checked_at"] == "2026-12-06T14:10:00Z" and body["version"] == "3"
    store.dataset = dataset_with_current()
    newer = client.get(PATH, headers={"If-None-Match": failing.headers["ETag"]})
    assert newer.status_code == 200
    assert (newer.get_json()["version"], newer.get_json()["sol"], newer.get_json()["odometry_m"]) == ("4", 19, 140.5)


def test_nothing_loaded_redis_away_and_a_query():
    store = MemoryStore()
    client = client_of(store)
    empty = client.get(PATH)
    assert empty.status_code == 200 and empty.get_json()["version"] is None
    assert client.get(PATH, headers={"If-None-Match": empty.headers["ETag"]}).status_code == 304
    assert client.get(PATH + "?cachebust=1").status_code == 400
    assert client.post(PATH).status_code == 405
    store.down = True
    away = client.get(PATH)
    assert away.status_code == 503 and "error" in away.get_json()


def test_the_load_state_and_the_etag():
    assert load_state(None) == {"checked_at": None, "failing_since": None, "error": None}
    # a successful load says nothing of failures, even if a field lingers
    assert load_state({"ok": True, "at": "t", "error": "old", "failing_since": "s"})["error"] is None
    failed = {"ok": False, "at": "t", "error": "e"}
    assert load_state(failed) == {"checked_at": "t", "failing_since": None, "error": "e"}
    state = load_state(FAILED)
    assert version_etag("7", state) == version_etag("7", dict(state))
    assert len({version_etag("7", state), version_etag("8", state), version_etag("7", load_state(None))}) == 3


def test_documented_and_the_page_links_the_feed():
    client = client_of(MemoryStore(small_dataset()))
    doc = client.get("/openapi.json").get_json()
    answers = doc["paths"][PATH]["get"]["responses"]
    assert set(answers) == {"200", "304", "400", "503"}
    assert answers["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/LiveVersion")
    page = client.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    head = page.split("</head>")[0]
    assert '<link rel="alternate" type="application/atom+xml"' in head
    assert 'href="/perseverance/feed.atom"' in head
