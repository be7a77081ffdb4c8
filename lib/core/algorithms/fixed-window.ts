import type { AlgorithmCheck, AlgorithmOutcome, BlockableState } from './algorithm-outcome.js';

/**
 * Fixed window: one counter per period, emptied when the next period starts.
 *
 * Windows are aligned to multiples of the period since the epoch (a minute window starts on the
 * minute, a day window at 00:00 UTC), not to a key's first hit: the window start is a function of
 * `now` alone, so every process and the Redis script agree on it without storing or racing for it,
 * and `reset` is the same for every client of a policy. The price is the known one: a client can
 * spend a whole limit just before a boundary and another just after (up to 2 x limit in a short
 * span); use the sliding window or gcra where that matters.
 */
export interface FixedWindowState extends BlockableState {
  /** Start (ms) of the window `used` counts; a key in another window counts 0. */
  windowStart: number;
  used: number;
}

export function newFixedWindowState(): FixedWindowState {
  return { windowStart: 0, used: 0, blockedUntil: 0 };
}

/**
 * Counts `cost` in the current window when it fits under the limit, else nothing. With commit
 * false it only answers, as if it had counted (a request's other throttles decide first).
 */
export function hitFixedWindow(state: FixedWindowState, check: AlgorithmCheck, now: number, commit = true): AlgorithmOutcome {
  const { limit, periodMs, cost } = check;
  const windowStart = now - (now % periodMs);
  const usedBefore = state.windowStart === windowStart ? state.used : 0;
  const toWindowEnd = windowStart + periodMs - now;
  const allowed = usedBefore + cost <= limit;
  const used = allowed ? usedBefore + cost : usedBefore;
  if (allowed && commit) {
    state.windowStart = windowStart;
    state.used = used;
  }
  // Whatever is missing comes back all at once, when the window ends.
  const waitMs = allowed ? 0 : cost > limit ? null : toWindowEnd;
  return { allowed, limit, remaining: Math.max(0, limit - used), resetMs: toWindowEnd, waitMs };
}

/** Counts `cost` in the current window whatever the limit (units already spent: bytes sent). */
export function recordFixedWindow(state: FixedWindowState, check: AlgorithmCheck, now: number): void {
  const windowStart = now - (now % check.periodMs);
  state.used = (state.windowStart === windowStart ? state.used : 0) + check.cost;
  state.windowStart = windowStart;
}

/** The units counted in the window holding `now`. */
export function fixedWindowUsed(state: FixedWindowState, periodMs: number, now: number): number {
  return state.windowStart === now - (now % periodMs) ? state.used : 0;
}

/** Ms the key must be kept: until its window ends (then it counts 0 anyway). */
export function fixedWindowRetentionMs(state: FixedWindowState, check: AlgorithmCheck, now: number): number {
  return state.windowStart + check.periodMs - now;
}
