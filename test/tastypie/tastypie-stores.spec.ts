import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { CacheThrottle, MemoryThrottleStore, RedisThrottleStore, type ThrottleStore } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { REDIS_URL, RUN_ID, serviceAvailable } from '../support/services.js';

const redisRuns = await serviceAvailable('Redis', REDIS_URL);
const suite = redisRuns ? describe : describe.skip;

/**
 * Tastypie's CacheThrottle scenario (throttle_at=2, timeframe=5) on every store the module offers:
 * the throttle only talks to the ThrottleStore contract, so it must behave the same on each.
 */
function tastypieScenario(name: string, makeStore: (clock: FakeClock) => ThrottleStore) {
  test(`CacheThrottle throttles the third access and frees it after the timeframe (${name})`, async () => {
    const clock = new FakeClock();
    clock.set(1_800_000_000);
    const store = makeStore(clock);
    const throttle = Object.assign(new (CacheThrottle.with({ throttleAt: 2, timeframe: 5, expiration: 2 }))(), { runtime: { store, rates: new Map(), clock: clock.read } });
    const identifier = `daniel-${RUN_ID}-${name}`;
    expect(await throttle.shouldBeThrottled(identifier)).toBe(false);
    await throttle.accessed(identifier);
    expect(await throttle.shouldBeThrottled(identifier)).toBe(false);
    await throttle.accessed(identifier);
    expect(await throttle.shouldBeThrottled(identifier)).toBe(5);
    expect((await store.peek(throttle.cacheKey(identifier), 5000)).count).toBe(2);
    clock.advance(2);
    expect(await throttle.shouldBeThrottled(identifier)).toBe(3);
    clock.advance(4);
    expect(await throttle.shouldBeThrottled(identifier)).toBe(false);
    await throttle.reset(identifier);
  });
}

describe('Tastypie throttles on the memory store', () => {
  tastypieScenario('memory', (clock) => new MemoryThrottleStore({ clock: clock.read }));
});

suite('Tastypie throttles on Redis', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    const keys = await redis.keys(`tastypie-test-${RUN_ID}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });
  tastypieScenario('redis', (clock) => new RedisThrottleStore(redis, { keyPrefix: `tastypie-test-${RUN_ID}:`, clock: clock.read }));
});
