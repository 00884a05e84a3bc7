/**
 * The shared budgets as Redis scripts: each take or refund is one round
 * trip, atomic, with the same continuous-refill bucket as TokenBucket (no
 * fixed windows, so no burst at minute boundaries) and Redis's own clock,
 * so machines whose clocks differ still agree. A take also checks the
 * endpoint's pause and counts this process among the participants.
 */

/** Bucket state and arithmetic shared by the scripts (mirrors TokenBucket, SAFETY_MARGIN_MS included). */
const BUCKET = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local margin = tonumber(ARGV[5])
local function capacity(rate) return math.max(1, rate / 60) - rate * margin / 60000 end
local function level(key, rate)
  local cap = capacity(rate)
  local v = redis.call('HMGET', key, 'level', 'at')
  local lvl = tonumber(v[1]) or cap
  local at = tonumber(v[2]) or now
  if now > at then lvl = math.min(cap, lvl + (now - at) * rate / 60000) end
  return lvl, cap
end
local function store(key, lvl)
  redis.call('HSET', key, 'level', lvl, 'at', now)
  redis.call('PEXPIRE', key, 120000)
end
`;

/**
 * KEYS: rpm bucket, tpm bucket, pause, participants, learnt limits, breaker.
 * ARGV: rpm (0: none), tpm (0: none), tokens, participant id, margin ms.
 * The rates are the tighter of the caller's and what any process learnt
 * from the provider's headers. Returns {wait ms (0: taken), participants,
 * ms until a circuit breaker some process opened lets a probe through (0: closed)}.
 */
export const TAKE = `${BUCKET}
local learnt = redis.call('HMGET', KEYS[5], 'rpm', 'tpm')
local function tighter(mine, theirs)
  theirs = tonumber(theirs) or 0
  if mine > 0 and theirs > 0 then return math.min(mine, theirs) end
  return math.max(mine, theirs)
end
ARGV[1] = tighter(tonumber(ARGV[1]), learnt[1])
ARGV[2] = tighter(tonumber(ARGV[2]), learnt[2])
redis.call('ZADD', KEYS[4], now, ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - 15000)
redis.call('PEXPIRE', KEYS[4], 60000)
local participants = redis.call('ZCARD', KEYS[4])
local breaker = math.max(0, (tonumber(redis.call('GET', KEYS[6]) or '0')) - now)
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused > now then return {paused - now, participants, breaker} end
local rpm, tpm, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local wait, r, rcap, k, kcap = 0, 0, 0, 0, 0
if rpm > 0 then
  r, rcap = level(KEYS[1], rpm)
  local needed = math.min(1, rcap)
  if r < needed then wait = math.max(wait, math.ceil((needed - r) / rpm * 60000)) end
end
if tpm > 0 then
  k, kcap = level(KEYS[2], tpm)
  local needed = math.min(tokens, kcap)
  if k < needed then wait = math.max(wait, math.ceil((needed - k) / tpm * 60000)) end
end
if wait > 0 then return {wait, participants, breaker} end
if rpm > 0 then store(KEYS[1], r - (1 > rcap and 1 + rpm * margin / 60000 or 1)) end
if tpm > 0 then store(KEYS[2], k - (tokens > kcap and tokens + tpm * margin / 60000 or tokens)) end
return {0, participants, breaker}
`;

/** KEYS: tpm bucket. ARGV: (unused), tpm, tokens, (unused), margin ms. */
export const REFUND = `${BUCKET}
local tpm, tokens = tonumber(ARGV[2]), tonumber(ARGV[3])
local k, kcap = level(KEYS[1], tpm)
store(KEYS[1], math.min(kcap, k + tokens))
return 0
`;

/**
 * KEYS: pause (or breaker). ARGV: how long from now, in ms (Redis's now: the
 * machines' clocks may differ). Only ever moves the time later.
 */
export const PAUSE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > current and until_ > now then redis.call('SET', KEYS[1], until_, 'PX', math.ceil(until_ - now)) end
return 0
`;

/** KEYS: learnt limits. ARGV: rpm (0: unknown), tpm (0: unknown). What one process learnt, every process uses, for 10 minutes. */
export const LEARN = `
if tonumber(ARGV[1]) > 0 then redis.call('HSET', KEYS[1], 'rpm', ARGV[1]) end
if tonumber(ARGV[2]) > 0 then redis.call('HSET', KEYS[1], 'tpm', ARGV[2]) end
redis.call('PEXPIRE', KEYS[1], 600000)
return 0
`;

/**
 * The one probe for every process after a circuit breaker cooled down.
 * KEYS: breaker, probe. ARGV: this participant, how long its claim holds (ms:
 * a prober that dies frees it then). Returns {verdict, ms}: 'open' while the
 * breaker holds (a probe failed and opened it again), 'healthy' when a probe
 * found the endpoint well, 'wait' while another's probe is on its way, and
 * 'probe' when this process has claimed it.
 */
export const PROBE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > now then return {'open', until_ - now} end
local holder = redis.call('GET', KEYS[2])
if holder == 'healthy' then return {'healthy', 0} end
if holder then return {'wait', math.max(0, redis.call('PTTL', KEYS[2]))} end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return {'probe', 0}
`;

/**
 * The end of a probe. KEYS: probe. ARGV: the participant that claimed it,
 * 'healthy' or 'free', how long 'healthy' holds (ms). Only the holder's
 * claim changes: a probe that ran past its claim leaves another's alone.
 */
export const PROBE_DONE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'healthy' then redis.call('SET', KEYS[1], 'healthy', 'PX', ARGV[3]) else redis.call('DEL', KEYS[1]) end
return 1
`;
