import { describeValue } from './describe-value.js';
import { ThrottleConfigError } from './throttle-config-error.js';

/** A parsed rate: at most `limit` requests in any window of `durationMs` milliseconds. */
export interface Rate {
  readonly limit: number;
  readonly durationMs: number;
}

/**
 * What users may write for a rate:
 * - DRF strings: `'100/day'`, `'5/second'`, `'3/min'` (s/sec/second, m/min/minute, h/hr/hour, d/day, plurals too);
 * - a count of units: `'10/5m'`, `'2/30s'`, `'500/1.5h'`, `'1/2-sec'`;
 * - an object `{ limit, duration }` with the duration in seconds;
 * - `null`: the throttle is switched off.
 */
export type RateInput = string | { readonly limit: number; readonly duration: number } | null;

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };

// DRF reads only the first letter, so a typo such as 'dya' would silently mean a day; only real
// spellings of the four units are accepted, and anything else fails the boot quoting the string.
const UNIT_WORD = /^(?:s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)$/;

// <count>/<optional amount of units, optionally followed by '-'><unit word>
const RATE_PATTERN = /^\s*(\d+)\s*\/\s*(?:(\d+(?:\.\d+)?)\s*-?\s*)?([a-zA-Z]+)\s*$/;

/**
 * Parses a rate. Returns null for a null rate (switched off).
 * Throws a ThrottleConfigError that quotes the bad value otherwise.
 */
export function parseRate(input: RateInput | undefined, where = 'rate'): Rate | null {
  if (input === null) return null;
  if (typeof input === 'string') return parseRateString(input, where);
  if (typeof input === 'object' && input !== undefined) return parseRateObject(input, where);
  throw new ThrottleConfigError(`${where}: expected a rate such as '100/day' or { limit, duration }, got ${describeValue(input)}`);
}

function parseRateString(text: string, where: string): Rate {
  const match = RATE_PATTERN.exec(text);
  if (!match) {
    throw new ThrottleConfigError(
      `${where}: invalid rate '${text}': expected '<requests>/<period>' such as '100/day', '5/second', '10/5m' or '500/1.5h'`,
    );
  }
  const [, countText, amountText, unitWord] = match;
  const unit = unitWord.toLowerCase();
  // 'ms' would be read as minutes by DRF's first-letter rule; refuse it rather than surprise anyone.
  if (unit === 'ms' || unit.startsWith('milli')) {
    throw new ThrottleConfigError(`${where}: invalid rate '${text}': milliseconds are not a supported unit; use s, m, h or d`);
  }
  const unitSeconds = UNIT_WORD.test(unit) ? UNIT_SECONDS[unit[0]] : undefined;
  if (unitSeconds === undefined) {
    throw new ThrottleConfigError(`${where}: invalid rate '${text}': unknown unit '${unitWord}'; use second, minute, hour or day`);
  }
  const limit = Number(countText);
  if (!Number.isSafeInteger(limit)) {
    throw new ThrottleConfigError(`${where}: invalid rate '${text}': the request count must be a non-negative integer`);
  }
  const amount = amountText === undefined ? 1 : Number(amountText);
  const durationMs = Math.round(amount * unitSeconds * 1000);
  if (!(durationMs > 0)) {
    throw new ThrottleConfigError(`${where}: invalid rate '${text}': the period must be longer than zero`);
  }
  return { limit, durationMs };
}

function parseRateObject(input: { readonly limit: unknown; readonly duration: unknown }, where: string): Rate {
  const { limit, duration } = input;
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0) {
    throw new ThrottleConfigError(`${where}: invalid rate ${describeValue(input)}: limit must be a non-negative integer, got ${describeValue(limit)}`);
  }
  if (typeof duration !== 'number' || !Number.isFinite(duration) || duration <= 0) {
    throw new ThrottleConfigError(`${where}: invalid rate ${describeValue(input)}: duration must be a number of seconds > 0, got ${describeValue(duration)}`);
  }
  // Checked again once in ms: a window of 0 ms would forget every hit at once and never throttle.
  const durationMs = Math.round(duration * 1000);
  if (durationMs === 0) {
    throw new ThrottleConfigError(
      `${where}: invalid rate ${describeValue(input)}: duration rounds to 0 milliseconds, the period must be longer than zero, got ${describeValue(duration)}`,
    );
  }
  return { limit, durationMs };
}

/** A short, human-readable form of a rate, e.g. `100/86400s`. */
export function formatRate(rate: Rate): string {
  return `${rate.limit}/${rate.durationMs / 1000}s`;
}
