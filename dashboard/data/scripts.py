"""The store's atomic steps, as Lua scripts (Redis runs each one whole, with nothing in
between): switching to a new version only while the load still holds its lock, cleaning
up old versions without ever deleting the current one, and reading the current version
together with its data. Keys named inside a script (version hashes) are built from the
prefix passed in ARGV: the app runs against a single Redis, not a cluster.
"""

from __future__ import annotations

__all__ = ["CLEANUP", "READ_CURRENT", "SWITCH"]

#: KEYS: lock, versions, current, the new version's hash. ARGV: the lock's token ("": no
#: lock), version, its sequence number, then the hash's field/value pairs. 0: the lock is
#: not ours, nothing written. A refused first write is answered as the error Redis gave
#: (Redis 6 puts the script's line before it: "OOM ..." must stay an OOM error).
SWITCH = """
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local written = redis.pcall('HSET', KEYS[4], unpack(ARGV, 4))
if type(written) == 'table' and written.err then
  local at = string.find(written.err, 'OOM ', 1, true)
  return redis.error_reply(at and string.sub(written.err, at) or written.err)
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('SET', KEYS[3], ARGV[2])
return 1
"""
#: KEYS: versions, current. ARGV: versions to keep, the prefix of version hash keys.
#: Deletes all but the newest ones, never the current one; returns how many it deleted.
CLEANUP = """
local current = redis.call('GET', KEYS[2])
local deleted = 0
for _, v in ipairs(redis.call('ZRANGE', KEYS[1], 0, -(tonumber(ARGV[1]) + 1))) do
  if v ~= current then
    redis.call('DEL', ARGV[2] .. v)
    redis.call('ZREM', KEYS[1], v)
    deleted = deleted + 1
  end
end
return deleted
"""
#: KEYS: current. ARGV: the prefix of version hash keys, one field ("": the whole hash).
#: The current version with its hash (or that field), read in one step; nil: none.
READ_CURRENT = """
local v = redis.call('GET', KEYS[1])
if not v then return false end
if ARGV[2] == '' then return {v, redis.call('HGETALL', ARGV[1] .. v)} end
return {v, redis.call('HGET', ARGV[1] .. v, ARGV[2])}
"""
