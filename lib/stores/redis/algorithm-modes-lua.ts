/**
 * The script's algorithm modes (see throttle-script.ts for the call's layout): checks that carry an
 * algorithm, a cost, a blockMs or allOrNothing, in any mix, and counted records. Spliced into the
 * script after its sliding-log functions, inside a branch that DRF's modes never enter, so that a
 * DRF request runs exactly the code it ran before (its functions are not even created).
 *
 * Modes:
 *   'a'  checks, each deciding alone (DRF's rule: every check that allows is counted);
 *   'A'  all or nothing: every check is decided first; all are counted when all allow, else
 *        nothing is but the blocks of the denied ones (lib/core/algorithms/block-for.ts);
 *   'D'  as 'A', writing nothing: the first pass over one hash tag of a request that spans several
 *        on a Cluster (the store then commits with 'A', or writes the blocks with 'B');
 *   'B'  as 'A' for a request known to be denied (elsewhere: another tag, a cached denial): only
 *        the denied checks' blocks are written;
 *   'c'  counted records: units added even past the limit (BandwidthThrottle's bytes sent).
 *
 * Per check, after the mode and the time: kind ('l' sliding log, 'f' fixed window, 's' sliding
 * window, 'g' gcra), limit, windowMs, cost, record (1/0: 0 only answers), blockMs, then
 *   'g': burst;
 *   'l': retentionMs ('=': the window), reserve ('-': pending slots not read; 'x': the key has none;
 *        '0': read, none held; else ms to hold one), the reservation id ('-': none).
 * KEYS per check: a counter's key; for 'l' the log, its pending set and its block key (the log
 * again in place of one that is not used).
 * Per record ('c'): kind, limit, windowMs, cost, then retentionMs ('l'), burst ('g') or '-'.
 *
 * The reply: now, then per check nine fields: allowed (1/0), count, oldest, blocking (as in 'h'),
 * then the outcome: limit, remaining, resetMs, waitMs (empty: never), and the reservation held
 * ('' when none). A DRF-plain sliding-log check (cost 1, no blockMs) reports no outcome (four empty
 * fields): throttles keep DRF's formula for it. A counter's count is the units in use before the
 * request, rounded up; its oldest and blocking are empty. 'c' replies now.
 *
 * A sliding-log check with cost n is allowed when count + n <= limit and appends n hits at now.
 * Its outcome (lead's semantics): remaining = limit - count (- n when allowed), at least 0; resetMs
 * = ms until the unit whose leaving lets remaining grow leaves (the window for units appended now);
 * waitMs = ms until enough hits leave for n to fit. Its block is a string key of its own (`:block`,
 * blocked-until in ms, expiring with the block), read only when the check has a blockMs.
 *
 * Every check is decided before anything is written, against the state the earlier checks of the
 * call leave (so the same key twice counts twice), and each key is written once at the end.
 */
