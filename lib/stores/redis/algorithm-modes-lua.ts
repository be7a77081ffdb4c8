/**
 * The script's algorithm modes (see throttle-script.ts for the call's layout): checks that carry an
 * algorithm, a cost, a blockMs or allOrNothing, in any mix, and counted records. Spliced into the
 * script after its sliding-log functions, inside a branch that DRF's modes never enter, so that a
 * DRF request runs exactly the code it ran before (its functions are not even created).
 *
 * Modes (the rule of lib/core/check-batch.ts, which the in-process stores share):
 *   'a'  checks decided and counted in order, each alone (DRF's rule: every check that allows is
 *        counted, whatever the others answer);
 *   'A'  all or nothing: every check is answered first without counting (a check on a key that an
 *        earlier one of the call also takes is answered with their costs added); all are counted
 *        when all allow, else nothing is but the blocks of the denied ones;
 *   'D'  as 'A', writing nothing: the first pass over one hash tag of a request that spans several
 *        on a Cluster (the store then commits with 'A', or writes the blocks with 'B');
 *   'B'  as 'A' for a request known to be denied (elsewhere: another tag, a cached denial): only
 *        the denied checks' blocks are written;
 *   'c'  counted records: units added even past the limit (BandwidthThrottle's bytes sent).
 *
 * Per check, after the mode and the time: kind ('l' sliding log, 'f' fixed window, 's' sliding
 * window, 'g' gcra), limit, windowMs, cost, record (1/0: 0 only answers, its block still starts on
 * a denial; 'p': a peek, which also reports a block running without a blockMs), blockMs, then
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
 * A sliding-log check with cost n is allowed when count + n <= limit and appends n hits at now;
 * its outcome is lib/core/sliding-log.ts's (hitSlidingLogInUnits), computed the same way. Its block
 * is a string key of its own (`:block`, blocked-until in ms, expiring with the block); a counter's
 * is in front of its state (algorithm-lua.ts). Either is read only by a check with a blockMs.
 *
 * Writes wait until every check is decided: each check sees what the committed checks before it
 * left (hits to append, states counted, slots held), and each key is written once at the end.
 */
