import { describe, expect, test } from '@jest/globals';
import { createCache } from 'cache-manager';
import { CacheManagerThrottleStore, ThrottleConfigError, type WindowCheck } from '../../lib/index.js';
import type { CacheLike } from '../../lib/stores/cache-manager-throttle-store.js';
import { FakeClock } from '../support/fake-clock.js';

const MINUTE = 60_000;

function setup() {
  const cache = createCache();
  const clock = new FakeClock();
  const ttls = new Map<string, number | undefined>();
  const spying: CacheLike = {
    get: (key) => cache.get(key),
    del: (key) => cache.del(key),
    set: (key, value, ttl) => (ttls.set(key, ttl), cache.set(key, value, ttl)),
  };
  const store = new CacheManagerThrottleStore(spying, { clock: clock.read, keyPrefix: 'rl:' });
  return { cache, clock, ttls, store };
}

const counter = (algorithm: WindowCheck['algorithm'], fields: Partial<WindowCheck> = {}): WindowCheck => ({ key: 'k', limit: 3, windowMs: MINUTE, record: true, algorithm, ...fields });

describe('CacheManagerThrottleStore: counter algorithms', () => {
  test('fixed-window admits the limit per aligned window, then denies until the window ends, kept as one short string', async () => {
    const { cache, clock, ttls, store } = setup();
    clock.set(15);
    for (let i = 0; i < 3; i++) expect((await store.hit([counter('fixed-window')]))[0]).toMatchObject({ allowed: true, count: i, oldest: null, outcome: { remaining: 2 - i, resetMs: 45_000 } });
    expect((await store.hit([counter('fixed-window')]))[0]).toMatchObject({ allowed: false, count: 3, outcome: { allowed: false, remaining: 0, waitMs: 45_000 } });
    expect(await cache.get('rl:k:fw')).toBe('0:3');
    expect(ttls.get('rl:k:fw')).toBe(45_000);
    expect(await cache.get('rl:k')).toBeUndefined();
    clock.set(60);
    expect((await store.hit([counter('fixed-window')]))[0]).toMatchObject({ allowed: true, count: 0 });
    expect(await cache.get('rl:k:fw')).toBe('60000:1');
  });

  test('sliding-window weighs the previous window: a full previous window half past still holds half the limit', async () => {
    const { cache, clock, store } = setup();
    const check = counter('sliding-window', { limit: 4 });
    for (let i = 0; i < 4; i++) expect((await store.hit([check]))[0].allowed).toBe(true);
    expect((await store.hit([check]))[0].allowed).toBe(false);
    expect(await cache.get('rl:k:sw')).toBe('0:4:0');
    clock.set(90);
    // estimate = 4 x 0.5 = 2: two more fit, the third does not.
    expect((await store.hit([check]))[0]).toMatchObject({ allowed: true, count: 2 });
    expect((await store.hit([check]))[0].allowed).toBe(true);
    expect((await store.hit([check]))[0].allowed).toBe(false);
    expect(await cache.get('rl:k:sw')).toBe('60000:2:4');
  });

  test('gcra admits its burst at once, then one unit per emission interval', async () => {
    const { cache, clock, ttls, store } = setup();
    const check = counter('gcra', { burst: 2 });
    expect((await store.hit([check]))[0]).toMatchObject({ allowed: true, outcome: { limit: 2, remaining: 1 } });
    expect((await store.hit([check]))[0]).toMatchObject({ allowed: true, outcome: { remaining: 0 } });
    expect((await store.hit([check]))[0]).toMatchObject({ allowed: false, outcome: { waitMs: 20_000 } });
    expect(await cache.get('rl:k:gc')).toBe('40000:0');
    // Kept until the TAT has passed (the fraction of a ms included).
    expect(ttls.get('rl:k:gc')).toBe(40_001);
    clock.set(20);
    expect((await store.hit([check]))[0].allowed).toBe(true);
    expect((await store.hit([check]))[0].allowed).toBe(false);
  });

  test('200 concurrent hits on one gcra key with limit 10 admit exactly 10', async () => {
    const { store } = setup();
    const check = counter('gcra', { limit: 10, key: 'hot' });
    const results = await Promise.all(Array.from({ length: 200 }, () => store.hit([check])));
    expect(results.filter(([result]) => result.allowed)).toHaveLength(10);
    expect(await store.peek('hot', MINUTE, { algorithm: 'gcra', limit: 10 })).toMatchObject({ count: 10, outcome: { allowed: false, remaining: 0 } });
  });

  test('a counter check with record: false only answers: nothing is counted or written', async () => {
    const { cache, store } = setup();
    for (let i = 0; i < 5; i++) expect((await store.hit([counter('fixed-window', { record: false })]))[0]).toMatchObject({ allowed: true, count: 0 });
    expect(await cache.get('rl:k:fw')).toBeUndefined();
  });

  test('an unknown algorithm is refused with a ThrottleConfigError naming it, in hit, record and peek', async () => {
    const { store } = setup();
    await expect(store.hit([counter('leaky-bucket' as never)])).rejects.toThrow(ThrottleConfigError);
    await expect(store.hit([counter('leaky-bucket' as never)])).rejects.toThrow("'leaky-bucket'");
    await expect(store.record([{ key: 'k', windowMs: MINUTE, algorithm: 'leaky' as never, limit: 3 }])).rejects.toThrow("'leaky'");
    await expect(store.peek('k', MINUTE, { algorithm: 'leaky' as never, limit: 3 })).rejects.toThrow("'leaky'");
  });

  test('a foreign value in a counter\'s entry reads as a fresh key', async () => {
    const { cache, store } = setup();
    await cache.set('rl:k:gc', [1, 2, 3]);
    await cache.set('rl:k:fw', 'not:a:counter:at:all');
    expect((await store.hit([counter('gcra')]))[0]).toMatchObject({ allowed: true, count: 0 });
    expect((await store.hit([counter('fixed-window')]))[0]).toMatchObject({ allowed: true, count: 0 });
  });
});

