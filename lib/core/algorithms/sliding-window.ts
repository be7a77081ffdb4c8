import type { AlgorithmCheck, AlgorithmOutcome, BlockableState } from './algorithm-outcome.js';

/**
 * Sliding window counter (Cloudflare's, @upstash/ratelimit's): two fixed windows' counters, the
 * previous one weighted by how much of it the sliding period still overlaps:
 *
 *   estimate(now) = previous * (1 - elapsed / period) + current,   elapsed = now - windowStart
 *
 * and a request is admitted when estimate + cost <= limit. Windows are aligned to multiples of the
 * period, as in fixed-window.ts.
 *
 * Error bound against the exact sliding log (the same admitted requests counted over (now - period, now]):
 *   |estimate - exact| <= previous <= limit, and at most 2 x limit are admitted in any period.
 * Proof: exact = current + (the previous window's requests after now - period), which lies between
 * current and current + previous, and so does the estimate; each window admits at most limit (the
 * estimate is at least current), and any period overlaps at most two windows.
 * (The error is that large only when the previous window's requests were bunched at one end; for
 * evenly spread traffic the estimate is close, which is why Cloudflare measured 0.003% wrong answers.)
 */
export interface SlidingWindowState extends BlockableState {
  /** Start (ms) of the window `current` counts. */
  windowStart: number;
  current: number;
  /** What the window before windowStart admitted. */
  previous: number;
}

export function newSlidingWindowState(): SlidingWindowState {
  return { windowStart: 0, current: 0, previous: 0, blockedUntil: 0 };
}

/**
 * Counts `cost` in the current window when the estimate leaves room for it, else nothing. With
 * commit false it only answers, as if it had counted.
 */
export function hitSlidingWindow(state: SlidingWindowState, check: AlgorithmCheck, now: number, commit = true): AlgorithmOutcome {
  const { limit, periodMs, cost } = check;
  // The counters of the window holding `now`: as stored, or the stored current become the previous, or none.
  const windowStart = now - (now % periodMs);
  let current = 0;
  let previous = 0;
  if (state.windowStart === windowStart) {
    current = state.current;
    previous = state.previous;
  } else if (state.windowStart + periodMs === windowStart) {
    previous = state.current;
  }
  const allowed = estimate(windowStart, current, previous, now, periodMs) + cost <= limit;
  if (allowed) current += cost;
  if (allowed && commit) {
    state.windowStart = windowStart;
    state.current = current;
    state.previous = previous;
  }
  const remaining = Math.max(0, Math.floor(limit - estimate(windowStart, current, previous, now, periodMs)));
  const waitMs = allowed ? 0 : waitFor(windowStart, current, previous, now, check, cost);
  // remaining + 1 <= limit whenever something is counted, so the reset has an answer.
  const resetMs = waitFor(windowStart, current, previous, now, check, Math.min(remaining + 1, limit)) ?? 0;
  return { allowed, limit, remaining, resetMs, waitMs };
}

/** Counts `cost` in the current window whatever the estimate (units already spent: bytes sent). */
export function recordSlidingWindow(state: SlidingWindowState, check: AlgorithmCheck, now: number): void {
  const { periodMs } = check;
  const windowStart = now - (now % periodMs);
  if (state.windowStart !== windowStart) {
    state.previous = state.windowStart + periodMs === windowStart ? state.current : 0;
    state.current = 0;
    state.windowStart = windowStart;
  }
  state.current += check.cost;
}

/** The weighted count of a key's state at `now` (0 when its windows are past). */
export function slidingWindowEstimate(state: SlidingWindowState, now: number, periodMs: number): number {
  const windowStart = now - (now % periodMs);
  if (state.windowStart === windowStart) return estimate(windowStart, state.current, state.previous, now, periodMs);
  return state.windowStart + periodMs === windowStart ? estimate(windowStart, 0, state.current, now, periodMs) : 0;
}

function estimate(windowStart: number, current: number, previous: number, now: number, periodMs: number): number {
  return previous * (1 - (now - windowStart) / periodMs) + current;
}

/**
 * Ms until a request costing `cost` fits, if nothing else is counted meanwhile; null when it never
 * does (cost > limit). The estimate only falls: linearly through this window, then, from the next
 * window on, starting again from this window's count as the previous one.
 */
function waitFor(windowStart: number, current: number, previous: number, now: number, check: AlgorithmCheck, cost: number): number | null {
  const { limit, periodMs } = check;
  if (cost > limit) return null;
  const room = limit - cost;
  if (estimate(windowStart, current, previous, now, periodMs) <= room) return 0;
  let at: number;
  if (current <= room) {
    // Within this window: previous * (1 - (t - windowStart) / period) + current <= room.
    at = windowStart + periodMs * (1 - (room - current) / previous);
  } else {
    // From the next window: current * (1 - (t - nextStart) / period) <= room.
    at = windowStart + periodMs + periodMs * (1 - room / current);
  }
  return Math.max(0, Math.ceil(at - now));
}

/** Ms the key must be kept: until its current window has also left the sliding period. */
export function slidingWindowRetentionMs(state: SlidingWindowState, check: AlgorithmCheck, now: number): number {
  return state.windowStart + 2 * check.periodMs - now;
}
