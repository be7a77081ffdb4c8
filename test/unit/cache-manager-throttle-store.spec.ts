import { describe, expect, test } from '@jest/globals';
import { createCache } from 'cache-manager';
import { CacheManagerThrottleStore, type WindowCheck } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { describeStoreSemantics } from '../support/store-semantics.js';

describeStoreSemantics('CacheManagerThrottleStore on cache-manager 7 (Keyv in memory)', (clock) => ({ store: new CacheManagerThrottleStore(createCache(), { clock }) }));

const check = (key: string, limit: number): WindowCheck => ({ key, limit, windowMs: 60_000, record: true });

describe('CacheManagerThrottleStore', () => {
  test('50 concurrent hits on one key with limit 10 admit exactly 10', async () => {
    const clock = new FakeClock();
    const store = new CacheManagerThrottleStore(createCache(), { clock: clock.read });
    const results = await Promise.all(Array.from({ length: 50 }, () => store.hit([check('hot', 10)])));
    expect(results.filter(([result]) => result.allowed)).toHaveLength(10);
    expect((await store.peek('hot', 60_000)).count).toBe(10);
  });

  test('concurrent requests with overlapping keys never over-admit either key', async () => {
    const clock = new FakeClock();
    const store = new CacheManagerThrottleStore(createCache(), { clock: clock.read });
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => store.hit(i % 2 === 0 ? [check('shared', 15), check('even', 100)] : [check('odd', 100), check('shared', 15)])),
    );
    const sharedAllowed = results.filter((pair, i) => pair[i % 2 === 0 ? 0 : 1].allowed).length;
    expect(sharedAllowed).toBe(15);
    expect((await store.peek('shared', 60_000)).count).toBe(15);
    expect((await store.peek('even', 60_000)).count).toBe(20);
    expect((await store.peek('odd', 60_000)).count).toBe(20);
  });

  test('a check that prunes writes the log back (Tastypie renews it) and deletes one pruned to nothing', async () => {
    const cache = createCache();
    const clock = new FakeClock();
    const store = new CacheManagerThrottleStore(cache, { clock: clock.read, keyPrefix: 'rl:' });
    const access = { key: 'k', windowMs: 1000, ttlMs: 10_000 };
    await store.record([access]);
    clock.set(5);
    await store.record([access]);
    clock.set(5.5);
    const check = { ...access, limit: 5, record: false };
    expect((await store.hit([check]))[0]).toMatchObject({ allowed: true, count: 1, oldest: 5000 });
    expect(await cache.get('rl:k')).toEqual([5000]);
    clock.set(7);
    expect((await store.hit([check]))[0]).toMatchObject({ allowed: true, count: 0, oldest: null });
    expect(await cache.get('rl:k')).toBeUndefined();
  });

  test('keeps its keys under the prefix, apart from the app\'s own entries', async () => {
    const cache = createCache();
    const store = new CacheManagerThrottleStore(cache, { clock: new FakeClock().read, keyPrefix: 'rl:' });
    await cache.set('throttle_user_1', 'app data');
    await store.hit([check('throttle_user_1', 5)]);
    expect(await cache.get('throttle_user_1')).toBe('app data');
    expect(await cache.get('rl:throttle_user_1')).toEqual([0]);
  });

  test('writes entries with a ttl so the cache forgets idle keys', async () => {
    const cache = createCache();
    const ttls: (number | undefined)[] = [];
    const spying = { get: cache.get.bind(cache), del: cache.del.bind(cache), set: <T>(key: string, value: T, ttl?: number) => (ttls.push(ttl), cache.set(key, value, ttl)) };
    const store = new CacheManagerThrottleStore(spying, { clock: new FakeClock().read });
    await store.hit([check('k', 5)]);
    expect(ttls).toEqual([60_000]);
  });

  test('refuses something that is not a cache, naming what it got', () => {
    expect(() => new CacheManagerThrottleStore(null as never)).toThrow('got null');
    expect(() => new CacheManagerThrottleStore({} as never)).toThrow('got {}');
  });
});
