"""Who may queue an export now: a rate per client, a share of the queue per client, a
queue cap. Counts live in Redis, so every web process shares them."""

from __future__ import annotations

import ipaddress
import math
import secrets
import time

import redis
from limits import RateLimitItemPerMinute
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from rq.job import Job

from dashboard.exports.errors import QueueFull, RateLimited, ShareUsed
from dashboard.exports.queue import queue
from dashboard.redis_conn import as_text
from dashboard.settings import Settings

#: an IPv6 client counts by its /64 (one home or host gets a whole /64)
IPV6_CLIENT_PREFIX = 64
#: longest client key kept from an address that does not parse
MAX_CLIENT_KEY = 64
#: Retry-After (seconds) when the queue is full / when the client has its share waiting
RETRY_QUEUE_FULL = 30
RETRY_SHARE_USED = 10
#: a moving minute, plus one second: the longest a rate-limited client waits
MAX_RATE_RETRY = 61
ACTIVE_STATUSES = (b"queued", b"started", b"deferred", b"scheduled")
DEFAULT_CLIENT_QUEUE_MAX = Settings.queue_client_max
#: seconds a client's list of pending exports is kept
DEFAULT_PENDING_TTL = Settings.export_ttl


def client_key(address: str | None) -> str:
    """Who a request counts as for rate limits, queue shares and byte budgets: an IPv4
    address as is, an IPv6 client by its /64 (one home or host gets a whole /64, so
    counting single IPv6 addresses would give it 2**64 budgets)."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown" if not address else address[:MAX_CLIENT_KEY]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False))
    return str(ip)


_LIMITERS: dict[tuple, MovingWindowRateLimiter] = {}


def _limiter(connection: redis.Redis, prefix: str) -> MovingWindowRateLimiter:
    """A moving-window rate limiter (the ``limits`` package) kept in this Redis, so every
    web process shares the counts."""
    key = (id(connection.connection_pool), prefix)
    limiter = _LIMITERS.get(key)
    if limiter is None:
        storage = RedisStorage("redis://", connection_pool=connection.connection_pool, key_prefix=f"{prefix}limits")
        limiter = _LIMITERS[key] = MovingWindowRateLimiter(storage)
    return limiter


#: seconds a slot of the queue stays reserved for a submission being queued (a web process
#: killed between admission and enqueue frees its slot after this)
RESERVATION_SECONDS = 10
#: KEYS: the queue's list, the reserved slots (sorted set, scored by when they lapse).
#: ARGV: the slot's token, the queue cap, RESERVATION_SECONDS. Counts what waits plus what
#: is being queued right now and reserves a slot only below the cap, in one step (Redis's
#: clock: TIME), so that concurrent submissions cannot all see room for one more.
#: Answers {1, count} (reserved) or {0, count} (full).
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local count = redis.call('LLEN', KEYS[1]) + redis.call('ZCARD', KEYS[2])
if count >= tonumber(ARGV[2]) then return {0, count} end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
return {1, count}
"""


def reserved_key(prefix: str) -> str:
    return f"{prefix}export:reserved"


def release(connection: redis.Redis, prefix: str, token: str) -> None:
    """Free a slot :func:`admit` reserved, once its job is queued (or was not)."""
    connection.zrem(reserved_key(prefix), token)


def pending_key(prefix: str, client: str) -> str:
    return f"{prefix}export:pending:{client}"


def admit(
    connection: redis.Redis,
    prefix: str,
    client: str,
    rate: int,
    queue_max: int,
    client_queue_max: int = DEFAULT_CLIENT_QUEUE_MAX,
    cost: int = 1,
) -> str:
    """Refuse a submission over the client's rate (a moving minute: RateLimited), when the
    client already has its share of the queue waiting (ShareUsed), or when the queue is
    full (QueueFull). ``client`` is :func:`client_key` of the address. The submission
    counts as ``cost`` exports against the rate (a replay counts as several), at most the
    whole rate, so that one is always admitted by an empty minute. An admitted submission
    holds a slot of the queue (reserved atomically with the check of the cap): the caller
    passes the returned token to :func:`release` once the job is queued."""
    item = RateLimitItemPerMinute(rate)
    limiter = _limiter(connection, prefix)
    cost = max(1, min(int(cost), rate))
    if not limiter.hit(item, "export", client, cost=cost):
        reset = limiter.get_window_stats(item, "export", client).reset_time
        retry = max(1, min(MAX_RATE_RETRY, math.ceil(reset - time.time())))
        counts = f" (this one counts as {cost})" if cost > 1 else ""
        raise RateLimited(f"too many exports: at most {rate} a minute{counts}; try again in {retry} s", retry)
    token = secrets.token_hex(8)
    keys = [queue(connection).key, reserved_key(prefix)]
    admitted, waiting = connection.eval(_RESERVE, len(keys), *keys, token, int(queue_max), RESERVATION_SECONDS)
    if not admitted:
        raise QueueFull(f"the export queue is full ({waiting} waiting); try again shortly", RETRY_QUEUE_FULL)
    share = min(client_queue_max, queue_max)
    mine = pending(connection, prefix, client)
    if mine >= share:
        release(connection, prefix, token)
        raise ShareUsed(
            f"you have {mine} exports waiting or rendering; at most {share} at a time: try again when one has finished",
            RETRY_SHARE_USED,
        )
    return token


def pending(connection: redis.Redis, prefix: str, client: str) -> int:
    """How many of the client's exports are waiting or rendering (ended ones are dropped
    from its list here)."""
    key = pending_key(prefix, client)
    ids = [as_text(raw) for raw in connection.zrange(key, 0, -1)]
    if not ids:
        return 0
    pipe = connection.pipeline(transaction=False)
    for job_id in ids:
        pipe.hget(Job.key_for(job_id), "status")
    done = [j for j, st in zip(ids, pipe.execute(), strict=True) if st not in ACTIVE_STATUSES]
    if done:
        connection.zrem(key, *done)
    return len(ids) - len(done)


def note_pending(
    connection: redis.Redis, prefix: str, client: str, job_id: str, ttl: int = DEFAULT_PENDING_TTL
) -> None:
    key = pending_key(prefix, client)
    pipe = connection.pipeline(transaction=False)
    pipe.zadd(key, {job_id: time.time()})
    pipe.expire(key, ttl)
    pipe.execute()
