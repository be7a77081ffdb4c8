import type { AlgorithmOutcome, BlockableState } from './algorithms/algorithm-outcome.js';
import { blockedOutcome, startBlockOnDenial } from './algorithms/block-for.js';
import type { HitLog } from './hit-log.js';
import type { PendingSlots } from './pending-slots.js';
import type { HitResult, WindowCheck, WindowState } from './store.js';

/**
 * The most hits one check drops: a window of a million hits sliding out at once is dropped over the
 * next checks, a bounded chunk each, and counted exactly meanwhile (HitLog.countAfter, a bisection).
 * The Redis script has the same bound (DROP_CHUNK).
 */
export const MAX_DROPPED_PER_CHECK = 1000;

/**
 * DRF's SimpleRateThrottle.allow_request(), on one key's hit log:
 *
 *   1. forget hits that left the window (at or before now - duration);
 *   2. deny when the window already holds `limit` hits (a denial is never recorded);
 *   3. otherwise allow and, unless recording is deferred to `accessed`, record `now`.
 *
 * A check forgets what left the window even when a ttl above the window (Tastypie's expiration)
 * keeps the key: Tastypie's should_be_throttled() does the same. Hits recorded by `accessed` between
 * two checks stay until the next check, or until the retention passes.
 *
 * With pending slots (reservations, see WindowCheck.reserveMs) the count is the hits in the window
 * plus the unexpired slots, and an allowed reserving check holds one more, named `reservation`.
 */
export function hitSlidingLog(log: HitLog, check: WindowCheck, now: number, pending?: PendingSlots, reservation?: string): HitResult {
  const cutoff = now - check.windowMs;
  // The usual case drops zero or one hit and counts the size; past the bound, hits left at the head
  // are expired and the window is counted after them.
  const hits = log.dropUpTo(cutoff, MAX_DROPPED_PER_CHECK) ? log.countAfter(cutoff) : log.size;
  const count = pending === undefined || pending.size === 0 ? hits : hits + pending.live(now);
  const oldest = hits === 0 ? null : hits === log.size ? log.oldest : log.at(log.size - hits);
  if (count >= check.limit) {
    // More hits than the limit (recorded by `accessed` after concurrent checks): the slot frees when
    // the limit-th newest leaves, not the oldest.
    if (hits > check.limit && check.limit > 0) return { allowed: false, count, oldest, now, blockingHit: log.at(log.size - check.limit) };
    return { allowed: false, count, oldest, now };
  }
  // No pruning before the append: the window, never longer than the retention, was just pruned.
  if (check.record) appendHit(log, retentionMs(check.windowMs, check.ttlMs), now);
  if (pending !== undefined && reservation !== undefined && check.reserveMs !== undefined && !check.record) {
    pending.hold(reservation, now + check.reserveMs);
    return { allowed: true, count, oldest, now, reservation };
  }
  return { allowed: true, count, oldest, now };
}

/**
 * The sliding log in units, for a check with a cost, a block (blockMs) or an answer without commit
 * (all or nothing, lib/core/check-batch.ts); hitSlidingLog stays DRF's plain path.
 *
 * Allowed when count + cost <= limit; then, unless recording is deferred, records `cost` hits at
 * now. `extraCost` is added to the cost when deciding (not when recording): the units that earlier
 * checks of the same call on this key would have taken. The outcome (reported when cost > 1 or
 * blockMs is set, as WindowCheck.outcome says; a plain check answers as hitSlidingLog does):
 * - remaining = limit - count - (allowed ? cost : 0), at least 0;
 * - reset = ms until remaining grows: until the hit whose leaving brings the count under the limit
 *   leaves (the oldest one unless the window holds more than the limit), a window when empty;
 * - wait = ms until enough hits have left for the cost to fit; null when cost > limit.
 * `block` holds the key's block (blockedUntil), read and written only when blockMs is set, as the
 * Redis script does.
 */
