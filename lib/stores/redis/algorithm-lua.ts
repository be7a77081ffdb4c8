/**
 * The counting algorithms of lib/core/algorithms/ as Lua functions, concatenated into the one
 * request script (throttle-script.ts) so that a request's checks, in any mix of algorithms, stay one
 * EVALSHA; test/redis/algorithm-lua.spec.ts runs them against the TypeScript cores.
 *
 * The cores are pure: each takes a key's state (a table) and returns the decision and, when the
 * request is counted, the state after it, writing nothing. The caller decides what is written
 * (every check of an all-or-nothing request is decided before anything is), through
 * loadCounter()/storeCounter():
 *
 *   fixedWindow(state, now, limit, periodMs, cost, burst, force)     state: index (of the window), used
 *   slidingWindow(state, now, limit, periodMs, cost, burst, force)   state: index, current, previous
 *   gcra(state, now, limit, periodMs, cost, burst, force)            state: tat (ms), fraction (1/limit ms)
 *   withBlock(state, now, blockForMs, reportedLimit, core, <its arguments>)   state: b (blocked until, 0: none;
 *                                                                            read only with a blockForMs)
 *
 * Each returns allowed, limit, remaining, resetMs, waitMs (-1 = never), the counted state (nil when
 * denied); withBlock also the time a block it starts ends (nil when none). `force` counts the cost
 * even past the limit (a recorded hit: bytes already sent). burst is gcra's; the windows ignore it.
 *
 * The arithmetic is the TypeScript cores' own, operation for operation, on IEEE doubles in both
 * languages, so both give the same integers. One difference: a gcra fraction read under
 * another rate than it was written with is capped below the limit (its TAT off by under 1 ms).
 *
 * One key is one string (STATE_CODEC_LUA below), kept as an integer by Redis whenever it fits: for a
 * `throttle:throttle_user_{123456}:fw` key, 88 B by MEMORY USAGE, where a hash of the same fields
 * takes 120 B. Every write sets the key's expiry to what its state needs, so idle keys vanish.
 */

/** Shared by the snippets below; include once, first. */
export const ALGORITHM_LUA_HELPERS = `
local function integerText(x) return string.format('%d', x) end
`;

/**
 * A state as decimal text: the fields in decimal, preceded by one character per field but the last
 * giving its length (base 36: '1'..'9', then 'a' = 10...), the last field taking the rest; a running
 * block in front, as 'b<until>.'. Fields: fixed window used, index; sliding window current,
 * previous, index; gcra fraction / scale, tat (the time field last: it is the long one).
 *
 * Why decimal digits: Redis keeps a string that reads as a 64-bit integer as the integer itself, in
 * the key's object (16 B), where any other string costs 32 B or more, and a hash 48 B or more. An
 * idle key's fields fit 19 digits at the usual limits (a minute window's index is 8 digits, a TAT
 * 13); larger ones only make the text longer, never inexact.
 *
 * The gcra fraction is always a multiple of gcd(limit, period) (TATs move by whole periods in
 * 1/limit ms), so it is stored divided by it (gcraScale): '1000000/day' keeps one digit, not six.
 */
