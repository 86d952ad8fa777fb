-- One cache partition of Cachet, as one atomic script per operation. It enforces the same
-- contract as cachet_limits::BoundedCache, step for step (see limits/src/cache.rs): keep the
-- two in the same order when either changes.
--
-- KEYS (one hash tag, so one Cluster slot):
--   KEYS[1]  hash  entry key -> "<expires_at, 20 digits>:<value>"
--   KEYS[2]  zset  entry key -> recency sequence number (lowest = least recently used)
--   KEYS[3]  hash  "bytes" -> sum of key + value bytes over KEYS[1]; "seq" -> last sequence
-- ARGV[1] operation, ARGV[2] now (the host's clock, ms, 20 digits), ARGV[3] how long Redis
-- keeps an untouched partition (ms), ARGV[4] how many keys follow that the flows of this host hit in
-- reads answered from a `read` (each is made most recently used, in order, before the operation
-- runs), those keys, then the arguments of the operation: `A[1]`, `A[2]`, ….
--
-- Times are zero-padded to 20 digits and compared as strings, which orders them exactly like
-- the u64 they are; Lua's numbers are doubles and would round them.

local E, R, M = KEYS[1], KEYS[2], KEYS[3]
local op, now, keep_ms = ARGV[1], ARGV[2], ARGV[3]
local touched = tonumber(ARGV[4])
local A = {}
for i = 5 + touched, #ARGV do
  A[#A + 1] = ARGV[i]
end

local function split(stored)
  return string.sub(stored, 1, 20), string.sub(stored, 22)
end

local function live(expires_at)
  return now < expires_at
end

local function bytes()
  return tonumber(redis.call('HGET', M, 'bytes') or '0')
end

-- The usage of the partition after an operation, returned with its reply so the host need not ask
-- again (one round trip per operation).
local function usage()
  return redis.call('HLEN', E), bytes()
end

local function remove(k, stored)
  redis.call('HDEL', E, k)
  redis.call('ZREM', R, k)
  if stored then
    local _, v = split(stored)
    -- `0 - n`, not `-n`: Lua's -0 reaches Redis as "-0", which HINCRBY refuses.
    redis.call('HINCRBY', M, 'bytes', 0 - (#k + #v))
  end
end

local function touch(k)
  redis.call('ZADD', R, redis.call('HINCRBY', M, 'seq', 1), k)
end

-- An abandoned partition disappears by itself: every entry in it has expired by then.
local function keep()
  redis.call('PEXPIRE', E, keep_ms)
  redis.call('PEXPIRE', R, keep_ms)
  redis.call('PEXPIRE', M, keep_ms)
end

-- The three keys live and die together, but a Redis under memory pressure with an eviction
-- policy may evict one of them alone. Put the partition back into a state the contract holds
-- in: without entries there is nothing to keep; without the meta hash or with the recency set
-- out of step, rebuild them from the entries (the recency order of entries that lost theirs
-- is lost too, which only changes which entry is evicted first).
--
-- Returns the partition's usage as it finds or leaves it (entries, bytes): the checks read
-- both anyway, and a hit changes neither, so a `get` answers with them instead of asking Redis
-- again. Every `redis.call` costs the script time under the one Redis thread: a hit makes six
-- (this function's three, then `HGET`, `HINCRBY`, `ZADD`), not the nine it made when the checks
-- and the usage were separate (BENCHMARKS.md).
local function heal()
  -- A hash without fields does not exist: HLEN is 0 exactly when the entries are gone.
  local n = redis.call('HLEN', E)
  if n == 0 then
    redis.call('DEL', R, M)
    return 0, 0
  end
  -- The meta hash always holds `bytes` (written with `seq` by every write and by the rebuild
  -- below), so reading it is the existence check.
  local b = redis.call('HGET', M, 'bytes')
  if b and redis.call('ZCARD', R) == n then
    return n, tonumber(b)
  end
  local all = redis.call('HGETALL', E)
  local total, present = 0, {}
  for i = 1, #all, 2 do
    local _, v = split(all[i + 1])
    total = total + #all[i] + #v
    present[all[i]] = true
  end
  for _, k in ipairs(redis.call('ZRANGE', R, 0, -1)) do
    if not present[k] then
      redis.call('ZREM', R, k)
    end
  end
  local top = redis.call('ZRANGE', R, -1, -1, 'WITHSCORES')
  local seq = math.max(tonumber(top[2] or '0'), tonumber(redis.call('HGET', M, 'seq') or '0'))
  for i = 1, #all, 2 do
    if not redis.call('ZSCORE', R, all[i]) then
      seq = seq + 1
      redis.call('ZADD', R, seq, all[i])
    end
  end
  redis.call('HSET', M, 'bytes', total, 'seq', seq)
  return n, total
end

local found_entries, found_bytes = heal()

-- Hits the host answered from a `read` count as uses, as a hit of `get` does, and before this
-- operation (an eviction in it must see them). Best effort, like the recency update of `get`: a key deleted since
-- is skipped, and a Redis refusing writes only loses the recency.
if found_entries > 0 then
  for i = 5, 4 + touched do
    if redis.call('HEXISTS', E, ARGV[i]) == 1 then
      local seq = redis.pcall('HINCRBY', M, 'seq', 1)
      if type(seq) == 'number' then
        redis.pcall('ZADD', R, seq, ARGV[i])
      end
    end
  end
end

-- The partition whole, for a flow to answer its reads from: the usage as `heal` found it, then
-- (key, value, expires_at) of each live entry. Changes nothing.
if op == 'read' then
  local out = { found_entries, found_bytes }
  if found_entries > 0 then
    local all = redis.call('HGETALL', E)
    for i = 1, #all, 2 do
      local expires_at, v = split(all[i + 1])
      if live(expires_at) then
        out[#out + 1] = all[i]
        out[#out + 1] = v
        out[#out + 1] = expires_at
      end
    end
  end
  return out
end

if op == 'get' then
  local k = A[1]
  local stored = found_entries > 0 and redis.call('HGET', E, k)
  if not stored then
    return { 'miss', found_entries, found_bytes }
  end
  local expires_at, v = split(stored)
  if not live(expires_at) then
    remove(k, stored)
    return { 'miss', usage() }
  end
  -- A hit is a hit even when Redis refuses writes (out of memory under `noeviction`): the
  -- recency update is best effort, the read is not.
  local seq = redis.pcall('HINCRBY', M, 'seq', 1)
  if type(seq) == 'number' then
    redis.pcall('ZADD', R, seq, k)
  end
  -- Neither the entries nor the bytes changed since `heal` read them.
  return { 'hit', v, expires_at, found_entries, found_bytes }
end

if op == 'set' then
  local k, v, expires_at = A[1], A[2], A[3]
  local if_absent, strict = A[4] == '1', A[5] == 'strict'
  local max_entries, max_bytes = tonumber(A[6]), tonumber(A[7])
  local max_key, max_value, latest = tonumber(A[8]), tonumber(A[9]), A[10]
  -- The host computed the expiry with the same rules; these checks hold any client to them.
  if #k > max_key then
    return { 'CacheKeySizeExceeded', #k }
  end
  if #v > max_value then
    return { 'CacheValueSizeExceeded', #v }
  end
  if not live(expires_at) then
    return { 'ItemAlreadyExpired' }
  end
  if expires_at > latest or #expires_at ~= 20 then
    return { 'InvalidExpiry' }
  end
  local old = redis.call('HGET', E, k)
  if if_absent and old and live((split(old))) then
    return { 'CacheKeyExists' }
  end
  local new_bytes = #k + #v
  local function fits(n, b)
    return n <= max_entries and b <= max_bytes
  end
  if strict then
    -- Decide before touching anything: a refused write changes nothing.
    local all = redis.call('HGETALL', E)
    local n, b = 0, 0
    for i = 1, #all, 2 do
      local key, stored = all[i], all[i + 1]
      local e, value = split(stored)
      if key ~= k and live(e) then
        n = n + 1
        b = b + #key + #value
      end
    end
    if not fits(n + 1, b + new_bytes) then
      return { 'CacheSizeExceeded' }
    end
  end
  if old then
    remove(k, old)
  end
  if not fits(redis.call('HLEN', E) + 1, bytes() + new_bytes) then
    -- Expired entries go first, then least recently used ones.
    local all = redis.call('HGETALL', E)
    for i = 1, #all, 2 do
      if not live((split(all[i + 1]))) then
        remove(all[i], all[i + 1])
      end
    end
    while not fits(redis.call('HLEN', E) + 1, bytes() + new_bytes) do
      local lru = redis.call('ZRANGE', R, 0, 0)
      if #lru == 0 then
        break
      end
      remove(lru[1], redis.call('HGET', E, lru[1]))
    end
  end
  redis.call('HSET', E, k, expires_at .. ':' .. v)
  redis.call('HINCRBY', M, 'bytes', new_bytes)
  touch(k)
  keep()
  local n, b = usage()
  return { 'OK', expires_at, n, b }
end

if op == 'delete' then
  local k = A[1]
  local stored = found_entries > 0 and redis.call('HGET', E, k)
  if not stored then
    return { 'CacheKeyDoesNotExist', found_entries, found_bytes }
  end
  remove(k, stored)
  if live((split(stored))) then
    return { 'OK', usage() }
  end
  return { 'CacheKeyDoesNotExist', usage() }
end

if op == 'usage' then
  return { found_entries, found_bytes }
end

if op == 'snapshot' then
  local out = {}
  for _, k in ipairs(redis.call('ZRANGE', R, 0, -1)) do
    local stored = redis.call('HGET', E, k)
    if stored then
      local expires_at, v = split(stored)
      if live(expires_at) then
        table.insert(out, k)
        table.insert(out, v)
        table.insert(out, expires_at)
      end
    end
  end
  return out
end

if op == 'restore' then
  -- A: key, value, expires_at triples, least recently used first, already re-checked by the
  -- host against the limits (cachet_limits::BoundedCache::restore).
  redis.call('DEL', E, R, M)
  for i = 1, #A, 3 do
    local k, v, expires_at = A[i], A[i + 1], A[i + 2]
    redis.call('HSET', E, k, expires_at .. ':' .. v)
    redis.call('HINCRBY', M, 'bytes', #k + #v)
    touch(k)
  end
  keep()
  return 'OK'
end

return redis.error_reply('cachet: unknown partition operation ' .. tostring(op))