export const ALGORITHM_MODES_LUA = `
-- A command's arguments are bounded: a large cost on a sliding log is appended in chunks.
local APPEND_CHUNK = 1000
-- Keys written here expire when their state no longer matters; on a test clock, whose time runs
-- far ahead of the server's, not before a minute of the server's time.
local KEPT_AT_LEAST = nowArg == '-' and 1 or 60000

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
      storeCounter(key, kind, counted, now, periodMs, scale, KEPT_AT_LEAST)
    end
  end
  return nowText
end

-- Per key, what the call read and what it will write: counters by key, sliding logs by key, in first-seen order.
local counters, counterOrder = {}, {}
local logs, logOrder = {}, {}

-- Decides a check on a counter key: its state as the call's committed checks left it, its cost
-- plus extra (the units earlier checks of an all-or-nothing call on the key would take). With
-- commit, an allowed recording check is counted and a denial starts its block.
local function evaluateCounter(check, commit, extra)
  local kind, key = check.kind, check.key
  local entry = counters[key]
  if not entry then
    local scale = kind == 'g' and gcraScale(check.limit, check.periodMs) or 1
    entry = { kind = kind, state = loadCounter(key, kind, check.limit, scale), periodMs = check.periodMs, scale = scale, changed = false }
    counters[key] = entry
    counterOrder[#counterOrder + 1] = key
  end
  local state = entry.state
  check.count = unitsInUse(kind, state, now, check.limit, check.periodMs)
  local reportedLimit = kind == 'g' and check.burst or check.limit
  local allowed, limit, remaining, reset, wait, counted, blockedUntil
  -- Without blockMs a check neither reads nor writes a block; a peek reports a running one.
  if check.peek and now < state.b then
    local left = state.b - now
    allowed, limit, remaining, reset, wait = false, reportedLimit, 0, left, left
  else
    allowed, limit, remaining, reset, wait, counted, blockedUntil = withBlock(state, now, check.blockForMs, reportedLimit, CORES[kind], check.limit, check.periodMs, check.cost + extra, check.burst, false)
  end
  if commit and allowed and check.record then
    entry.state = counted
    entry.changed = true
  elseif commit and blockedUntil then
    entry.state = withBlockedUntil(kind, state, blockedUntil)
    entry.changed = true
  end
  check.allowed, check.outLimit, check.remaining, check.reset, check.wait = allowed, limit, remaining, reset, wait
  check.oldest, check.blocking, check.outcome = '', '', true
end

-- The time (ms) the i-th oldest hit of a log's window leaves; past its hits in Redis, the ones
-- appended at now by this call.
local function leavesAt(key, stale, inRedis, i, window)
  if i < inRedis then return redis.call('LINDEX', key, string.format('%d', stale + i)) + window end
  return now + window
end

-- The rule of lib/core/sliding-log.ts (hitSlidingLogInUnits), on the log as the call's committed
-- checks left it (their hits are appended at the end, at now).
local function evaluateLog(check, commit, extra)
  local key, limit, window, cost = check.key, check.limit, check.periodMs, check.cost
  local oldest, oldestTime, dropped, stale = dropUpTo(key, now - window)
  local inRedis = redis.call('LLEN', key) - stale
  local log = logs[key]
  if not log then
    log = { hits = inRedis, oldestTime = oldestTime, dropped = dropped, retention = check.retention, added = 0, held = 0, heldUntil = 0 }
    logs[key] = log
    logOrder[#logOrder + 1] = key
  else
    log.dropped = log.dropped or dropped
    log.retention = math.max(log.retention, check.retention)
  end
  local hits = inRedis + log.added
  if inRedis == 0 and log.added > 0 then oldest = nowText end
  local count = hits
  if check.readsPending then
    redis.call('ZREMRANGEBYSCORE', check.pendingKey, '-inf', nowText)
    count = count + redis.call('ZCARD', check.pendingKey) + log.held
  end
  local units = cost + extra
  local allowed, remaining, reset, wait
  -- The block as Redis holds it, or as a check of this call started it (written at the end).
  if check.blockForMs > 0 and not log.blockedUntil then log.blockedUntil = tonumber(redis.call('GET', check.blockKey)) or 0 end
  if check.blockForMs > 0 and now < log.blockedUntil then
    local left = log.blockedUntil - now
    allowed, remaining, reset, wait = false, 0, left, left
  else
    allowed = count + units <= limit
    local added = allowed and units or 0
    -- Ms until 'need' more units fit with 'added' more at now: until the hit whose leaving makes
    -- room leaves; when pending slots hold the room, until the last of them expires too.
    local function fits(more, need)
      local mustLeave = count + more + need - limit
      if mustLeave <= 0 then return 0 end
      local held = hits + more
      if mustLeave <= held then return leavesAt(key, stale, inRedis, mustLeave - 1, window) - now end
      local pendingUntil = log.heldUntil
      if check.readsPending then
        local last = redis.call('ZRANGE', check.pendingKey, '-1', '-1', 'WITHSCORES')
        if last[2] then pendingUntil = math.max(pendingUntil, last[2] + 0) end
      end
      return math.max(held > 0 and leavesAt(key, stale, inRedis, held - 1, window) or now, pendingUntil) - now
    end
    remaining = math.max(0, limit - count - added)
    if count + added == 0 then reset = window else reset = fits(added, remaining + 1) end
    if allowed then wait = 0 elseif units > limit then wait = -1 else wait = fits(0, units) end
    if not allowed and wait >= 0 and check.blockForMs > 0 then
      local left = math.max(check.blockForMs, wait)
      if commit then
        check.blockUntil = now + left
        log.blockedUntil = now + left
      end
      remaining, reset, wait = 0, left, left
    end
  end
  check.hold = false
  if allowed and commit then
    if check.record then
      log.added = log.added + cost
    elseif check.reserveMs then
      log.held = log.held + 1
      log.heldUntil = math.max(log.heldUntil, now + check.reserveMs)
      check.hold = check.reserveMs
    end
  end
  -- As in the 'h' mode: with more hits than the limit, the limit-th newest frees a slot.
  local blocking = ''
  if not allowed and hits > limit and limit > 0 then
    if hits - limit < inRedis then blocking = redis.call('LINDEX', key, string.format('%d', stale + hits - limit)) else blocking = nowText end
  end
  check.allowed, check.count, check.oldest, check.blocking = allowed, count, oldest or '', blocking
  check.outcome = cost ~= 1 or check.blockForMs > 0
  check.outLimit, check.remaining, check.reset, check.wait = limit, remaining, reset, wait
end

local function evaluate(check, commit, extra)
  if check.kind == 'l' then evaluateLog(check, commit, extra) else evaluateCounter(check, commit, extra) end
end

local checks = {}
local k = 1
while k <= #KEYS do
  local kind, limitArg, windowArg, costArg, recordArg, blockArg, nextPos = string.match(ARGV[1], '^ (%a) (%S+) (%S+) (%S+) (%S+) (%S+)()', pos)
  pos = nextPos
  -- record 'p': a peek, which counts nothing and reports a running block.
  -- Every field the check gets, in the constructor: a table grown field by field costs a rehash per doubling.
  local check = {
    kind = kind, key = KEYS[k], limit = limitArg + 0, periodMs = windowArg + 0, cost = costArg + 0, record = recordArg == '1', peek = recordArg == 'p', blockForMs = blockArg + 0,
    burst = false, pendingKey = false, blockKey = false, id = false, retention = false, readsPending = false, reserveMs = false, hold = false, blockUntil = false,
    allowed = false, count = 0, oldest = '', blocking = '', outcome = true, outLimit = 0, remaining = 0, reset = 0, wait = 0,
  }
  if kind == 'l' then
    local retentionArg, reserveArg, id, afterPos = string.match(ARGV[1], '^ (%S+) (%S+) (%S+)()', pos)
    pos = afterPos
    check.pendingKey, check.blockKey, check.id = KEYS[k + 1], KEYS[k + 2], id
    check.retention = retentionArg == '=' and check.periodMs or retentionArg + 0
    check.readsPending = reserveArg ~= '-' and reserveArg ~= 'x'
    if check.readsPending and reserveArg ~= '0' and not check.record then check.reserveMs = reserveArg + 0 end
    k = k + 3
  else
    if kind == 'g' then
      local burstArg, afterPos = string.match(ARGV[1], '^ (%S+)()', pos)
      pos = afterPos
      check.burst = burstArg + 0
    else
      check.burst = check.limit
    end
    k = k + 1
  end
  checks[#checks + 1] = check
end

-- The units the checks before index on the same key would take (lib/core/check-batch.ts).
local function costBefore(index)
  local key, units = checks[index].key, 0
  for i = 1, index - 1 do
    local earlier = checks[i]
    if earlier.key == key then
      if earlier.record then units = units + earlier.cost elseif earlier.reserveMs then units = units + 1 end
    end
  end
  return units
end

-- lib/core/check-batch.ts: 'a' decides and counts in order; the all-or-nothing modes answer every
-- check first, then count all when all allowed ('A'), else decide the denied ones again with commit,
-- which writes their blocks and nothing else ('A', 'B'); 'D' stops after answering.
local committed = mode == 'a'
if mode == 'a' then
  for i = 1, #checks do evaluate(checks[i], true, 0) end
else
  local denied = false
  for i = 1, #checks do
    evaluate(checks[i], false, costBefore(i))
    if not checks[i].allowed then denied = true end
  end
  if mode == 'A' and not denied then
    committed = true
    for i = 1, #checks do evaluate(checks[i], true, 0) end
  elseif mode ~= 'D' then
    for i = 1, #checks do
      if not checks[i].allowed then evaluate(checks[i], true, costBefore(i)) end
    end
  end
end

-- Each key written once, with what the committed checks left.
for _, key in ipairs(counterOrder) do
  local entry = counters[key]
  if entry.changed then storeCounter(key, entry.kind, entry.state, now, entry.periodMs, entry.scale, KEPT_AT_LEAST) end
end
-- The sliding logs' hits, and their expiry by the rule of the 'h' mode (see the script's comment).
for _, key in ipairs(logOrder) do
  local log = logs[key]
  local appended = log.added > 0
  if appended then appendHits(key, log.added) end
  if (appended or log.hits > 0) and (log.dropped or (appended and log.hits == 0) or (log.oldestTime and log.oldestTime <= now - log.retention / 2)) then
    redis.call('PEXPIRE', key, string.format('%d', math.ceil(log.retention * 1.5)))
  end
end

local out = nowText
for i = 1, #checks do
  local check = checks[i]
  if check.blockUntil then
    redis.call('SET', check.blockKey, integerText(check.blockUntil), 'PX', integerText(math.max(KEPT_AT_LEAST, check.blockUntil - now)))
  end
  local reserved = ''
  if check.hold and committed then
    redis.call('ZADD', check.pendingKey, string.format('%.3f', now + check.hold), check.id)
    if redis.call('PTTL', check.pendingKey) < check.hold then redis.call('PEXPIRE', check.pendingKey, integerText(check.hold)) end
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