export const STATE_CODEC_LUA = `
local LENGTH_DIGITS = '123456789abcdefghijklmnopqrstuvwxyz'

local function withLength(field)
  local length = #field
  return string.sub(LENGTH_DIGITS, length, length)
end

-- The fields of a state string (the block, then up to three), or nil when it is not one of
-- 'count' fields. Returned as values: a table per read would cost more than the parsing.
local function decodeFields(text, count)
  local blockedUntil, start = 0, 1
  -- 98: 'b', a running block.
  if string.byte(text, 1) == 98 then
    local dot = string.find(text, '.', 2, true)
    if not dot then return nil end
    blockedUntil = tonumber(string.sub(text, 2, dot - 1))
    if not blockedUntil then return nil end
    start = dot + 1
  end
  local first = tonumber(string.sub(text, start, start), 36)
  if not first or first == 0 then return nil end
  if count == 2 then
    local at = start + 1
    return blockedUntil, tonumber(string.sub(text, at, at + first - 1)), tonumber(string.sub(text, at + first))
  end
  local second = tonumber(string.sub(text, start + 1, start + 1), 36)
  if not second or second == 0 then return nil end
  local at = start + 2
  return blockedUntil, tonumber(string.sub(text, at, at + first - 1)), tonumber(string.sub(text, at + first, at + first + second - 1)), tonumber(string.sub(text, at + first + second))
end

local function encodeFields(now, blockedUntil, a, b, c)
  local text
  if c then
    local first, second = integerText(a), integerText(b)
    text = withLength(first) .. withLength(second) .. first .. second .. integerText(c)
  else
    local first = integerText(a)
    text = withLength(first) .. first .. integerText(b)
  end
  -- A block that is over is left out: only a blocked key pays for it.
  if blockedUntil > now then text = 'b' .. integerText(blockedUntil) .. '.' .. text end
  return text
end

-- What the gcra fraction is stored divided by: gcd(limit, period) (1 for a rate that is not in
-- whole numbers, where the fraction is kept as it is).
local function gcraScale(limit, periodMs)
  if limit % 1 ~= 0 or periodMs % 1 ~= 0 or limit < 1 or periodMs < 1 then return 1 end
  local a, b = limit, periodMs
  while b > 0 do a, b = b, a % b end
  return a
end

-- kind: 'f' fixed window, 's' sliding window, 'g' gcra. A key that is missing, or holds a string
-- of another shape, starts afresh; a key of another type is not ours, and fails the call naming it.
local function loadCounter(key, kind, limit, scale)
  local text = redis.pcall('GET', key)
  if type(text) == 'table' then
    error({ err = 'nestjs-throttling: key ' .. key .. ' holds a ' .. redis.call('TYPE', key)['ok'] .. ', not a counter' })
  end
  if kind == 's' then
    if text then
      local b, current, previous, index = decodeFields(text, 3)
      if index then return { current = current, previous = previous, index = index, b = b } end
    end
    return { current = 0, previous = 0, index = 0, b = 0 }
  end
  local b, first, second
  if text then b, first, second = decodeFields(text, 2) end
  if kind == 'f' then
    if second then return { used = first, index = second, b = b } end
    return { used = 0, index = 0, b = 0 }
  end
  if second then return { fraction = math.min(first * scale, limit - 1), tat = second, b = b } end
  return { fraction = 0, tat = 0, b = 0 }
end

-- Ms the key must be kept for its state: its window, its TAT, its block, whichever is last.
local function counterRetention(kind, state, now, periodMs)
  local keep
  if kind == 'f' then keep = (state.index + 1) * periodMs - now
  elseif kind == 's' then keep = (state.index + 2) * periodMs - now
  else keep = state.tat + 1 - now end
  return math.max(1, keep, state.b - now)
end

-- keptAtLeast: ms the key is kept whatever its state needs (1; a test clock's time runs faster than
-- the server's, so the store keeps its keys longer there).
local function storeCounter(key, kind, state, now, periodMs, scale, keptAtLeast)
  local text
  if kind == 'f' then text = encodeFields(now, state.b, state.used, state.index)
  elseif kind == 's' then text = encodeFields(now, state.b, state.current, state.previous, state.index)
  else text = encodeFields(now, state.b, state.fraction / scale, state.tat) end
  redis.call('SET', key, text, 'PX', integerText(math.max(keptAtLeast, counterRetention(kind, state, now, periodMs))))
end

-- The state with a block until blockedUntil.
local function withBlockedUntil(kind, state, blockedUntil)
  if kind == 'f' then return { used = state.used, index = state.index, b = blockedUntil } end
  if kind == 's' then return { current = state.current, previous = state.previous, index = state.index, b = blockedUntil } end
  return { fraction = state.fraction, tat = state.tat, b = blockedUntil }
end
`;

export const FIXED_WINDOW_LUA = `
local function fixedWindow(state, now, limit, periodMs, cost, burst, force)
  local windowStart = now - (now % periodMs)
  local index = windowStart / periodMs
  local used = 0
  if state.index == index then used = state.used end
  local toWindowEnd = windowStart + periodMs - now
  local allowed = force or used + cost <= limit
  local counted
  if allowed then
    used = used + cost
    counted = { used = used, index = index, b = state.b }
  end
  local wait = 0
  if not allowed then
    if cost > limit then wait = -1 else wait = toWindowEnd end
  end
  return allowed, limit, math.max(0, limit - used), toWindowEnd, wait, counted
end

local function fixedWindowInUse(state, now, periodMs)
  if state.index == (now - (now % periodMs)) / periodMs then return state.used end
  return 0
end
`;

