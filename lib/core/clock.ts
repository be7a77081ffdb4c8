import { describeValue } from './describe-value.js';
import { ThrottleConfigError } from './throttle-config-error.js';

/**
 * A clock returns the current time in milliseconds since the epoch.
 * Every algorithm takes one instead of calling Date.now() so that tests can drive time by hand.
 */
export type Clock = () => number;

export const systemClock: Clock = Date.now;

const DAY_IN_SECONDS = 86_400;

/**
 * Checks a clock option once, at construction, by calling it: a clock that returns a string, a
 * bigint or NaN would otherwise boot and then never throttle, or fail every request. Any finite,
 * non-negative number is accepted (a test's fake clock may start at 0), except one that looks like
 * seconds since the epoch. `where` names the option, e.g. `ThrottlingModule: clock`.
 */
export function validClock(clock: unknown, where: string): Clock {
  if (typeof clock !== 'function') throw new ThrottleConfigError(`${where} must be a function returning milliseconds, got ${describeValue(clock)}`);
  let now: unknown;
  try {
    now = clock();
  } catch (error) {
    throw new ThrottleConfigError(`${where} threw when called: ${error instanceof Error ? error.message : describeValue(error)}`);
  }
  if (typeof now !== 'number' || !Number.isFinite(now) || now < 0) {
    throw new ThrottleConfigError(`${where} must return a finite, non-negative number of milliseconds (like Date.now()), got ${describeValue(now)}`);
  }
  if (Math.abs(now - Date.now() / 1000) < DAY_IN_SECONDS) {
    throw new ThrottleConfigError(`${where} returned ${now}, which looks like seconds since the epoch: a clock must return milliseconds (like Date.now())`);
  }
  return clock as Clock;
}
