"""Redis Sentinel settings: REDIS_SENTINELS, REDIS_SENTINEL_MASTER, REDIS_SENTINEL_PASSWORD
and PTRACKER_REPLICA_WAIT read and checked; the client they give (no server needed: a
redis-py client connects only when used)."""

from __future__ import annotations

import pytest
import redis
from redis.sentinel import SentinelConnectionPool

from dashboard.redis_conn import PrimaryConnection, from_url, replicated, sentinel
from dashboard.settings import DEFAULT_SENTINEL_MASTER, Settings, SettingsError


def test_sentinels_are_read_as_host_port_pairs():
    s = Settings.from_env({"REDIS_SENTINELS": " sentinel-0:26379, sentinel-1:26380 ,,10.0.0.7:5000,[::1]:26379"})
    assert s.redis_sentinels == (("sentinel-0", 26379), ("sentinel-1", 26380), ("10.0.0.7", 5000), ("::1", 26379))
    assert s.redis_external and s.redis_url is None


def test_without_sentinels_nothing_changes():
    s = Settings.from_env({})
    assert s.redis_sentinels == () and not s.redis_external
    assert s.redis_sentinel_master == DEFAULT_SENTINEL_MASTER == "mymaster"
    assert s.redis_sentinel_password is None and s.replica_wait == 1.0
    assert Settings.from_env({"REDIS_SENTINELS": " "}).redis_sentinels == ()  # blank: unset
    assert Settings.from_env({"REDIS_URL": "redis://r:6379/0"}).redis_external


@pytest.mark.parametrize(
    "raw", ["sentinel-0", "sentinel-0:", ":26379", "sentinel-0:port", "s:0", "s:65536", "a b:1", "s:1,t", "s:-1"]
)
def test_a_malformed_sentinel_is_one_line_naming_the_variable(raw):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"REDIS_SENTINELS": raw})
    message = str(caught.value)
    assert message.startswith("REDIS_SENTINELS: ") and "host:port" in message and "\n" not in message


def test_master_name_passwords_and_wait():
    env = {
        "REDIS_SENTINELS": "s:26379",
        "REDIS_SENTINEL_MASTER": " ptracker ",
        "REDIS_SENTINEL_PASSWORD": "sentinel-secret",
        "REDIS_PASSWORD": "data-secret",
        "PTRACKER_REPLICA_WAIT": "0.25",
    }
    s = Settings.from_env(env)
    assert (s.redis_sentinel_master, s.redis_sentinel_password, s.redis_password) == (
        "ptracker",
        "sentinel-secret",
        "data-secret",
    )
    assert s.replica_wait == 0.25
    with pytest.raises(SettingsError, match="REDIS_SENTINEL_MASTER"):
        Settings.from_env({**env, "REDIS_SENTINEL_MASTER": "my master"})
    for bad in ("0", "-1", "soon"):
        with pytest.raises(SettingsError, match="PTRACKER_REPLICA_WAIT"):
            Settings.from_env({**env, "PTRACKER_REPLICA_WAIT": bad})


def test_the_client_follows_the_primary_the_sentinels_name():
    s = Settings.from_env(
        {
            "REDIS_SENTINELS": "s0:26379,s1:26379",
            "REDIS_SENTINEL_MASTER": "ptracker",
            "REDIS_SENTINEL_PASSWORD": "sentinel-secret",
            "REDIS_PASSWORD": "data-secret",
            "REDIS_URL": "redis://ignored:6379/0",  # the sentinels win
        }
    )
    client = from_url(s)
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool) and pool.service_name == "ptracker" and pool.is_master
    assert pool.connection_class is PrimaryConnection
    assert pool.connection_kwargs["password"] == "data-secret"
    assert pool.connection_kwargs["socket_timeout"] == s.redis_socket_timeout
    assert "socket_timeout" not in from_url(s, blocking=True).connection_pool.connection_kwargs  # RQ sets its own
    watchers = sentinel(s).sentinels
    assert [
        (w.connection_pool.connection_kwargs["host"], w.connection_pool.connection_kwargs["port"]) for w in watchers
    ] == [
        ("s0", 26379),
        ("s1", 26379),
    ]
    assert all(w.connection_pool.connection_kwargs["password"] == "sentinel-secret" for w in watchers)


def test_no_wait_without_sentinels():
    # no replicas to wait for: no command is sent (this client has no server behind it)
    client = redis.Redis(port=1, socket_connect_timeout=0.1)
    assert replicated(client, Settings(redis_url="redis://localhost:1/0")) is None