describe('CacheManagerThrottleStore: cost', () => {
  test('a counter check takes its cost, and a cost that no longer fits is denied with the units left', async () => {
    const { store } = setup();
    const check = counter('fixed-window', { limit: 10, cost: 4 });
    expect((await store.hit([check]))[0]).toMatchObject({ allowed: true, outcome: { remaining: 6 } });
    expect((await store.hit([check]))[0]).toMatchObject({ allowed: true, count: 4, outcome: { remaining: 2 } });
    expect((await store.hit([check]))[0]).toMatchObject({ allowed: false, count: 8, outcome: { remaining: 2, waitMs: MINUTE } });
    expect((await store.hit([{ ...check, cost: 11 }]))[0].outcome).toMatchObject({ allowed: false, waitMs: null });
  });

  test('a sliding log with cost n records n hits at now when count + n fits', async () => {
    const { cache, clock, store } = setup();
    clock.set(1);
    const check: WindowCheck = { key: 'k', limit: 5, windowMs: MINUTE, record: true, cost: 3 };
    expect((await store.hit([check]))[0]).toMatchObject({ allowed: true, count: 0, outcome: { remaining: 2, waitMs: 0 } });
    expect(await cache.get('rl:k')).toEqual([1000, 1000, 1000]);
    expect((await store.hit([check]))[0]).toMatchObject({ allowed: false, count: 3, oldest: 1000, outcome: { remaining: 2, waitMs: MINUTE } });
    expect(await cache.get('rl:k')).toEqual([1000, 1000, 1000]);
  });
});

