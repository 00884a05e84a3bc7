/**
 * The shared response cache's writes as Redis scripts: storing an answer
 * keeps the cache under its byte budget (oldest out first), and a lock is
 * released only by the process that holds it.
 */

/**
 * KEYS: the answer, the index (a sorted set of "size:key" by time stored), the byte count.
 * ARGV: the answer's JSON, TTL ms, byte budget, the answer key.
 */
export const CACHE_SET = `
local size = string.len(ARGV[1])
local budget = tonumber(ARGV[3])
if size > budget then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function forget(member)
  local colon = string.find(member, ':')
  local key = string.sub(member, colon + 1)
  redis.call('ZREM', KEYS[2], member)
  if key ~= ARGV[4] then redis.call('DEL', (string.gsub(KEYS[1], '[^:]+$', key))) end
  return redis.call('DECRBY', KEYS[3], tonumber(string.sub(member, 1, colon - 1)))
end
-- Entries past their TTL are gone from Redis already; their bytes leave the count too.
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]))) do forget(member) end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], now, size .. ':' .. ARGV[4])
local total = redis.call('INCRBY', KEYS[3], size)
while total > budget do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #oldest == 0 then break end
  total = forget(oldest[1])
end
return 1
`;

/** KEYS: the lock. ARGV: the holder's token. */
export const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** KEYS: the lock. ARGV: the holder's token, the new TTL in ms. Keeps a lock alive while its holder works. */
export const REFRESH = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;
