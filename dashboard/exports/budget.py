"""Byte budgets of finished exports: per client and in total, the oldest evicted first.

Finished files live in their own keys (:func:`dashboard.exports.queue.file_key`); the
worker charges each one here (:meth:`Budgets.charge`) and deletes what the budgets evict
(:meth:`Budgets.evict`)."""

from __future__ import annotations

import time

import redis

from dashboard.exports.queue import fetch_job, file_key, forget
from dashboard.redis_conn import as_text
from dashboard.settings import Settings

#: What one export costs in Redis besides its file (job hash, result, registry entries,
#: budget bookkeeping), charged against the budgets so that the number of kept jobs is
#: bounded too. Measured with MEMORY USAGE on a finished export: about 4 KiB.
JOB_OVERHEAD = 8 * 1024

_ACCOUNT = """
local files, sizes, owners, total_key, client_zset = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, size, client = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local now, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local total_budget, client_budget, client_prefix = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local evicted = {}
local function size_of(v) return tonumber(redis.call('HGET', sizes, v) or '0') end
local function drop(v)
  local s = size_of(v)
  local owner = redis.call('HGET', owners, v)
  redis.call('ZREM', files, v)
  redis.call('HDEL', sizes, v)
  redis.call('HDEL', owners, v)
  if owner then redis.call('ZREM', client_prefix .. owner, v) end
  redis.call('DECRBY', total_key, s)
end
for _, v in ipairs(redis.call('ZRANGEBYSCORE', files, '-inf', '(' .. tostring(now))) do drop(v) end
if redis.call('ZSCORE', files, id) then drop(id) end
local mine = 0
for _, v in ipairs(redis.call('ZRANGE', client_zset, 0, -1)) do mine = mine + size_of(v) end
while mine + size > client_budget do
  local oldest = redis.call('ZRANGE', client_zset, 0, 0)[1]
  if not oldest then break end
  mine = mine - size_of(oldest)
  drop(oldest)
  redis.call('ZREM', client_zset, oldest)
  table.insert(evicted, oldest)
end
local total = tonumber(redis.call('GET', total_key) or '0')
while total + size > total_budget do
  local oldest = redis.call('ZRANGE', files, 0, 0)[1]
  if not oldest then break end
  total = total - size_of(oldest)
  drop(oldest)
  table.insert(evicted, oldest)
end
redis.call('ZADD', files, now + ttl, id)
redis.call('HSET', sizes, id, size)
redis.call('HSET', owners, id, client)
redis.call('ZADD', client_zset, now + ttl, id)
if redis.call('TTL', client_zset) < ttl then redis.call('EXPIRE', client_zset, ttl) end
redis.call('INCRBY', total_key, size)
return evicted
"""


class Budgets:
    """The byte budgets of finished exports in one Redis: ``total`` bytes for everyone,
    ``per_client`` for each client (:func:`~dashboard.exports.admission.client_key`)."""

    def __init__(self, connection: redis.Redis, prefix: str, total: int, per_client: int):
        self.connection, self.prefix = connection, prefix
        self.total, self.per_client = int(total), int(per_client)
        self._base = f"{prefix}export:budget:"

    @classmethod
    def of(cls, connection: redis.Redis, settings: Settings) -> Budgets:
        return cls(connection, settings.key_prefix, settings.export_budget, settings.export_client_budget)

    def charge(self, job_id: str, size: int, client: str, ttl: int) -> list[str]:
        """Charge ``size`` bytes for a finished (or failed) export to its client and to the
        total, atomically (one Lua script). Entries are scored by when they expire (now +
        ``ttl``); expired ones are forgotten first; then the client's oldest exports, and
        then anyone's oldest, are chosen for eviction until both budgets hold the new one.
        Returns the ids to evict (:meth:`evict`)."""
        base = self._base
        keys = [base + "files", base + "sizes", base + "owners", base + "total", base + "client:" + client]
        evicted = self.connection.eval(
            _ACCOUNT,
            len(keys),
            *keys,
            job_id,
            int(size),
            client,
            time.time(),
            int(ttl),
            self.total,
            self.per_client,
            base + "client:",
        )
        return [as_text(v) for v in evicted]

    def evict(self, job_ids: list[str]) -> None:
        """Delete evicted exports: the file and the job with its result."""
        for job_id in job_ids:
            self.connection.delete(file_key(self.prefix, job_id))
            job = fetch_job(self.connection, job_id)
            if job is not None:
                forget(self.connection, job)

    def usage(self) -> int:
        """Bytes charged to the total budget now."""
        raw = self.connection.get(self._base + "total")
        return int(raw) if raw is not None else 0