describe('CacheManagerThrottleStore: blockMs', () => {
  test('a sliding log denied with blockMs refuses for the block, uncounted, and the block lives in the log\'s entry', async () => {
    const { cache, clock, ttls, store } = setup();
    const check: WindowCheck = { key: 'k', limit: 2, windowMs: 1000, record: true, blockMs: 10_000 };
    await store.hit([check]);
    await store.hit([check]);
    expect((await store.hit([check]))[0]).toMatchObject({ allowed: false, outcome: { waitMs: 10_000 } });
    expect(await cache.get('rl:k')).toEqual({ t: [0, 0], b: 10_000 });
    expect(ttls.get('rl:k')).toBe(10_000);
    clock.set(5);
    // The window is long empty; the block still refuses, and does not grow.
    expect((await store.hit([check]))[0]).toMatchObject({ allowed: false, count: 0, outcome: { remaining: 0, waitMs: 5000 } });
    clock.set(10);
    expect((await store.hit([check]))[0]).toMatchObject({ allowed: true, count: 0 });
    expect(await cache.get('rl:k')).toEqual([10_000]);
  });

  test('a DRF plain check on a blocked key leaves the block in place', async () => {
    const { cache, clock, store } = setup();
    const blocking: WindowCheck = { key: 'k', limit: 1, windowMs: 1000, record: true, blockMs: 10_000 };
    await store.hit([blocking]);
    await store.hit([blocking]);
    clock.set(2);
    expect((await store.hit([{ key: 'k', limit: 1, windowMs: 1000, record: true }]))[0].allowed).toBe(true);
    expect(await cache.get('rl:k')).toEqual({ t: [2000], b: 10_000 });
    expect((await store.hit([blocking]))[0]).toMatchObject({ allowed: false, outcome: { waitMs: 8000 } });
  });

  test('a gcra denial with blockMs blocks the key past the algorithm\'s own wait', async () => {
    const { cache, clock, store } = setup();
    const check = counter('gcra', { limit: 1, windowMs: 1000, blockMs: 30_000 });
    expect((await store.hit([check]))[0].allowed).toBe(true);
    expect((await store.hit([check]))[0]).toMatchObject({ allowed: false, outcome: { waitMs: 30_000 } });
    expect(await cache.get('rl:k:gc')).toBe('1000:0:30000');
    clock.set(29);
    expect((await store.hit([check]))[0]).toMatchObject({ allowed: false, outcome: { waitMs: 1000 } });
    clock.set(30);
    expect((await store.hit([check]))[0].allowed).toBe(true);
  });

  test('a denial that can never pass (cost above the limit) starts no block', async () => {
    const { cache, store } = setup();
    expect((await store.hit([counter('fixed-window', { cost: 4, blockMs: 30_000 })]))[0].outcome).toMatchObject({ allowed: false, waitMs: null });
    expect(await cache.get('rl:k:fw')).toBeUndefined();
    expect((await store.hit([counter('fixed-window', { blockMs: 30_000 })]))[0].allowed).toBe(true);
  });
});

describe('CacheManagerThrottleStore: all or nothing', () => {
  test('a denied call changes no count: the allowed checks are answered but not counted', async () => {
    const { cache, store } = setup();
    const full: WindowCheck = { key: 'full', limit: 1, windowMs: MINUTE, record: true };
    await store.hit([full]);
    const before = await cache.get('rl:full');
    const results = await store.hit([counter('gcra', { key: 'a' }), { key: 'b', limit: 5, windowMs: MINUTE, record: true }, { ...full, allOrNothing: true }]);
    expect(results.map((result) => result.allowed)).toEqual([true, true, false]);
    expect(await cache.get('rl:a:gc')).toBeUndefined();
    expect(await cache.get('rl:b')).toBeUndefined();
    expect(await cache.get('rl:full')).toEqual(before);
    expect(await store.peek('a', MINUTE, { algorithm: 'gcra', limit: 3 })).toMatchObject({ count: 0 });
  });

  test('when every check allows, all are counted', async () => {
    const { store } = setup();
    const results = await store.hit([counter('fixed-window', { key: 'a', allOrNothing: true }), { key: 'b', limit: 5, windowMs: MINUTE, record: true }]);
    expect(results.every((result) => result.allowed)).toBe(true);
    expect((await store.peek('a', MINUTE, { algorithm: 'fixed-window', limit: 3 })).count).toBe(1);
    expect((await store.peek('b', MINUTE)).count).toBe(1);
  });

  test('one key checked twice must fit both costs together, else neither counts', async () => {
    const { store } = setup();
    const check = counter('fixed-window', { limit: 5, cost: 3, allOrNothing: true });
    expect((await store.hit([check, check])).map((result) => result.allowed)).toEqual([true, false]);
    expect((await store.peek('k', MINUTE, { algorithm: 'fixed-window', limit: 5 })).count).toBe(0);
  });

  test('a denied check of an all-or-nothing call still starts its block', async () => {
    const { store } = setup();
    const blocking = counter('fixed-window', { key: 'b', limit: 1, blockMs: 5000, allOrNothing: true });
    await store.hit([blocking]);
    expect((await store.hit([counter('gcra', { key: 'a' }), blocking]))[1].outcome).toMatchObject({ allowed: false, waitMs: MINUTE });
    expect((await store.peek('b', MINUTE, { algorithm: 'fixed-window', limit: 1 })).outcome).toMatchObject({ allowed: false, waitMs: MINUTE });
    expect((await store.peek('a', MINUTE, { algorithm: 'gcra', limit: 3 })).count).toBe(0);
  });
});

