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
 * Arguments are packed, one per call plus one per key, because each argument and each reply element
 * costs the client far more than the few string operations that unpack them here (ioredis 6
 * flattens and measures every argument, and decodes every reply element through several calls):
 *
 * ARGV[1]   the call: mode, nonce, a space, then now in ms, or nothing for the server's TIME (the
 *           normal case: every instance shares one clock). Mode: 'h' hit, 'r' record
 *           unconditionally, 'p' peek (read only). The nonce is unique to this call: members are
 *           `<nonce>:<i>`, so two hits in the same ms both count.
 * ARGV[1+i] key i's check: 'limit windowMs record(1/0) retentionMs', separated by spaces.
 *
 * Returns one string, fields separated by single spaces: now, then per key allowed (1/0), count,
 * oldest, blocking. oldest is empty when the window is empty; blocking (a denial on a window
 * holding more than `limit` hits: the limit-th newest hit, whose leaving frees a slot) is empty when
 * not reported, as in sliding-log.ts. Times travel as text: Redis would truncate Lua numbers that
 * are not integers.
 */
export const THROTTLE_SCRIPT = `
local mode, nonce, nowArg = string.match(ARGV[1], '^(.)(%S+) (.*)$')
local now
-- 'now' as text, exactly: a score for ZADD and the first reply field (string.format is costly in Lua).
local nowText
if nowArg == '' then
  if redis.replicate_commands then pcall(redis.replicate_commands) end
  local t = redis.call('TIME')
  local ms = math.floor(tonumber(t[2]) / 1000)
  now = tonumber(t[1]) * 1000 + ms
  nowText = t[1] .. string.sub(1000 + ms, 2)
else
  now = tonumber(nowArg)
  nowText = nowArg
end
local out = { nowText }
for i, key in ipairs(KEYS) do
  local limitArg, windowArg, recordArg, retentionArg = string.match(ARGV[1 + i], '^(%S+) (%S+) (%S+) (%S+)$')
  local limit = tonumber(limitArg)
  local window = tonumber(windowArg)
  local record = recordArg == '1'
  local retention = tonumber(retentionArg)
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
return table.concat(out, ' ')
`;

/** The script's SHA1, as EVALSHA wants it. */
export const THROTTLE_SCRIPT_SHA = createHash('sha1').update(THROTTLE_SCRIPT).digest('hex');
