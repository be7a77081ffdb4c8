import { createHash } from 'node:crypto';

/**
 * The sliding-log script: DRF's allow_request for every check of one request, atomically, in one
 * EVALSHA. The same rules as lib/core/sliding-log.ts, on a sorted set per key (score = hit time in ms):
 *
 *   1. drop hits at or before now - retention (retention = max(window, ttl));
 *   2. count the hits inside the window (after now - window) and find the oldest of them;
 *   3. deny when count >= limit (never recorded; with more than `limit` hits, report the one whose
 *      leaving frees a slot), else record `now` when asked to and push the
 *      key's expiry out to `now + retention`, so Redis memory is reclaimed without a sweeper.
 *
 * ARGV[1] mode: 'h' hit, 'r' record unconditionally, 'p' peek (read only)
 * ARGV[2] now in ms, or '' for the server's TIME (the normal case: every instance shares one clock)
 * ARGV[3] a nonce unique to this call: members are `<nonce>:<i>`, so two hits in the same ms both count
 * then per key, 4 arguments: limit, windowMs, record (1/0), retentionMs
 *
 * Returns { now, allowed1, count1, oldest1, blocking1, allowed2, ... }; oldest is '' when the window
 * is empty; blocking (a denial on a window holding more than `limit` hits: the limit-th newest hit,
 * whose leaving frees a slot) is '' when not reported, as in sliding-log.ts.
 * Times travel as strings: Redis would truncate Lua numbers that are not integers.
 */
export const THROTTLE_SCRIPT = `
local mode = ARGV[1]
local now
-- 'now' as text, exactly: a score for ZADD and the first reply field (string.format is costly in Lua).
local nowText
if ARGV[2] == '' then
  if redis.replicate_commands then pcall(redis.replicate_commands) end
  local t = redis.call('TIME')
  local ms = math.floor(tonumber(t[2]) / 1000)
  now = tonumber(t[1]) * 1000 + ms
  nowText = t[1] .. string.sub(1000 + ms, 2)
else
  now = tonumber(ARGV[2])
  nowText = ARGV[2]
end
local nonce = ARGV[3]
local out = { nowText }
for i, key in ipairs(KEYS) do
  local base = 3 + (i - 1) * 4
  local limit = tonumber(ARGV[base + 1])
  local window = tonumber(ARGV[base + 2])
  local record = ARGV[base + 3] == '1'
  local retention = tonumber(ARGV[base + 4])
  local windowStart
  local count = 0
  local first
  if mode == 'h' and retention <= window then
    -- The common case, in O(1) reads: the oldest hit tells whether anything needs pruning at all.
    local head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if head[2] then
      if tonumber(head[2]) <= now - retention then
        redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.17g', now - retention))
        head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
      end
      if head[2] then
        first = head[2]
        count = redis.call('ZCARD', key)
      end
    end
  elseif mode == 'r' then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.17g', now - retention))
  else
    windowStart = '(' .. string.format('%.17g', now - window)
    if mode == 'h' then redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.17g', now - retention)) end
    count = redis.call('ZCOUNT', key, windowStart, '+inf')
    if count > 0 then
      first = redis.call('ZRANGEBYSCORE', key, windowStart, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)[2]
    end
  end
  local allowed = mode == 'r' or count < limit
  local blocking = ''
  if not allowed and count > limit and limit > 0 then
    windowStart = windowStart or ('(' .. string.format('%.17g', now - window))
    blocking = redis.call('ZRANGEBYSCORE', key, windowStart, '+inf', 'WITHSCORES', 'LIMIT', count - limit, 1)[2]
  end
  if allowed and mode ~= 'p' and (record or mode == 'r') then
    redis.call('ZADD', key, nowText, nonce .. ':' .. i)
    redis.call('PEXPIRE', key, math.ceil(retention))
  end
  out[#out + 1] = allowed and 1 or 0
  out[#out + 1] = count
  out[#out + 1] = first or ''
  out[#out + 1] = blocking
end
return out
`;

/** The script's SHA1, as EVALSHA wants it. */
export const THROTTLE_SCRIPT_SHA = createHash('sha1').update(THROTTLE_SCRIPT).digest('hex');