describe('CacheManagerThrottleStore: record, peek, reset, algorithm switch', () => {
  test('a counted record adds its units past the limit, and the next check is denied', async () => {
    const { cache, store } = setup();
    await store.record([{ key: 'k', windowMs: MINUTE, algorithm: 'fixed-window', limit: 5, cost: 7 }]);
    expect(await cache.get('rl:k:fw')).toBe('0:7');
    expect(await store.peek('k', MINUTE, { algorithm: 'fixed-window', limit: 5 })).toMatchObject({ count: 7, outcome: { allowed: false, remaining: 0 } });
    expect((await store.hit([counter('fixed-window', { limit: 5 })]))[0].allowed).toBe(false);
  });

  test('a record on gcra past its burst leaves nothing to take, and needs the check\'s limit', async () => {
    const { store } = setup();
    await store.record([{ key: 'k', windowMs: MINUTE, algorithm: 'gcra', limit: 3, cost: 5 }]);
    expect((await store.peek('k', MINUTE, { algorithm: 'gcra', limit: 3 })).outcome).toMatchObject({ allowed: false, remaining: 0 });
    await expect(store.record([{ key: 'k', windowMs: MINUTE, algorithm: 'gcra' }])).rejects.toThrow(ThrottleConfigError);
  });

  test('a record with a cost on a sliding log records that many hits', async () => {
    const { store } = setup();
    await store.record([{ key: 'k', windowMs: MINUTE, cost: 4 }]);
    expect((await store.peek('k', MINUTE)).count).toBe(4);
  });

  test('peek reads a counter without changing it; an unknown key reads fresh', async () => {
    const { cache, store } = setup();
    await store.hit([counter('sliding-window')]);
    const stored = await cache.get('rl:k:sw');
    for (let i = 0; i < 3; i++) expect(await store.peek('k', MINUTE, { algorithm: 'sliding-window', limit: 3 })).toMatchObject({ count: 1, oldest: null, outcome: { allowed: true, remaining: 1 } });
    expect(await cache.get('rl:k:sw')).toBe(stored);
    expect(await store.peek('other', MINUTE, { algorithm: 'sliding-window', limit: 3 })).toMatchObject({ count: 0, outcome: { remaining: 2 } });
  });

  test('reset forgets the key under every algorithm, its block included, and only that key', async () => {
    const { cache, store } = setup();
    const log: WindowCheck = { key: 'k', limit: 1, windowMs: MINUTE, record: true, blockMs: MINUTE };
    await store.hit([log, counter('fixed-window'), counter('sliding-window'), counter('gcra'), counter('gcra', { key: 'other' })]);
    await store.hit([log]);
    await store.reset('k');
    for (const name of ['rl:k', 'rl:k:fw', 'rl:k:sw', 'rl:k:gc']) expect(await cache.get(name)).toBeUndefined();
    expect((await store.hit([log]))[0].allowed).toBe(true);
    for (const algorithm of ['fixed-window', 'sliding-window', 'gcra'] as const) expect((await store.peek('k', MINUTE, { algorithm, limit: 3 })).count).toBe(0);
    expect((await store.peek('other', MINUTE, { algorithm: 'gcra', limit: 3 })).count).toBe(1);
  });

  test('a key checked with another algorithm starts afresh, and finds its state when switched back (as on Redis)', async () => {
    const { store } = setup();
    for (let i = 0; i < 3; i++) await store.hit([counter('fixed-window')]);
    expect((await store.hit([counter('fixed-window')]))[0].allowed).toBe(false);
    expect((await store.hit([counter('gcra')]))[0]).toMatchObject({ allowed: true, count: 0 });
    expect((await store.hit([{ key: 'k', limit: 3, windowMs: MINUTE, record: true, cost: 1, blockMs: 0 }]))[0]).toMatchObject({ allowed: true, count: 0 });
    expect((await store.hit([counter('fixed-window')]))[0].allowed).toBe(false);
  });
});