export const ALGORITHM_MODES_LUA = `
-- A command's arguments are bounded: a large cost on a sliding log is appended in chunks.
local APPEND_CHUNK = 1000

local function appendHits(key, n)
  if n == 1 then return redis.call('RPUSH', key, nowText) end
  local batch = {}
  for i = 1, math.min(n, APPEND_CHUNK) do batch[i] = nowText end
  while n > 0 do
    if n < #batch then batch = { unpack(batch, 1, n) } end
    redis.call('RPUSH', key, unpack(batch))
    n = n - #batch
  end
end

if mode == 'c' then
  for k = 1, #KEYS do
    local kind, limitArg, windowArg, costArg, extraArg, nextPos = string.match(ARGV[1], '^ (%a) (%S+) (%S+) (%S+) (%S+)()', pos)
    pos = nextPos
    local key, limit, periodMs, cost = KEYS[k], limitArg + 0, windowArg + 0, costArg + 0
    if kind == 'l' then
      local retention = extraArg == '=' and periodMs or extraArg + 0
      dropUpTo(key, now - retention)
      appendHits(key, cost)
      redis.call('PEXPIRE', key, string.format('%d', math.ceil(retention * 1.5)))
    else
      local burst = kind == 'g' and extraArg + 0 or limit
      local scale = kind == 'g' and gcraScale(limit, periodMs) or 1
      local _, _, _, _, _, counted = CORES[kind](loadCounter(key, kind, limit, scale), now, limit, periodMs, cost, burst, true)
      storeCounter(key, kind, counted, now, periodMs, scale)
    end
  end
  return nowText
end

-- Per key, what the call read and would write: counters by key, sliding logs by key, in first-seen order.
local counters, counterOrder = {}, {}
local logs, logOrder = {}, {}

local function evaluateCounter(check)
  local kind, key = check.kind, check.key
  local entry = counters[key]
  if not entry then
    local scale = kind == 'g' and gcraScale(check.limit, check.periodMs) or 1
    local stored = loadCounter(key, kind, check.limit, scale)
    entry = { kind = kind, stored = stored, state = stored, periodMs = check.periodMs, scale = scale, changed = false, blockedUntil = 0 }
    counters[key] = entry
    counterOrder[#counterOrder + 1] = key
  end
  check.count = unitsInUse(kind, entry.state, now, check.limit, check.periodMs)
  local reportedLimit = kind == 'g' and check.burst or check.limit
  local allowed, limit, remaining, reset, wait, counted, blockedUntil = withBlock(entry.state, now, check.blockForMs, reportedLimit, CORES[kind], check.limit, check.periodMs, check.cost, check.burst, false)
  if allowed and check.record then
    entry.state = counted
    entry.changed = true
  elseif blockedUntil then
    local blocked = copyState(entry.state)
    blocked.b = blockedUntil
    entry.state = blocked
    entry.changed = true
    entry.blockedUntil = math.max(entry.blockedUntil, blockedUntil)
  end
  check.allowed, check.outLimit, check.remaining, check.reset, check.wait = allowed, limit, remaining, reset, wait
  check.oldest, check.blocking, check.outcome = '', '', true
end

-- Ms until the i-th oldest unit of a log's window leaves; units past its hits in Redis (appended
-- now by this call, or pending slots) leave a window from now.
local function leavesIn(key, stale, hits, i, window)
  if i < hits then return redis.call('LINDEX', key, string.format('%d', stale + i)) + window - now end
  return window
end

local function evaluateLog(check, retentionArg, reserveArg, id)
  local key, limit, window, cost = check.key, check.limit, check.periodMs, check.cost
  local retention = retentionArg == '=' and window or retentionArg + 0
  local oldest, oldestTime, dropped, stale = dropUpTo(key, now - window)
  local hits = redis.call('LLEN', key) - stale
  local log = logs[key]
  if not log then
    log = { hits = hits, oldestTime = oldestTime, dropped = dropped, retention = retention, added = 0 }
    logs[key] = log
    logOrder[#logOrder + 1] = key
  else
    log.dropped = log.dropped or dropped
    log.retention = math.max(log.retention, retention)
  end
  -- The window as the call leaves it so far: the hits in Redis, then those earlier checks append.
  local inList = hits + log.added
  if hits == 0 and log.added > 0 then oldest = nowText end
  local count = inList
  local reading = reserveArg ~= '-' and reserveArg ~= 'x'
  if reading then
    redis.call('ZREMRANGEBYSCORE', check.pendingKey, '-inf', nowText)
    count = count + redis.call('ZCARD', check.pendingKey)
  end
  local blockedLeft
  if check.blockForMs > 0 then
    local blockedUntil = redis.call('GET', check.blockKey)
    if blockedUntil and now < blockedUntil + 0 then blockedLeft = blockedUntil - now end
  end
  local allowed, remaining, reset, wait
  if blockedLeft then
    allowed, remaining, reset, wait = false, 0, blockedLeft, blockedLeft
  else
    allowed = count + cost <= limit
    local after = allowed and count + cost or count
    remaining = math.max(0, limit - after)
    reset = leavesIn(key, stale, hits, math.max(0, after - limit), window)
    if allowed then wait = 0
    elseif cost > limit then wait = -1
    else wait = leavesIn(key, stale, hits, count + cost - limit - 1, window) end
    if not allowed and wait >= 0 and check.blockForMs > 0 then
      local left = math.max(check.blockForMs, wait)
      check.blockUntil = now + left
      remaining, reset, wait = 0, left, left
    end
  end
  local blocking = ''
  if not allowed and inList > limit and limit > 0 then
    if inList - limit < hits then blocking = redis.call('LINDEX', key, string.format('%d', stale + inList - limit)) else blocking = nowText end
  end
  if allowed and check.record then log.added = log.added + cost end
  if allowed and not check.record and reading and reserveArg ~= '0' then check.hold, check.id = reserveArg, id end
  check.allowed, check.count, check.oldest, check.blocking = allowed, count, oldest or '', blocking
  check.outcome = cost ~= 1 or check.blockForMs > 0
  check.outLimit, check.remaining, check.reset, check.wait = limit, remaining, reset, wait
end

local checks = {}
local denied = false
local k = 1
while k <= #KEYS do
  local kind, limitArg, windowArg, costArg, recordArg, blockArg, nextPos = string.match(ARGV[1], '^ (%a) (%S+) (%S+) (%S+) (%S+) (%S+)()', pos)
  pos = nextPos
  local check = { kind = kind, key = KEYS[k], limit = limitArg + 0, periodMs = windowArg + 0, cost = costArg + 0, record = recordArg == '1', blockForMs = blockArg + 0 }
  if kind == 'l' then
    local retentionArg, reserveArg, id, afterPos = string.match(ARGV[1], '^ (%S+) (%S+) (%S+)()', pos)
    pos = afterPos
    check.pendingKey, check.blockKey = KEYS[k + 1], KEYS[k + 2]
    k = k + 3
    evaluateLog(check, retentionArg, reserveArg, id)
  else
    if kind == 'g' then
      local burstArg, afterPos = string.match(ARGV[1], '^ (%S+)()', pos)
      pos = afterPos
      check.burst = burstArg + 0
    else
      check.burst = check.limit
    end
    k = k + 1
    evaluateCounter(check)
  end
  if not check.allowed then denied = true end
  checks[#checks + 1] = check
end

-- 'a' counts what allowed; 'A' counts all when all allowed. Otherwise only blocks are written ('D': nothing).
local commitAll = mode == 'a' or (mode == 'A' and not denied)
local writeBlocks = mode ~= 'D'
for _, key in ipairs(counterOrder) do
  local entry = counters[key]
  if commitAll then
    if entry.changed then storeCounter(key, entry.kind, entry.state, now, entry.periodMs, entry.scale) end
  elseif writeBlocks and entry.blockedUntil > 0 then
    local blocked = copyState(entry.stored)
    blocked.b = math.max(blocked.b, entry.blockedUntil)
    storeCounter(key, entry.kind, blocked, now, entry.periodMs, entry.scale)
  end
end
-- The sliding logs' expiry, by the rule of the 'h' mode (see the script's comment).
for _, key in ipairs(logOrder) do
  local log = logs[key]
  local appended = commitAll and log.added > 0
  if appended then appendHits(key, log.added) end
  if (appended or log.hits > 0) and (log.dropped or (appended and log.hits == 0) or (log.oldestTime and log.oldestTime <= now - log.retention / 2)) then
    redis.call('PEXPIRE', key, string.format('%d', math.ceil(log.retention * 1.5)))
  end
end

local out = nowText
for i = 1, #checks do
  local check = checks[i]
  if check.blockUntil and writeBlocks then
    redis.call('SET', check.blockKey, integerText(check.blockUntil), 'PX', integerText(check.blockUntil - now))
  end
  local reserved = ''
  if check.hold and commitAll then
    redis.call('ZADD', check.pendingKey, string.format('%.3f', now + check.hold), check.id)
    if redis.call('PTTL', check.pendingKey) < check.hold + 0 then redis.call('PEXPIRE', check.pendingKey, check.hold) end
    reserved = check.id
  end
  out = out .. (check.allowed and ' 1 ' or ' 0 ') .. integerText(check.count) .. ' ' .. check.oldest .. ' ' .. check.blocking
  if check.outcome then
    out = out .. ' ' .. integerText(check.outLimit) .. ' ' .. integerText(check.remaining) .. ' ' .. integerText(check.reset) .. ' ' .. (check.wait < 0 and '' or integerText(check.wait))
  else
    out = out .. '    '
  end
  out = out .. ' ' .. reserved
end
return out
`;
