import { describeValue } from '../describe-value.js';
import { ThrottleConfigError } from '../throttle-config-error.js';

/**
 * What every counting algorithm is asked and answers, so one decide() can turn any of them into a
 * throttle decision (Retry-After, the DRF message, the IETF headers).
 *
 * Times are integer milliseconds: the clock is passed in as `now`, and every duration an algorithm
 * reports is rounded up (a client told to wait is never told too little), so the TypeScript cores
 * and their Lua twins (lib/stores/redis/algorithm-lua.ts) give the same integers.
 */
export interface AlgorithmCheck {
  /** Units admitted per period. */
  readonly limit: number;
  readonly periodMs: number;
  /** What this request costs: a positive integer (1 for a plain request, bytes for bandwidth). */
  readonly cost: number;
}

export interface AlgorithmOutcome {
  /** All or nothing: a denied request consumed nothing. */
  readonly allowed: boolean;
  /** What `remaining` counts down from: the rate's limit (gcra: its burst). */
  readonly limit: number;
  /**
   * Units still available after this decision. On a denial it may be above 0: a request costing
   * more than what is left is refused while a cheaper one would pass.
   */
  readonly remaining: number;
  /**
   * Ms until `remaining` next grows, i.e. the wait of a request costing `remaining + 1`. For the
   * sliding log that is when its oldest hit leaves: the same `t` SimpleRateThrottle reports today.
   */
  readonly resetMs: number;
  /** Ms until this request would be admitted (0 when it was); null = never (cost above limit or burst). */
  readonly waitMs: number | null;
}

/** The state every algorithm's key carries for the blockFor wrapper (lib/core/algorithms/block-for.ts). */
export interface BlockableState {
  /** Until when (ms) the key is refused whatever its counts; 0 = not blocked. */
  blockedUntil: number;
}

/**
 * Returns the cost when the algorithms can count it (a positive safe integer), and throws naming it
 * otherwise: a cost of 0 would admit for ever, a negative one give quota back, NaN deny silently.
 * For costs computed per request (`cost: (ctx) => number`), so checked where they are computed.
 */
export function checkedCost(cost: unknown, where: string): number {
  if (typeof cost === 'number' && Number.isSafeInteger(cost) && cost > 0) return cost;
  throw new ThrottleConfigError(`${where}: a request's cost must be a positive integer, got ${describeValue(cost)}`);
}
