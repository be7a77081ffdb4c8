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

/** Appends a hit, forgets hits past the retention, and pushes the key's expiry out. */
export function recordSlidingLog(log: HitLog, windowMs: number, ttlMs: number | undefined, now: number): void {
  const retainMs = retentionMs(windowMs, ttlMs);
  log.dropUpTo(now - retainMs, MAX_DROPPED_PER_CHECK);
  appendHit(log, retainMs, now);
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
