"""Byte budgets of finished exports: per client and in total, the oldest evicted first.

Finished files live in their own keys (:func:`dashboard.exports.queue.file_key`); the
worker charges each one and stores it in the same step (:meth:`Budgets.charge` with the
file's body: one Lua script, so a worker killed in between cannot leave a charge without
its file, or a file without its charge) and deletes what the budgets evict
(:meth:`Budgets.evict`). The script takes its clock from Redis (``TIME``), never from the
caller, and names every key it touches in KEYS. Evicted ids wait in a set until their
files are deleted, so a worker killed before :meth:`Budgets.evict` leaves nothing behind:
the next charge deletes them."""

from __future__ import annotations

import redis

from dashboard.exports.queue import fetch_job, file_key, forget
from dashboard.redis_conn import as_text
from dashboard.settings import Settings

#: What one export costs in Redis besides its file (job hash, result, registry entries,
#: budget bookkeeping), charged against the budgets so that the number of kept jobs is
#: bounded too. Measured with MEMORY USAGE on a finished export: about 4 KiB.
JOB_OVERHEAD = 8 * 1024

_ACCOUNT = """
local files, sizes, owners, total_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local client_bytes, doomed, file = KEYS[5], KEYS[6], KEYS[7]
local id, size, client, ttl = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local total_budget, client_budget, has_body = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local evicted = {}
local function size_of(v) return tonumber(redis.call('HGET', sizes, v) or '0') end
local function drop(v)
  local s = size_of(v)
  local owner = redis.call('HGET', owners, v)
  redis.call('ZREM', files, v)
  redis.call('HDEL', sizes, v)
  redis.call('HDEL', owners, v)
  if owner then
    if redis.call('HINCRBY', client_bytes, owner, -s) <= 0 then redis.call('HDEL', client_bytes, owner) end
  end
  redis.call('DECRBY', total_key, s)
end
local function evict(v)
  drop(v)
  redis.call('SADD', doomed, v)
  table.insert(evicted, v)
end
for _, v in ipairs(redis.call('ZRANGEBYSCORE', files, '-inf', '(' .. tostring(now))) do drop(v) end
if redis.call('ZSCORE', files, id) then drop(id) end
local mine = tonumber(redis.call('HGET', client_bytes, client) or '0')
if mine + size > client_budget then
  for _, v in ipairs(redis.call('ZRANGE', files, 0, -1)) do
    if mine + size <= client_budget then break end
    if redis.call('HGET', owners, v) == client then
      mine = mine - size_of(v)
      evict(v)
    end
  end
end
local total = tonumber(redis.call('GET', total_key) or '0')
while total + size > total_budget do
  local oldest = redis.call('ZRANGE', files, 0, 0)[1]
  if not oldest then break end
  total = total - size_of(oldest)
  evict(oldest)
end
redis.call('ZADD', files, now + ttl, id)
redis.call('HSET', sizes, id, size)
redis.call('HSET', owners, id, client)
redis.call('HINCRBY', client_bytes, client, size)
redis.call('INCRBY', total_key, size)
redis.call('SREM', doomed, id)
if has_body and ttl > 0 then redis.call('SET', file, ARGV[8], 'EX', ttl) end
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

    def charge(self, job_id: str, size: int, client: str, ttl: int, body: bytes | None = None) -> list[str]:
        """Charge ``size`` bytes for a finished (or failed) export to its client and to the
        total and, with ``body``, store the file for ``ttl`` seconds, atomically (one Lua
        script). Entries are scored by when they expire (Redis's now + ``ttl``); expired
        ones are forgotten first; then the client's oldest exports, and then anyone's
        oldest, are chosen for eviction until both budgets hold the new one. Returns the
        ids to evict (:meth:`evict`); ids an earlier charge evicted but nobody deleted (a
        worker killed in between) are evicted here first."""
        leftover = [as_text(v) for v in self.connection.smembers(self._base + "doomed")]
        if leftover:
            self.evict(leftover)
        base = self._base
        keys = [
            base + "files",
            base + "sizes",
            base + "owners",
            base + "total",
            base + "client_bytes",
            base + "doomed",
            file_key(self.prefix, job_id),
        ]
        evicted = self.connection.eval(
            _ACCOUNT,
            len(keys),
            *keys,
            job_id,
            int(size),
            client,
            int(ttl),
            self.total,
            self.per_client,
            "0" if body is None else "1",
            b"" if body is None else body,
        )
        return [as_text(v) for v in evicted]

    def evict(self, job_ids: list[str]) -> None:
        """Delete evicted exports: the file and the job with its result."""
        for job_id in job_ids:
            self.connection.delete(file_key(self.prefix, job_id))
            job = fetch_job(self.connection, job_id)
            if job is not None:
                forget(self.connection, job)
            self.connection.srem(self._base + "doomed", job_id)

    def usage(self) -> int:
        """Bytes charged to the total budget now."""
        raw = self.connection.get(self._base + "total")
        return int(raw) if raw is not None else 0
