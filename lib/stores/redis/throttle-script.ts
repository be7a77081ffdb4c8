import { createHash } from 'node:crypto';
import { ALGORITHM_LUA } from './algorithm-lua.js';
import { ALGORITHM_MODES_LUA } from './algorithm-modes-lua.js';

/**
 * The sliding-log script: DRF's allow_request for every check of one request, atomically, in one
 * EVALSHA. The same rules as lib/core/sliding-log.ts, on a Redis list per key holding the hit times
 * in ms, oldest first (a list, not a sorted set: appending and reading the ends cost a fraction of
 * ZADD and ZRANGE, and duplicate times need no unique member):
 *
 *   1. a check drops the hits at or before now - window from the head ('r' drops those at or before
 *      now - retention, retention = max(window, ttl)), at most DROP_CHUNK of them per call, so that
 *      no call holds Redis for long whatever the limit (a million hits sliding out at once are
 *      dropped over the next calls);
 *   2. the hits after the cutoff are the window: their number is the count and the first of them
 *      the oldest (when expired hits remain at the head, it is found by bisection with LINDEX:
 *      O(log n) probes, so the count is exact without dropping them all);
 *   3. deny when count >= limit (never recorded; with more than `limit` hits, report the one whose
 *      leaving frees a slot), else append `now` when asked to.
 *
 * Expiry, without a PEXPIRE per request: a key's expiry is set to now + 1.5 x retention when the
 * call leaves hits in it and it dropped some, appended to an empty key, or found its oldest hit older
 * than half a retention. Between two such calls nothing is dropped, so the oldest hit stays the one
 * present at the last one (at or before that call's time s), and every hit appended meanwhile came
 * while that oldest was under half a retention old, i.e. before s + retention / 2: the expiry
 * s + 1.5 x retention is at least a retention after each of them. An idle key disappears between
 * one and 1.5 retentions after its last hit, with no sweeper.
 *
 * Arguments are packed into one, because each argument and each reply element costs the client far
 * more than the few string operations that unpack them here (ioredis 6 flattens and measures every
 * argument, and decodes every reply element through several calls):
 *
 * ARGV[1]  space-separated: the mode ('h' hit, 'r' record unconditionally, 'p' peek: read only,
 *          'v' hit with reservations, 's' settle reservations), now in ms or '-' for the server's
 *          TIME (the normal case: every instance shares one clock), then for each key: limit,
 *          windowMs, record (1/0), retentionMs ('=' when it is windowMs); in 'v' also reserveMs
 *          ('0': none; 'x': the key has no pending set) and the reservation id ('-': none).
 *          Modes 'a', 'A', 'D', 'B' and 'c' take checks with an algorithm, a cost, a blockMs or
 *          allOrNothing, and counted records: see algorithm-modes-lua.ts. DRF's modes never enter
 *          their branch (one comparison), so DRF's requests cost what they did.
 *
 * Reservations ('v', 's'): KEYS come in pairs, a key's list and its pending set (a sorted set of
 * reservation id -> expiry in ms, in the same hash slot). A 'v' check drops the expired slots and
 * counts the others with the hits; an allowed one that reserves adds its slot. 's' takes, per pair,
 * commit (1/0), the id and retentionMs: it drops the slot, and a commit records the access as 'r'
 * does. 'v' replies a fifth field per key, the reservation held ('' when none); 's' replies now.
 *
 * Needs Redis 5 or later (or Valkey): scripts are replicated by their effects, so TIME may precede
 * writes.
 *
 * Returns one string, fields separated by single spaces: now, then per key allowed (1/0), count,
 * oldest, blocking. oldest is empty when the window is empty; blocking (a denial on a window
 * holding more than `limit` hits: the limit-th newest hit, whose leaving frees a slot) is empty when
 * not reported, as in sliding-log.ts. Times travel as text: Redis would truncate Lua numbers that
 * are not integers.
 *
 * A key that is not a list is refused with its name.
 *
 * Hits are appended in arrival order. Should the server's clock step back, a hit appended after the
 * step may sit behind a newer one and be dropped late: the count errs high (stricter), never low.
 */
