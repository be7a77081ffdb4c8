import type { AlgorithmCheck, AlgorithmOutcome, BlockableState } from './algorithm-outcome.js';

/** A gcra check: the rate, plus how many requests may come at once. */
export interface GcraCheck extends AlgorithmCheck {
  /** Requests (units of cost) admitted at once on an idle key; DESIGN.md pins this meaning. Default: limit. */
  readonly burst: number;
}

/**
 * GCRA, the generic cell rate algorithm: a token bucket kept as one time per key.
 *
 * Each unit of cost is due one emission interval T = period / limit after the previous one; the
 * key keeps the theoretical arrival time (TAT) of the next request, and may run ahead of `now` by at
 * most burst x T. A request costing c is admitted when max(TAT, now) + c x T - now <= burst x T,
 * and then TAT becomes max(TAT, now) + c x T. So an idle key admits `burst` units at once, then
 * `limit` per period.
 *
 * T is rarely a whole number of ms (1000/3), and summing rounded intervals drifts, so the TAT is kept
 * exactly as tatMs + tatFraction / limit, with 0 <= tatFraction < limit: all arithmetic is on
 * integers (scaled by limit), identical in JavaScript and in Redis's Lua, at any limit.
 *
 * What a decision reports (with debt = TAT - now, clamped at 0, after the decision):
 * - remaining = floor((burst x T - debt) / T): the units one could still take at once;
 * - reset (the header's `t`) = ms until remaining grows by one (the next unit is earned back),
 *   the wait of a request costing remaining + 1; the whole burst is back at TAT;
 * - wait = ms until max(TAT, t) + c x T - t <= burst x T, i.e. TAT + c x T - burst x T - now;
 *   null when c > burst (never admitted).
 */
export interface GcraState extends BlockableState {
  /** The TAT, whole milliseconds. 0 = idle. */
  tatMs: number;
  /** The TAT's fraction of a millisecond, in 1/limit ms. */
  tatFraction: number;
}

export function newGcraState(): GcraState {
  return { tatMs: 0, tatFraction: 0, blockedUntil: 0 };
}

/** Admits and counts a request when it fits, else nothing. With commit false it only answers, as if it had counted. */
export function hitGcra(state: GcraState, check: GcraCheck, now: number, commit = true): AlgorithmOutcome {
  const { limit, periodMs, cost, burst } = check;
  // In 1/limit ms: T is periodMs of them, the tolerance burst x periodMs.
  const tolerance = burst * periodMs;
  const debt = debtScaled(state, limit, now);
  const allowed = debt + cost * periodMs <= tolerance;
  let after = debt;
  if (allowed) after = debt + cost * periodMs;
  if (allowed && commit) {
    // TAT = now + after / limit, split into whole ms and the fraction.
    const whole = Math.floor(after / limit);
    state.tatMs = now + whole;
    state.tatFraction = after - whole * limit;
  }
  // Below 0 after records past the burst (bandwidth): nothing can be taken, whatever the debt.
  const remaining = Math.max(0, Math.floor((tolerance - after) / periodMs));
  const waitMs = allowed ? 0 : cost > burst ? null : waitScaled(after, cost, check);
  // remaining < burst whenever something is counted; when nothing is, nothing is owed (0).
  const resetMs = remaining >= burst ? 0 : waitScaled(after, remaining + 1, check);
  return { allowed, limit: burst, remaining, resetMs, waitMs };
}

/**
 * Counts `cost` whatever the burst (units already spent: bytes sent): the TAT moves on by cost x T,
 * and the key is refused until it has earned them back.
 */
export function recordGcra(state: GcraState, check: AlgorithmCheck, now: number): void {
  const after = debtScaled(state, check.limit, now) + check.cost * check.periodMs;
  const whole = Math.floor(after / check.limit);
  state.tatMs = now + whole;
  state.tatFraction = after - whole * check.limit;
}

/** The units in use at `now` (the debt, rounded up to whole units). */
export function gcraUsed(state: GcraState, check: Pick<AlgorithmCheck, 'limit' | 'periodMs'>, now: number): number {
  return Math.ceil(debtScaled(state, check.limit, now) / check.periodMs);
}

/** TAT - now in 1/limit ms, 0 when the TAT is past (an idle key owes nothing). */
function debtScaled(state: GcraState, limit: number, now: number): number {
  if (state.tatMs < now) return 0;
  // A rate lowered since the TAT was written leaves a fraction >= limit: still exact, scaled anew.
  return (state.tatMs - now) * limit + state.tatFraction;
}

/** Ms until `cost` units fit, given the debt (in 1/limit ms), rounded up. */
function waitScaled(debt: number, cost: number, check: GcraCheck): number {
  const excess = debt + cost * check.periodMs - check.burst * check.periodMs;
  return excess <= 0 ? 0 : Math.ceil(excess / check.limit);
}

/** Ms the key must be kept: until its TAT (then it is idle and owes nothing). */
export function gcraRetentionMs(state: GcraState, now: number): number {
  return Math.max(1, state.tatMs + 1 - now);
}
