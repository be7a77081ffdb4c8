import { describeValue } from '../core/describe-value.js';
import { formatRate, type Rate } from '../core/rate.js';
import { COUNTING_ALGORITHMS, type CountingAlgorithm } from '../core/store.js';
import { ThrottleConfigError } from '../core/throttle-config-error.js';
import type { ThrottleContext } from './throttle.js';

/** What one request costs a rate throttle: a fixed number of units, or one computed per request. */
export type ThrottleCostOption = number | ((ctx: ThrottleContext) => number);

/** How a rate throttle counts (docs/algorithms.md); every field is optional and checked at boot. */
export interface CountingOptions {
  /** Unset: the module's `algorithm` (default 'sliding-log', DRF's exact log). */
  readonly algorithm?: CountingAlgorithm;
  /** 'gcra' only: requests (units) admitted at once on an idle key. Default: the rate's limit. */
  readonly burst?: number;
  /** Units one request takes: a positive integer, or `(ctx) => number`. Beats the route's `@ThrottleCost`. Default 1. */
  readonly cost?: ThrottleCostOption;
  /** Seconds a client stays refused once this throttle denies it; a refusal meanwhile does not extend it. Default 0. */
  readonly blockFor?: number;
}

const ALGORITHM_LIST = COUNTING_ALGORITHMS.map((name) => `'${name}'`).join(', ');

/** Checks an `algorithm` option (a throttle's or the module's); `where` starts the message. */
export function validateAlgorithm(value: unknown, where: string): CountingAlgorithm | undefined {
  if (value === undefined) return undefined;
  if (!COUNTING_ALGORITHMS.includes(value as CountingAlgorithm)) throw new ThrottleConfigError(`${where}: algorithm must be one of ${ALGORITHM_LIST}, got ${describeValue(value)}`);
  return value as CountingAlgorithm;
}

/**
 * The checks that need no rate: the algorithm is known, a burst is a positive integer on gcra, a
 * cost a positive integer or a function, blockFor a finite number of seconds >= 0. `inForce` is the
 * algorithm the throttle counts with (its own, else the module's), `where` starts the message.
 */
export function validateCountingOptions(options: CountingOptions, inForce: CountingAlgorithm, where: string): void {
  validateAlgorithm(options.algorithm, where);
  const { burst, cost, blockFor } = options;
  if (burst !== undefined) {
    if (!isPositiveInteger(burst)) throw new ThrottleConfigError(`${where}: burst must be a positive integer (the requests admitted at once), got ${describeValue(burst)}`);
    if (inForce !== 'gcra') {
      const source = options.algorithm === undefined ? ` (the module's algorithm)` : '';
      throw new ThrottleConfigError(
        `${where}: burst ${describeValue(burst)} applies to algorithm 'gcra' only, but this throttle counts with '${inForce}'${source}: set algorithm: 'gcra', or remove burst`,
      );
    }
  }
  if (cost !== undefined && typeof cost !== 'function' && !isPositiveInteger(cost)) {
    throw new ThrottleConfigError(`${where}: cost must be a positive integer or a function (ctx) => number, got ${describeValue(cost)}`);
  }
  if (blockFor !== undefined && blockMsOf(blockFor) === undefined) {
    throw new ThrottleConfigError(`${where}: blockFor must be a finite number of seconds >= 0, got ${describeValue(blockFor)}`);
  }
}

/**
 * A fixed cost that the rate can never admit (above its limit, or gcra's burst) fails the boot: every
 * such request would be refused, with no Retry-After to offer. A limit of 0 admits nothing anyway
 * (DRF's way to shut a scope), so it is left alone. `costText` names the cost and where it comes from.
 */
export function validateCostFits(cost: number, costText: string, rate: Rate, algorithm: CountingAlgorithm, burst: number | undefined, where: string): void {
  if (rate.limit === 0) return;
  const capacity = algorithm === 'gcra' ? (burst ?? rate.limit) : rate.limit;
  if (cost <= capacity) return;
  const what = algorithm === 'gcra' ? `the burst of ${capacity} (gcra: the most admitted at once)` : `the limit of ${rate.limit} per ${formatRate(rate).split('/')[1]}`;
  throw new ThrottleConfigError(`${where}: ${costText} is above ${what}, so no request could ever be admitted: lower the cost, or raise the ${algorithm === 'gcra' ? 'burst' : 'rate'}`);
}

/**
 * The window a policy announces (RateLimit-Policy's w), in seconds: the rate's period, except under
 * gcra, whose quota is its burst refilled one unit per period / limit: burst x period / limit, the
 * time an emptied burst takes to refill (the period itself when burst = limit).
 */
export function policyWindowSeconds(limit: number, periodMs: number, algorithm: CountingAlgorithm | undefined, burst: number | undefined): number {
  if (algorithm !== 'gcra' || limit === 0) return periodMs / 1000;
  return ((burst ?? limit) * periodMs) / limit / 1000;
}

/** blockFor in whole ms (rounded up: never shorter than asked), or undefined when it is not a valid number of seconds. */
export function blockMsOf(blockFor: unknown): number | undefined {
  if (typeof blockFor !== 'number' || !Number.isFinite(blockFor) || blockFor < 0) return undefined;
  const ms = Math.ceil(blockFor * 1000);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}