export const THROTTLE_SCRIPT = `
-- Redis's Lua turns a number into text with the C library's float formatting, and text into a
-- number with strtod, each costing more than a command: numbers go to commands as text, integers
-- come back through '%d', and text becomes a number by arithmetic ('x + 0': one strtod, where
-- tonumber() runs two). Tables cost more than strings: the reply is built by concatenation.
local mode, nowArg, pos = string.match(ARGV[1], '^(%a) (%S+)()')
local now
-- 'now' as text, exactly: what the list stores and the first reply field.
local nowText
if nowArg == '-' then
  local t = redis.call('TIME')
  -- Seconds, then the first three of the six microsecond digits: milliseconds, built as text.
  nowText = t[1] .. string.sub(string.rep('0', 6 - #t[2]) .. t[2], 1, 3)
else
  nowText = nowArg
end
now = nowText + 0

-- Called when a key is not a list: not ours to overwrite, so the call fails, naming the key.
local function refuse(key)
  local kind = redis.call('TYPE', key)['ok']
  error({ err = 'nestjs-throttling: key ' .. key .. ' holds a ' .. kind .. ', not a list of hit times' })
end

-- The most expired hits one call drops. LTRIM of this many costs a few tens of microseconds; the
-- rest are dropped by the next calls, and counted out meanwhile by bisection.
local DROP_CHUNK = 1000

-- How many of the list's first 'length' hits are at or before cutoff, given that the first 'known'
-- are (bisection with LINDEX: O(log n) probes, each walking the list from its nearer end).
local function expiredBefore(key, cutoff, known, length)
  local low, high = known, length
  while low < high do
    local mid = math.floor((low + high) / 2)
    if redis.call('LINDEX', key, string.format('%d', mid)) + 0 <= cutoff then low = mid + 1 else high = mid end
  end
  return low
end

-- Drops the hits at or before cutoff from the head (they are in time order), at most DROP_CHUNK of
-- them. Returns the oldest hit after cutoff, as text and as a number (nil when none), whether
-- anything was dropped, and how many hits at or before cutoff are still at the head (stale: the
-- list's length minus them is the count).
local function dropUpTo(key, cutoff)
  -- pcall: the first command on the key, so that a key of another type is named. One element, not
  -- LRANGE's two: a reply table costs more than the command.
  local text = redis.pcall('LINDEX', key, '0')
  if type(text) == 'table' then refuse(key) end
  if not text then return nil, nil, false, 0 end
  local first = text + 0
  if first > cutoff then return text, first, false, 0 end
  -- The usual case under steady traffic: one hit left the window since the last request.
  redis.call('LPOP', key)
  text = redis.call('LINDEX', key, '0')
  if not text then return nil, nil, true, 0 end
  first = text + 0
  if first > cutoff then return text, first, true, 0 end
  -- More left it: find where the window starts, drop a bounded chunk before it.
  local length = redis.call('LLEN', key)
  local expired = expiredBefore(key, cutoff, 1, length)
  local dropped = expired < DROP_CHUNK and expired or DROP_CHUNK
  redis.call('LTRIM', key, string.format('%d', dropped), '-1')
  local stale = expired - dropped
  if expired == length then return nil, nil, true, stale end
  text = redis.call('LINDEX', key, string.format('%d', stale))
  return text, text + 0, true, stale
end

-- Peek: the hits after cutoff, read only. Older hits may still be there ('r' keeps them up to the
-- retention, and a check drops a bounded chunk per call), so the first one inside is found by bisection.
local function countAfter(key, cutoff)
  local length = redis.pcall('LLEN', key)
  if type(length) == 'table' then refuse(key) end
  if length == 0 then return 0, nil end
  local head = redis.call('LINDEX', key, '0')
  if head + 0 > cutoff then return length, head end
  local expired = expiredBefore(key, cutoff, 1, length)
  if expired == length then return 0, nil end
  return length - expired, redis.call('LINDEX', key, string.format('%d', expired))
end

-- The algorithm modes (algorithm-modes-lua.ts), in a branch of their own: DRF's modes pass it at
-- one comparison, without creating its functions.
if mode ~= 'h' and mode ~= 'v' and mode ~= 'r' and mode ~= 'p' and mode ~= 's' then
${ALGORITHM_LUA}${ALGORITHM_MODES_LUA}
end

if mode == 's' then
  for k = 1, #KEYS, 2 do
    local commitArg, id, retentionArg, nextPos = string.match(ARGV[1], '^ (%S+) (%S+) (%S+)()', pos)
    pos = nextPos
    redis.call('ZREM', KEYS[k + 1], id)
    if commitArg == '1' then
      local retention = retentionArg + 0
      dropUpTo(KEYS[k], now - retention)
      redis.call('RPUSH', KEYS[k], nowText)
      redis.call('PEXPIRE', KEYS[k], string.format('%d', math.ceil(retention * 1.5)))
    end
  end
  return nowText
end

local out = nowText
local checking = mode == 'h' or mode == 'v'
for k = 1, #KEYS, (mode == 'v' and 2 or 1) do
  local key = KEYS[k]
  local limitArg, windowArg, recordArg, retentionArg, nextPos = string.match(ARGV[1], '^ (%S+) (%S+) (%S+) (%S+)()', pos)
  pos = nextPos
  local pendingKey, reserveArg, reservationId
  if mode == 'v' then
    pendingKey = KEYS[k + 1]
    reserveArg, reservationId, nextPos = string.match(ARGV[1], '^ (%S+) (%S+)()', pos)
    pos = nextPos
    -- 'x': the key has no pending set (its companion could not share its Cluster slot).
    if reserveArg == 'x' then pendingKey = nil end
  end
  local limit = limitArg + 0
  local window = windowArg + 0
  local record = mode == 'r' or recordArg == '1'
  -- '=': kept as long as the window (every DRF throttle), which spares parsing it again.
  local retention = retentionArg == '=' and window or retentionArg + 0
  local count, oldest, oldestTime, dropped, stale
  local allowed = true
  local blocking = ''
  if mode == 'p' then
    count, oldest = countAfter(key, now - window)
  else
    oldest, oldestTime, dropped, stale = dropUpTo(key, now - (mode == 'r' and retention or window))
    local appended = false
    if record then
      -- Append first: RPUSH answers the length, which spares an LLEN; a denial takes the hit back.
      count = redis.call('RPUSH', key, nowText) - 1 - stale
      appended = true
    else
      count = redis.call('LLEN', key) - stale
    end
    local hits = count
    if pendingKey then
      redis.call('ZREMRANGEBYSCORE', pendingKey, '-inf', nowText)
      count = hits + redis.call('ZCARD', pendingKey)
    end
    if checking and count >= limit then
      allowed = false
      if appended then
        redis.call('RPOP', key)
        appended = false
      end
      if hits > limit and limit > 0 then blocking = redis.call('LINDEX', key, string.format('%d', stale + hits - limit)) end
    end
    if mode == 'v' then
      local reserved = ''
      if pendingKey and allowed and not record and reserveArg ~= '0' then
        redis.call('ZADD', pendingKey, string.format('%.3f', now + reserveArg), reservationId)
        if redis.call('PTTL', pendingKey) < reserveArg + 0 then redis.call('PEXPIRE', pendingKey, reserveArg) end
        reserved = reservationId
      end
      blocking = blocking .. ' ' .. reserved
    end
    if (appended or hits > 0) and (mode == 'r' or dropped or (appended and hits == 0) or (oldestTime and oldestTime <= now - retention / 2)) then
      redis.call('PEXPIRE', key, string.format('%d', math.ceil(retention * 1.5)))
    end
  end
  out = out .. (allowed and ' 1 ' or ' 0 ') .. string.format('%d', count) .. ' ' .. (oldest or '') .. ' ' .. blocking
end
return out
`;

/**
 * The commands the script calls inside Redis (lower case, as INFO commandstats names them): counted
 * there, but never sent by a client. Tests and benchmarks tell the commands on the wire by it.
 */
export const THROTTLE_SCRIPT_COMMANDS: ReadonlySet<string> = new Set([...THROTTLE_SCRIPT.matchAll(/redis\.p?call\('([A-Z]+)'/g)].map((match) => match[1].toLowerCase()));

/** The script's SHA1, as EVALSHA wants it. */
export const THROTTLE_SCRIPT_SHA = createHash('sha1').update(THROTTLE_SCRIPT).digest('hex');
