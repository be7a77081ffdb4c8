import { describe, expect, test } from '@jest/globals';
import { describeValue } from '../../lib/core/describe-value.js';
import { FailSafeThrottleStore } from '../../lib/stores/fail-safe-throttle-store.js';
import { MemoryThrottleStore } from '../../lib/stores/memory-throttle-store.js';

describe('how configuration errors quote the value they refuse', () => {
  test('strings in quotes, functions and classes by name, instances by their class', () => {
    expect(describeValue('20/dya')).toBe("'20/dya'");
    expect(describeValue(class UserThrottle {})).toBe('UserThrottle');
    expect(describeValue(() => 1)).toBe('an anonymous function');
    expect(describeValue(new Map())).toBe('an instance of Map');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(null)).toBe('null');
  });

  test('numbers as JavaScript writes them: NaN and Infinity are not turned into null', () => {
    expect(describeValue(Number('five'))).toBe('NaN');
    expect(describeValue(-Infinity)).toBe('-Infinity');
    expect(describeValue(-0)).toBe('-0');
    expect(describeValue(12n)).toBe('12n');
    expect(describeValue({ throttleAt: NaN, timeframe: [Infinity, 2n], scope: 'login' })).toBe('{"throttleAt":NaN,"timeframe":[Infinity,2n],"scope":"login"}');
  });

  test('a value JSON cannot write at all still gets a description, never an exception', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(describeValue(cyclic)).toBe('[object Object]');
  });

  test('a store option read from an unset environment variable names NaN', () => {
    expect(() => new FailSafeThrottleStore(new MemoryThrottleStore(), { timeoutMs: Number(undefined) })).toThrow('storeTimeout must be a positive number of milliseconds, got NaN');
  });
});
