import { describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { CacheManagerThrottleStore, FailSafeThrottleStore, MemoryThrottleStore, RedisThrottleStore, ThrottleConfigError } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';

const cache = { get: async () => undefined, set: async () => undefined, del: async () => undefined };
/** Never connects: the constructors under test only look at the client's API. */
const redis = new Redis({ lazyConnect: true });

const stores: [string, (clock: unknown) => unknown][] = [
  ['MemoryThrottleStore', (clock) => new MemoryThrottleStore({ clock: clock as never })],
  ['RedisThrottleStore', (clock) => new RedisThrottleStore(redis, { clock: clock as never })],
  ['CacheManagerThrottleStore', (clock) => new CacheManagerThrottleStore(cache, { clock: clock as never })],
  ['FailSafeThrottleStore', (clock) => new FailSafeThrottleStore(new MemoryThrottleStore(), { clock: clock as never })],
];

describe.each(stores)('the clock option of %s is checked by calling it once', (name, create) => {
  test.each([
    ['a string', () => String(Date.now()), /got '\d+'/],
    ['a bigint', () => process.hrtime.bigint(), /got \d+n/],
    ['NaN', () => Number.NaN, /got NaN/],
    ['a negative number', () => -5, /got -5/],
  ])('a clock returning %s is refused, naming the store and the value', (_what, clock, quoted) => {
    expect(() => create(clock)).toThrow(ThrottleConfigError);
    expect(() => create(clock)).toThrow(new RegExp(`^${name}: clock must return a finite, non-negative number of milliseconds .*${quoted.source}`));
  });

  test('a clock that throws, or that is not a function, is refused', () => {
    expect(() =>
      create(() => {
        throw new Error('stopped');
      }),
    ).toThrow(`${name}: clock threw when called: stopped`);
    expect(() => create('now')).toThrow(`${name}: clock must be a function returning milliseconds, got 'now'`);
  });

  test('a clock in seconds since the epoch is refused with a hint', () => {
    expect(() => create(() => Date.now() / 1000)).toThrow(/looks like seconds since the epoch: a clock must return milliseconds/);
  });

  test('a fake clock at 0, or one a test set in seconds * 1000, is accepted', () => {
    const clock = new FakeClock();
    expect(() => create(clock.read)).not.toThrow();
    clock.set(1_700_000_000);
    expect(() => create(clock.read)).not.toThrow();
  });
});

test('store messages quote a string as a string', () => {
  expect(() => new MemoryThrottleStore({ maxKeys: '100000' as never })).toThrow("MemoryThrottleStore: maxKeys must be a positive integer, got '100000'");
  expect(() => new RedisThrottleStore(redis, { keyPrefix: 5 as never })).toThrow('RedisThrottleStore: keyPrefix must be a string, got 5');
  expect(() => new CacheManagerThrottleStore('redis://localhost' as never)).toThrow("got 'redis://localhost'");
});