export function hitSlidingLogInUnits(
  log: HitLog,
  check: WindowCheck,
  now: number,
  block: BlockableState,
  commit: boolean,
  extraCost = 0,
  pending?: PendingSlots,
  reservation?: string,
): HitResult {
  const { limit, windowMs } = check;
  const cutoff = now - windowMs;
  const hits = log.dropUpTo(cutoff, MAX_DROPPED_PER_CHECK) ? log.countAfter(cutoff) : log.size;
  const count = pending === undefined || pending.size === 0 ? hits : hits + pending.live(now);
  const first = log.size - hits;
  const oldest = hits === 0 ? null : log.at(first);
  const cost = check.cost ?? 1;
  const blockMs = check.blockMs ?? 0;
  const units = cost + extraCost;
  let outcome = blockMs > 0 ? blockedOutcome(block, now, limit) : null;
  if (outcome === null) {
    const allowed = count + units <= limit;
    const window: LogWindow = { log, first, hits, count, now, windowMs, limit, pending };
    outcome = startBlockOnDenial(block, slidingLogOutcome(window, units, allowed), now, blockMs, commit);
    if (allowed && commit) {
      if (check.record) {
        const retainMs = retentionMs(windowMs, check.ttlMs);
        for (let i = 0; i < cost; i++) appendHit(log, retainMs, now);
      } else if (pending !== undefined && reservation !== undefined && check.reserveMs !== undefined) {
        pending.hold(reservation, now + check.reserveMs);
        return withOutcome({ allowed: true, count, oldest, now, reservation }, cost, blockMs, outcome);
      }
    }
  }
  if (outcome.allowed) return withOutcome({ allowed: true, count, oldest, now }, cost, blockMs, outcome);
  // As in hitSlidingLog: with more hits than the limit, the limit-th newest frees a slot.
  if (hits > limit && limit > 0) return withOutcome({ allowed: false, count, oldest, now, blockingHit: log.at(log.size - limit) }, cost, blockMs, outcome);
  return withOutcome({ allowed: false, count, oldest, now }, cost, blockMs, outcome);
}

/** A plain check (cost 1, no block) reports no outcome: throttles compute DRF's wait from count and oldest. */
function withOutcome(result: HitResult, cost: number, blockMs: number, outcome: AlgorithmOutcome): HitResult {
  return cost === 1 && blockMs <= 0 ? result : { ...result, outcome };
}

/** The window a decision was made on (before it), for the outcome's times. */
interface LogWindow {
  readonly log: HitLog;
  /** Index in the log of the oldest hit inside the window. */
  readonly first: number;
  readonly hits: number;
  /** Hits plus live pending slots. */
  readonly count: number;
  readonly now: number;
  readonly windowMs: number;
  readonly limit: number;
  readonly pending: PendingSlots | undefined;
}

function slidingLogOutcome(window: LogWindow, units: number, allowed: boolean): AlgorithmOutcome {
  const { limit, windowMs, count } = window;
  const added = allowed ? units : 0;
  const after = count + added;
  const remaining = Math.max(0, limit - after);
  const resetMs = after === 0 ? windowMs : msUntilFits(window, added, remaining + 1);
  const waitMs = allowed ? 0 : units > limit ? null : msUntilFits(window, 0, units);
  return { allowed, limit, remaining, resetMs, waitMs };
}

/**
 * Ms until `units` fit in the window holding the decision's hits plus `added` more at now: until
 * the hit whose leaving makes room leaves (a hit at t leaves at t + window). When pending slots
 * hold the room, until the last of them expires or the last hit leaves.
 */
function msUntilFits(window: LogWindow, added: number, units: number): number {
  const mustLeave = window.count + added + units - window.limit;
  if (mustLeave <= 0) return 0;
  const held = window.hits + added;
  if (mustLeave <= held) return leaveTime(window, mustLeave - 1) - window.now;
  const pendingUntil = window.pending === undefined ? 0 : window.pending.latestExpiry;
  return Math.max(held > 0 ? leaveTime(window, held - 1) : window.now, pendingUntil) - window.now;
}

/** When the index-th hit of the window (0 = oldest; past the log's, the ones added at now) leaves. */
function leaveTime(window: LogWindow, index: number): number {
  return (index < window.hits ? window.log.at(window.first + index) : window.now) + window.windowMs;
}

/** Appends `units` hits (default 1), forgets hits past the retention, and pushes the key's expiry out. */
export function recordSlidingLog(log: HitLog, windowMs: number, ttlMs: number | undefined, now: number, units = 1): void {
  const retainMs = retentionMs(windowMs, ttlMs);
  log.dropUpTo(now - retainMs, MAX_DROPPED_PER_CHECK);
  for (let i = 0; i < units; i++) appendHit(log, retainMs, now);
}

/** Appends `now` and keeps the key for the retention after it. */
function appendHit(log: HitLog, retainMs: number, now: number): void {
  log.push(now);
  log.expiresAt = now + retainMs;
}

/** Reports the window without changing it. */
export function readSlidingLog(log: HitLog, windowMs: number, now: number): WindowState {
  const count = log.countAfter(now - windowMs);
  return { count, oldest: count === 0 ? null : log.at(log.size - count), now };
}

/** How long a key keeps its hits: the window, or a longer ttl (Tastypie's expiration). */
function retentionMs(windowMs: number, ttlMs: number | undefined): number {
  return ttlMs === undefined || ttlMs < windowMs ? windowMs : ttlMs;
}
