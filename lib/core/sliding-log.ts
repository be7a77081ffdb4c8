import type { HitLog } from './hit-log.js';
import type { HitResult, WindowCheck, WindowState } from './store.js';

/**
 * DRF's SimpleRateThrottle.allow_request(), on one key's hit log:
 *
 *   1. forget hits that left the window (at or before now - duration);
 *   2. deny when the window already holds `limit` hits (a denial is never recorded);
 *   3. otherwise allow and, unless recording is deferred to `accessed`, record `now`.
 *
 * Hits kept longer than the window (a ttl above the window, Tastypie's expiration) stay in the log
 * but are not counted.
 */
export function hitSlidingLog(log: HitLog, check: WindowCheck, now: number): HitResult {
  const count = pruneAndCount(log, check.windowMs, check.ttlMs, now);
  const oldest = count === 0 ? null : log.at(log.size - count);
  if (count >= check.limit) {
    // More hits than the limit (recorded by `accessed` after concurrent checks): the slot frees when
    // the limit-th newest leaves, not the oldest.
    if (count > check.limit && check.limit > 0) return { allowed: false, count, oldest, now, blockingHit: log.at(log.size - check.limit) };
    return { allowed: false, count, oldest, now };
  }
  if (check.record) recordSlidingLog(log, check.windowMs, check.ttlMs, now);
  return { allowed: true, count, oldest, now };
}

/** Appends a hit and pushes the key's expiry out. */
export function recordSlidingLog(log: HitLog, windowMs: number, ttlMs: number | undefined, now: number): void {
  log.push(now);
  log.expiresAt = now + Math.max(windowMs, ttlMs ?? windowMs);
}

/** Reports the window without changing it. */
export function readSlidingLog(log: HitLog, windowMs: number, now: number): WindowState {
  const count = log.countAfter(now - windowMs);
  return { count, oldest: count === 0 ? null : log.at(log.size - count), now };
}

/** Forgets hits past retention and counts those inside the window. */
function pruneAndCount(log: HitLog, windowMs: number, ttlMs: number | undefined, now: number): number {
  const retainMs = ttlMs === undefined || ttlMs <= windowMs ? windowMs : ttlMs;
  log.dropUpTo(now - retainMs);
  return retainMs === windowMs ? log.size : log.countAfter(now - windowMs);
}