export const SLIDING_WINDOW_LUA = `
local function slidingWindowWait(windowStart, current, previous, now, limit, periodMs, cost)
  if cost > limit then return -1 end
  local room = limit - cost
  if previous * (1 - (now - windowStart) / periodMs) + current <= room then return 0 end
  local at
  if current <= room then
    at = windowStart + periodMs * (1 - (room - current) / previous)
  else
    at = windowStart + periodMs + periodMs * (1 - room / current)
  end
  return math.max(0, math.ceil(at - now))
end

-- The counters of the window holding now: as stored, or the stored current become the previous, or none.
local function slidingWindowCounters(state, index)
  if state.index == index then return state.current, state.previous end
  if state.index + 1 == index then return 0, state.current end
  return 0, 0
end

local function slidingWindow(state, now, limit, periodMs, cost, burst, force)
  local windowStart = now - (now % periodMs)
  local index = windowStart / periodMs
  local current, previous = slidingWindowCounters(state, index)
  local allowed = force or previous * (1 - (now - windowStart) / periodMs) + current + cost <= limit
  local counted
  if allowed then
    current = current + cost
    counted = { current = current, previous = previous, index = index, b = state.b }
  end
  local remaining = math.max(0, math.floor(limit - (previous * (1 - (now - windowStart) / periodMs) + current)))
  local wait = 0
  if not allowed then wait = slidingWindowWait(windowStart, current, previous, now, limit, periodMs, cost) end
  local reset = slidingWindowWait(windowStart, current, previous, now, limit, periodMs, math.min(remaining + 1, limit))
  if reset < 0 then reset = 0 end
  return allowed, limit, remaining, reset, wait, counted
end

-- The estimate now, rounded up: the units in use.
local function slidingWindowInUse(state, now, periodMs)
  local windowStart = now - (now % periodMs)
  local current, previous = slidingWindowCounters(state, windowStart / periodMs)
  return math.ceil(previous * (1 - (now - windowStart) / periodMs) + current)
end
`;

export const GCRA_LUA = `
-- Ms until cost units fit, given the debt (TAT - now, in 1/limit ms), rounded up.
local function gcraWait(debt, cost, limit, periodMs, burst)
  local excess = debt + cost * periodMs - burst * periodMs
  if excess <= 0 then return 0 end
  return math.ceil(excess / limit)
end

-- TAT - now in 1/limit ms, 0 when the TAT is past (an idle key owes nothing).
local function gcraDebt(state, now, limit)
  if state.tat >= now then return (state.tat - now) * limit + state.fraction end
  return 0
end

local function gcra(state, now, limit, periodMs, cost, burst, force)
  local debt = gcraDebt(state, now, limit)
  local tolerance = burst * periodMs
  local allowed = force or debt + cost * periodMs <= tolerance
  local after = debt
  local counted
  if allowed then
    after = debt + cost * periodMs
    local whole = math.floor(after / limit)
    counted = { tat = now + whole, fraction = after - whole * limit, b = state.b }
  end
  -- As the TypeScript core: below 0 after units recorded past the burst (see the file's comment).
  local remaining = math.max(0, math.floor((tolerance - after) / periodMs))
  local wait = 0
  if not allowed then
    if cost > burst then wait = -1 else wait = gcraWait(after, cost, limit, periodMs, burst) end
  end
  local reset = 0
  if remaining < burst then reset = gcraWait(after, remaining + 1, limit, periodMs, burst) end
  return allowed, burst, remaining, reset, wait, counted
end

-- The units the debt stands for, rounded up (one unit is periodMs in 1/limit ms).
local function gcraInUse(state, now, limit, periodMs)
  return math.ceil(gcraDebt(state, now, limit) / periodMs)
end
`;

/** blockFor over any of the above: the rule of lib/core/algorithms/block-for.ts. */
export const BLOCK_FOR_LUA = `
local function withBlock(state, now, blockForMs, reportedLimit, core, ...)
  -- Without blockMs a check neither reads nor writes a block (lib/core/algorithms/counter-check.ts).
  if blockForMs > 0 and now < state.b then
    local left = state.b - now
    return false, reportedLimit, 0, left, left, nil, nil
  end
  local allowed, limit, remaining, reset, wait, counted = core(state, now, ...)
  if allowed or wait < 0 or blockForMs <= 0 then return allowed, limit, remaining, reset, wait, counted, nil end
  local left = math.max(blockForMs, wait)
  return false, limit, 0, left, left, nil, now + left
end

local CORES = { f = fixedWindow, s = slidingWindow, g = gcra }

local function unitsInUse(kind, state, now, limit, periodMs)
  if kind == 'f' then return fixedWindowInUse(state, now, periodMs) end
  if kind == 's' then return slidingWindowInUse(state, now, periodMs) end
  return gcraInUse(state, now, limit, periodMs)
end
`;

/** Every snippet, in an order that defines each function before its first use. */
export const ALGORITHM_LUA = ALGORITHM_LUA_HELPERS + STATE_CODEC_LUA + FIXED_WINDOW_LUA + SLIDING_WINDOW_LUA + GCRA_LUA + BLOCK_FOR_LUA;
