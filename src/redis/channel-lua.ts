// The Lua of RedisChannel. A channel is one stream with one consumer group, plus a
// dead-letter stream, both under one hash tag (one Redis Cluster slot). An entry leaves the
// stream when it is acknowledged or dead-lettered (XACK and XDEL in one script), so the
// stream's length is the number of messages not yet acknowledged, which is what the
// capacity bounds. Every script that removes entries from a full stream publishes on the
// channel's wake channel, and that is how waiting senders hear that there is room.

/** The one consumer group of every channel's stream. */
export const CHANNEL_GROUP = 'weir';

/*
 * Shared by the scripts that take entries out:
 *   KEYS[1] stream, KEYS[2] dead-letter stream
 *   ARGV[1] group, ARGV[2] capacity, ARGV[3] wake channel
 */
const CHANNEL_PRELUDE = `
local stream, dead = KEYS[1], KEYS[2]
local group, capacity, wake = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local full = redis.call('XLEN', stream) >= capacity
local freed = 0

-- The payload field of an entry's field list.
local function payload(fields)
  if not fields then return false end
  for i = 1, #fields, 2 do
    if fields[i] == 'v' then return fields[i + 1] end
  end
  return false
end

-- Moves a pending entry to the dead-letter stream, with where it came from and why.
local function bury(id, fields, deliveries, reason)
  local v = payload(fields)
  if v then
    redis.call('XADD', dead, '*', 'v', v, 'id', id, 'deliveries', deliveries, 'reason', reason)
  end
  redis.call('XACK', stream, group, id)
  redis.call('XDEL', stream, id)
  freed = freed + 1
end

-- Senders wait only while the stream is full: tell them when that stops.
local function done()
  if full and freed > 0 then redis.call('PUBLISH', wake, freed) end
end
`;

/**
 * KEYS[1] stream; ARGV[1] capacity, ARGV[2] payload.
 * Returns the new entry's id, or nil when `capacity` entries are not yet acknowledged.
 */
export const CHANNEL_SEND = `
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return false end
return redis.call('XADD', KEYS[1], '*', 'v', ARGV[2])
`;

/**
 * ARGV[4] the entry id. Acknowledges it and takes it out of the stream.
 * Returns 1, or 0 when it was no longer pending (acknowledged already, or dead-lettered).
 */
export const CHANNEL_ACK = `${CHANNEL_PRELUDE}
local id = ARGV[4]
if redis.call('XACK', stream, group, id) == 1 then
  redis.call('XDEL', stream, id)
  freed = 1
end
done()
return freed
`;

/**
 * ARGV[4] the entry id, ARGV[5] the reason. Dead-letters the entry if it is still pending.
 * Returns 1, or 0 when it was no longer pending.
 */
export const CHANNEL_BURY = `${CHANNEL_PRELUDE}
local id = ARGV[4]
local p = redis.call('XPENDING', stream, group, id, id, 1)[1]
if not p then return 0 end
local e = redis.call('XRANGE', stream, id, id)[1]
bury(id, e and e[2], tonumber(p[4]), ARGV[5])
done()
return 1
`;

/**
 * ARGV[4] consumer, ARGV[5] min idle ms, ARGV[6] count, ARGV[7] maxDeliveries.
 * Claims for `consumer` the entries pending longer than the idle time (XAUTOCLAIM: the
 * server measures idleness), dead-letters those already delivered `maxDeliveries` times,
 * and returns the rest flat: {id, deliveries, payload, id, deliveries, payload, ...}.
 */
export const CHANNEL_CLAIM = `${CHANNEL_PRELUDE}
local consumer, maxDeliveries = ARGV[4], tonumber(ARGV[7])
local r = redis.call('XAUTOCLAIM', stream, group, consumer, ARGV[5], '0-0', 'COUNT', ARGV[6])
local out = {}
for _, e in ipairs(r[2]) do
  local id, fields = e[1], e[2]
  local p = redis.call('XPENDING', stream, group, id, id, 1)[1]
  local n = p and tonumber(p[4]) or 1
  local v = payload(fields)
  if n > maxDeliveries or not v then
    bury(id, fields, n - 1, 'maxDeliveries')
  else
    out[#out + 1] = id
    out[#out + 1] = n
    out[#out + 1] = v
  end
end
done()
return out
`;

/**
 * KEYS[1] stream; ARGV[1] group, ARGV[2] consumer. Removes the consumer from the group
 * when nothing is pending for it (what is pending stays, to be reclaimed).
 */
export const CHANNEL_LEAVE = `
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) == 0 then
  redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0
`;

/** KEYS[1] stream, KEYS[2] dead-letter stream; ARGV[1] group. {length, pending, dead}. */
export const CHANNEL_COUNT = `
local pending = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  local ok, s = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1])
  if ok then pending = s[1] end
end
return {redis.call('XLEN', KEYS[1]), pending, redis.call('XLEN', KEYS[2])}
`;
