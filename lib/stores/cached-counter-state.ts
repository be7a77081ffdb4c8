import { type CounterAlgorithm, type CounterState, clearCounterState } from '../core/algorithms/counter-check.js';

/**
 * A counter key's state as a cache entry: the fields its algorithm reads, then its block when one
 * was ever set, as integers joined by ':' (`1700000040000:3` for a fixed window holding 3 units).
 * A string, not an array: a hit log is an array of times (or an object), so a log read from a
 * counter's entry, or a counter from anything else, reads as empty instead of as garbage.
 */
const FIELDS: Readonly<Record<CounterAlgorithm, readonly (keyof CounterState)[]>> = {
  'fixed-window': ['windowStart', 'used'],
  'sliding-window': ['windowStart', 'current', 'previous'],
  gcra: ['tatMs', 'tatFraction'],
};

/** The suffix of a counter's cache key after the log's (the Redis store's names: `<key>:fw`). */
export const COUNTER_KEY_SUFFIX: Readonly<Record<CounterAlgorithm, string>> = { 'fixed-window': ':fw', 'sliding-window': ':sw', gcra: ':gc' };

export function encodeCounterState(algorithm: CounterAlgorithm, state: CounterState): string {
  const fields = FIELDS[algorithm];
  let text = String(state[fields[0]]);
  for (let i = 1; i < fields.length; i++) text += `:${state[fields[i]]}`;
  return state.blockedUntil === 0 ? text : `${text}:${state.blockedUntil}`;
}

/**
 * Fills `state` from a cache entry; anything that is not one of this algorithm's entries (nothing,
 * an expired entry, a foreign value) leaves it fresh.
 */
export function decodeCounterState(algorithm: CounterAlgorithm, value: unknown, state: CounterState): CounterState {
  clearCounterState(state);
  if (typeof value !== 'string') return state;
  const fields = FIELDS[algorithm];
  const parts = value.split(':');
  if (parts.length !== fields.length && parts.length !== fields.length + 1) return state;
  const numbers = parts.map(Number);
  if (!numbers.every(Number.isFinite)) return state;
  for (let i = 0; i < fields.length; i++) state[fields[i]] = numbers[i];
  state.blockedUntil = numbers[fields.length] ?? 0;
  return state;
}
