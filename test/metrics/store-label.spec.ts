import { describe, expect, test } from '@jest/globals';
import type { ThrottleStore } from '../../lib/core/store.js';
import { storeLabel } from '../../lib/stores/store-label.js';
import { MemoryThrottleStore } from '../../lib/stores/memory-throttle-store.js';
import { RedisThrottleStore } from '../../lib/stores/redis/redis-throttle-store.js';

describe('the store label names the kind of store, never its address', () => {
  test('the memory store is "memory", a Redis store "redis", any other class "custom"', () => {
    expect(storeLabel(new MemoryThrottleStore())).toBe('memory');
    const redis = Object.create(RedisThrottleStore.prototype) as ThrottleStore;
    expect(storeLabel(redis)).toBe('redis');
    const custom: ThrottleStore = { hit: () => [], record: () => undefined, peek: () => ({ count: 0, oldest: null, now: 0 }), reset: () => undefined };
    expect(storeLabel(custom)).toBe('custom');
  });
});
