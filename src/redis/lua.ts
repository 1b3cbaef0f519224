// The Lua run on the server. Each script touches only keys that share one hash tag, so
// it is valid in Redis Cluster (all keys in one slot), and reads time with TIME, so no
// client clock is trusted. Times are milliseconds on the server's clock.

/*
 * Semaphore keys (one hash tag):
 *   KEYS[1] holders  zset  lease id -> lease expiry
 *   KEYS[2] tokens   hash  lease id -> fencing token
 *   KEYS[3] queue    zset  waiter id -> ticket (FIFO order)
 *   KEYS[4] alive    zset  waiter id -> expiry of the waiter's heartbeat
 *   KEYS[5] seq      string counter for tickets and fencing tokens (never expires, so
 *                    tokens keep increasing)
 * ARGV[1] id, ARGV[2] limit, ARGV[3] leaseMs, ARGV[4] pub/sub channel for hand-overs.
 *
 * A freed slot is handed over inside the script that frees it: the head of the queue
 * becomes a holder at once and is told on the channel ("<id> <token>"), so no process
 * polls and nobody can barge past the queue.
 */
const SEMAPHORE_PRELUDE = `
local holders, tokens, queue, alive, seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, limit, leaseMs, channel = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- Leases and waiters whose process stopped renewing them.
local function purge()
  local dead = redis.call('ZRANGEBYSCORE', holders, '-inf', now, 'LIMIT', 0, 256)
  for _, d in ipairs(dead) do
    redis.call('ZREM', holders, d)
    redis.call('HDEL', tokens, d)
  end
  local gone = redis.call('ZRANGEBYSCORE', alive, '-inf', now, 'LIMIT', 0, 256)
  for _, g in ipairs(gone) do
    redis.call('ZREM', alive, g)
    redis.call('ZREM', queue, g)
  end
end

-- Hands free slots to the oldest waiters; tells each but the caller on the channel.
local function fill()
  local free = limit - redis.call('ZCARD', holders)
  while free > 0 do
    local head = redis.call('ZRANGE', queue, 0, 0)[1]
    if not head then break end
    redis.call('ZREM', queue, head)
    redis.call('ZREM', alive, head)
    local token = redis.call('INCR', seq)
    redis.call('ZADD', holders, now + leaseMs, head)
    redis.call('HSET', tokens, head, token)
    if head ~= id then redis.call('PUBLISH', channel, head .. ' ' .. token) end
    free = free - 1
  end
end

-- When the first lease runs out (ms from now), or -1: a waiter checks again then.
local function wake()
  local first = redis.call('ZRANGE', holders, 0, 0, 'WITHSCORES')
  if first[2] then return math.max(0, tonumber(first[2]) - now) end
  return -1
end
`;

/**
 * ARGV[5] '1' to queue when no slot is free, '0' to give up instead.
 * Returns {1, token} when `id` holds a slot, else {0, wake ms} ({0, -2} when not queued).
 */
export const SEMAPHORE_ACQUIRE = `${SEMAPHORE_PRELUDE}
purge()
fill()
local token = redis.call('HGET', tokens, id)
if token then
  redis.call('ZADD', holders, now + leaseMs, id)
  return {1, tonumber(token)}
end
if not redis.call('ZSCORE', queue, id) then
  if redis.call('ZCARD', holders) < limit then
    token = redis.call('INCR', seq)
    redis.call('ZADD', holders, now + leaseMs, id)
    redis.call('HSET', tokens, id, token)
    return {1, token}
  end
  if ARGV[5] ~= '1' then return {0, -2} end
  redis.call('ZADD', queue, redis.call('INCR', seq), id)
end
redis.call('ZADD', alive, now + leaseMs, id)
return {0, wake()}
`;

/** Gives back `id`'s slot, or takes `id` out of the queue; hands over what is free. */
export const SEMAPHORE_RELEASE = `${SEMAPHORE_PRELUDE}
redis.call('ZREM', holders, id)
redis.call('HDEL', tokens, id)
redis.call('ZREM', queue, id)
redis.call('ZREM', alive, id)
purge()
fill()
return 1
`;

/** Extends `id`'s lease. Returns 1, or 0 when the lease had run out (it is lost). */
export const SEMAPHORE_RENEW = `${SEMAPHORE_PRELUDE}
purge()
local ok = 0
if redis.call('ZSCORE', holders, id) then
  redis.call('ZADD', holders, now + leaseMs, id)
  ok = 1
end
fill()
return ok
`;

/** Holders and waiters now, after purging the dead: {held, waiting}. */
export const SEMAPHORE_COUNT = `${SEMAPHORE_PRELUDE}
purge()
fill()
return {redis.call('ZCARD', holders), redis.call('ZCARD', queue)}
`;

/*
 * GCRA (generic cell rate algorithm) on one key holding the theoretical arrival time
 * (TAT) in microseconds. KEYS[1] the TAT key.
 * ARGV[1] emission interval (µs per token), ARGV[2] burst (tokens), ARGV[3] tokens,
 * ARGV[4] longest wait the caller accepts (µs): 0 takes only what is there now; more books
 * the tokens in the future and tells the caller how long to wait.
 * Returns {granted 1/0, wait µs (granted) or retry-after µs (refused), server time µs}.
 */
export const RATE_LIMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, burst, n, maxWait =
  tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local newTat = tat + n * interval
local allowAt = newTat - burst * interval
local wait = allowAt - now
if wait < 0 then wait = 0 end
if wait > maxWait then return {0, math.ceil(wait), now} end
redis.call('SET', KEYS[1], string.format('%.0f', newTat), 'PX', math.ceil((newTat - now) / 1000) + 1)
return {1, math.ceil(wait), now}
`;

/**
 * Many `tryAcquire` checks of one process in one script, in the order they were asked:
 * the GCRA test of RATE_LIMIT (with no wait) for each. KEYS[1] the TAT key; ARGV[1]
 * interval µs, ARGV[2] burst, ARGV[3..] tokens of each check. Returns {1 or 0, ...}.
 */
export const RATE_LIMIT_MANY = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local start = tat
local out = {}
for i = 3, #ARGV do
  local newTat = tat + tonumber(ARGV[i]) * interval
  if newTat - burst * interval <= now then
    tat = newTat
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
if tat ~= start then
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
end
return out
`;

/**
 * Gives back tokens booked by a wait that was cancelled. KEYS[1] the TAT key; ARGV[1]
 * interval µs, ARGV[2] tokens. The TAT never moves before now.
 */
export const RATE_REFUND = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat then return 0 end
local back = tat - tonumber(ARGV[1]) * tonumber(ARGV[2])
if back <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%.0f', back), 'PX', math.ceil((back - now) / 1000) + 1)
end
return 1
`;
