/**
 * The counting algorithms of lib/core/algorithms/ as Lua functions, to be concatenated into the one
 * request script (throttle-script.ts) so that a request's checks, in any mix of algorithms, stay one
 * EVALSHA. Each works on one Redis hash per key with a fixed set of short fields, and sets PEXPIRE
 * on every write so that an idle key disappears once its state no longer matters.
 *
 * The arithmetic is the TypeScript cores' own, operation for operation, on IEEE doubles in both
 * languages, so both give the same integers (test/redis/algorithm-lua.spec.ts checks it):
 *
 *   fixedWindow(key, now, limit, periodMs, cost, commit)           fields w (window start), n (used)
 *   slidingWindow(key, now, limit, periodMs, cost, commit)         fields w, c (current), p (previous)
 *   gcra(key, now, limit, periodMs, cost, burst, commit)           fields t (TAT, ms), f (its fraction, 1/limit ms)
 *   withBlock(key, now, blockForMs, reportedLimit, commit, algorithm, <its arguments>)   field b (blocked until)
 *
 * commit false only answers, writing nothing (see lib/core/algorithms/block-for.ts): the script
 * runs every check of a request so, then again with commit true, all of them when all allowed, else
 * the denied ones (which writes their blocks only).
 *
 * A state read only counts when all of its fields are there: a hash left by another algorithm (the
 * throttle's algorithm was changed) starts afresh rather than failing the request's script.
 *
 * Each returns allowed (boolean), limit, remaining, resetMs, waitMs (-1 = never). Numbers go to
 * Redis through integerText(): Redis would write a Lua number as a float, and truncates numbers in
 * replies, so everything stored or replied is an integer written as text.
 */

/** Shared by the snippets below; include once, first. */
export const ALGORITHM_LUA_HELPERS = `
local function integerText(x) return string.format('%d', x) end
`;

export const FIXED_WINDOW_LUA = `
local function fixedWindow(key, now, limit, periodMs, cost, commit)
  local state = redis.call('HMGET', key, 'w', 'n')
  local windowStart = now - (now % periodMs)
  local used = 0
  if state[1] and state[2] and state[1] + 0 == windowStart then used = state[2] + 0 end
  local toWindowEnd = windowStart + periodMs - now
  local allowed = used + cost <= limit
  if allowed then used = used + cost end
  if allowed and commit then
    redis.call('HSET', key, 'w', integerText(windowStart), 'n', integerText(used))
    redis.call('PEXPIRE', key, integerText(toWindowEnd))
  end
  local wait = 0
  if not allowed then
    if cost > limit then wait = -1 else wait = toWindowEnd end
  end
  return allowed, limit, math.max(0, limit - used), toWindowEnd, wait
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

local function slidingWindow(key, now, limit, periodMs, cost, commit)
  local state = redis.call('HMGET', key, 'w', 'c', 'p')
  local windowStart = now - (now % periodMs)
  local current, previous = 0, 0
  if state[1] and state[2] and state[3] then
    local storedStart = state[1] + 0
    if storedStart == windowStart then
      current = state[2] + 0
      previous = state[3] + 0
    elseif storedStart + periodMs == windowStart then
      previous = state[2] + 0
    end
  end
  local allowed = previous * (1 - (now - windowStart) / periodMs) + current + cost <= limit
  if allowed then current = current + cost end
  if allowed and commit then
    redis.call('HSET', key, 'w', integerText(windowStart), 'c', integerText(current), 'p', integerText(previous))
    redis.call('PEXPIRE', key, integerText(windowStart + 2 * periodMs - now))
  end
  local remaining = math.max(0, math.floor(limit - (previous * (1 - (now - windowStart) / periodMs) + current)))
  local wait = 0
  if not allowed then wait = slidingWindowWait(windowStart, current, previous, now, limit, periodMs, cost) end
  local reset = slidingWindowWait(windowStart, current, previous, now, limit, periodMs, math.min(remaining + 1, limit))
  if reset < 0 then reset = 0 end
  return allowed, limit, remaining, reset, wait
end
`;

export const GCRA_LUA = `
-- Ms until cost units fit, given the debt (TAT - now, in 1/limit ms), rounded up.
local function gcraWait(debt, cost, limit, periodMs, burst)
  local excess = debt + cost * periodMs - burst * periodMs
  if excess <= 0 then return 0 end
  return math.ceil(excess / limit)
end

local function gcra(key, now, limit, periodMs, cost, burst, commit)
  local state = redis.call('HMGET', key, 't', 'f')
  local debt = 0
  if state[1] and state[2] then
    local tat = state[1] + 0
    if tat >= now then debt = (tat - now) * limit + state[2] end
  end
  local tolerance = burst * periodMs
  local allowed = debt + cost * periodMs <= tolerance
  local after = debt
  if allowed then after = debt + cost * periodMs end
  if allowed and commit then
    local whole = math.floor(after / limit)
    redis.call('HSET', key, 't', integerText(now + whole), 'f', integerText(after - whole * limit))
    redis.call('PEXPIRE', key, integerText(whole + 1))
  end
  local remaining = math.floor((tolerance - after) / periodMs)
  local wait = 0
  if not allowed then
    if cost > burst then wait = -1 else wait = gcraWait(after, cost, limit, periodMs, burst) end
  end
  local reset = 0
  if remaining < burst then reset = gcraWait(after, remaining + 1, limit, periodMs, burst) end
  return allowed, burst, remaining, reset, wait
end
`;

/** blockFor over any of the above: the rule of lib/core/algorithms/block-for.ts. */
export const BLOCK_FOR_LUA = `
local function withBlock(key, now, blockForMs, reportedLimit, commit, algorithm, ...)
  -- No block is ever written without blockFor, which spares the read.
  if blockForMs > 0 then
    local blockedUntil = redis.call('HGET', key, 'b')
    if blockedUntil then
      if now < blockedUntil + 0 then
        local left = blockedUntil - now
        return false, reportedLimit, 0, left, left
      end
      -- Over: the field goes, so that only a blocked key pays for it.
      if commit then redis.call('HDEL', key, 'b') end
    end
  end
  local allowed, limit, remaining, reset, wait = algorithm(key, now, ...)
  if allowed or wait < 0 or blockForMs <= 0 then return allowed, limit, remaining, reset, wait end
  local left = math.max(blockForMs, wait)
  if commit then
    redis.call('HSET', key, 'b', integerText(now + left))
    if redis.call('PTTL', key) < left then redis.call('PEXPIRE', key, integerText(left)) end
  end
  return false, limit, 0, left, left
end
`;

/** Every snippet, in an order that defines each function before its first use. */
export const ALGORITHM_LUA = ALGORITHM_LUA_HELPERS + FIXED_WINDOW_LUA + SLIDING_WINDOW_LUA + GCRA_LUA + BLOCK_FOR_LUA;
