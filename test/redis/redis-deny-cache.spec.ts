import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { RedisThrottleStore, SimpleRateThrottle, ThrottleConfigError, type DenyCacheOption, type HitResult, type ThrottleContext, type WindowCheck } from '../../lib/index.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';
import { RedisServerProcess } from './support/redis-server-process.js';

// A redis-server of this suite's own: INFO commandstats counts our script calls and nobody else's.
const runs = await serviceAvailable('Redis', REDIS_URL);
const suite = runs ? describe : describe.skip;

const MINUTE = 60_000;
const T0 = 1_700_000_000_000;

class FloodThrottle extends SimpleRateThrottle {
  override scope = 'flood';
  getCacheKey(): string {
    return 'throttle_flood_1';
  }
}
const throttle = new FloodThrottle();
const ctx = {} as ThrottleContext;

/** The decision DRF's throttle makes from a result, as the guard would (wait, reset, remaining). */
const decisionOf = (check: WindowCheck, result: HitResult) => throttle.decide(check, result, ctx);

suite('the deny cache in front of Redis (denyCache)', () => {
  let server: RedisServerProcess;
  let redis: Redis;
  let stores = 0;
  /** A store on the suite's server, with its own prefix, on the test clock. */
  const storeOf = (clock: () => number, denyCache?: DenyCacheOption) =>
    new RedisThrottleStore(redis, { keyPrefix: `deny${++stores}:`, clock, denyCache });
  /** Script calls (EVALSHA and the EVAL of a NOSCRIPT) the server has run so far. */
  const scriptCalls = async () => {
    const info = await redis.info('commandstats');
    return [...info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce((sum, [, calls]) => sum + Number(calls), 0);
  };

  beforeAll(async () => {
    server = await RedisServerProcess.start();
    redis = new Redis(server.url);
  }, 30_000);
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  test('a flood of 200 requests at 5/min: the 195 denials cost one script call, with the same decisions and waits as without the cache', async () => {
    let now = T0;
    const plain = storeOf(() => now);
    const cached = storeOf(() => now, true);
    const check: WindowCheck = { key: 'throttle_flood_1', limit: 5, windowMs: MINUTE, record: true };
    await plain.hit([check]); // loads the script: NOSCRIPT and EVAL stay out of the counts below
    await plain.reset(check.key);

    const plainDecisions = [];
    const before = await scriptCalls();
    for (let i = 0; i < 200; i++) {
      now = T0 + i * 100;
      const [result] = await plain.hit([check]);
      plainDecisions.push(decisionOf(check, result));
    }
    const plainCalls = (await scriptCalls()) - before;

    const cachedDecisions = [];
    const start = await scriptCalls();
    for (let i = 0; i < 200; i++) {
      now = T0 + i * 100;
      const [result] = await cached.hit([check]);
      cachedDecisions.push(decisionOf(check, result));
    }
    const cachedCalls = (await scriptCalls()) - start;

    expect(cachedDecisions).toEqual(plainDecisions);
    expect(cachedDecisions.filter((decision) => !decision.allowed)).toHaveLength(195);
    expect(cachedDecisions[199]).toMatchObject({ allowed: false, wait: (MINUTE - 19_900) / 1000 });
    expect(plainCalls).toBe(200);
    // 5 allowed, then the first denial: the other 194 were answered in-process.
    expect(cachedCalls).toBe(6);
  });

  test('the cached denial ends exactly when the slot frees: denied 1 ms before with the wait Redis would give, sent to Redis and allowed at that ms', async () => {
    let now = T0;
    const plain = storeOf(() => now);
    const cached = storeOf(() => now, true);
    const check: WindowCheck = { key: 'throttle_flood_1', limit: 2, windowMs: MINUTE, record: true };
    const both = async (at: number) => {
      now = at;
      const calls = await scriptCalls();
      const [viaCache] = await cached.hit([check]);
      const cachedCalls = (await scriptCalls()) - calls;
      const [direct] = await plain.hit([check]);
      expect(decisionOf(check, viaCache)).toEqual(decisionOf(check, direct));
      expect(viaCache).toEqual(direct);
      return { allowed: viaCache.allowed, cachedCalls };
    };
    expect(await both(T0)).toEqual({ allowed: true, cachedCalls: 1 });
    expect(await both(T0 + 1000)).toEqual({ allowed: true, cachedCalls: 1 });
    expect(await both(T0 + 2000)).toEqual({ allowed: false, cachedCalls: 1 });
    expect(await both(T0 + 30_000)).toEqual({ allowed: false, cachedCalls: 0 });
    expect(await both(T0 + MINUTE - 1)).toEqual({ allowed: false, cachedCalls: 0 });
    expect(await both(T0 + MINUTE)).toEqual({ allowed: true, cachedCalls: 1 });
    // Full again (hits at T0 + 1 s and T0 + 60 s): denied by Redis, then cached until T0 + 61 s.
    expect(await both(T0 + MINUTE + 1)).toEqual({ allowed: false, cachedCalls: 1 });
    expect(await both(T0 + MINUTE + 999)).toEqual({ allowed: false, cachedCalls: 0 });
    expect(await both(T0 + MINUTE + 1000)).toEqual({ allowed: true, cachedCalls: 1 });
  });

  test('a window holding more hits than the limit: each cached denial lasts until the oldest hit leaves, so the wait is always the one Redis gives', async () => {
    let now = T0;
    const plain = storeOf(() => now);
    const cached = storeOf(() => now, true);
    const key = 'throttle_flood_1';
    // Three accesses recorded at 0, 10 and 20 s (as Tastypie's accessed or a penalty would), limit 2.
    for (const at of [0, 10_000, 20_000]) {
      now = T0 + at;
      await Promise.all([plain.record([{ key, windowMs: MINUTE }]), cached.record([{ key, windowMs: MINUTE }])]);
    }
    const check: WindowCheck = { key, limit: 2, windowMs: MINUTE, record: true };
    // 30 s: sent (cached till 60 s); 59.999 s: cached; 60 s: the oldest left, sent (cached till 70 s); 69.999 s: cached; 70 s: sent, allowed.
    const sent = new Set([30_000, 60_000, 70_000]);
    for (const at of [30_000, 59_999, 60_000, 69_999, 70_000]) {
      now = T0 + at;
      const calls = await scriptCalls();
      const [viaCache] = await cached.hit([check]);
      const cachedCalls = (await scriptCalls()) - calls;
      const [direct] = await plain.hit([check]);
      expect(viaCache).toEqual(direct);
      expect({ at, allowed: viaCache.allowed, cachedCalls }).toEqual({ at, allowed: at === 70_000, cachedCalls: sent.has(at) ? 1 : 0 });
    }
  });

  test('a two-throttle request with one cached denial sends only the other check, which records its hit; results keep their order', async () => {
    let now = T0;
    const store = storeOf(() => now, true);
    const burst: WindowCheck = { key: 'throttle_burst_7', limit: 1, windowMs: MINUTE, record: true };
    const sustained: WindowCheck = { key: 'throttle_sustained_7', limit: 10, windowMs: MINUTE, record: true };
    expect((await store.hit([burst, sustained])).map((r) => r.allowed)).toEqual([true, true]);
    now += 1000;
    expect((await store.hit([burst, sustained])).map((r) => r.allowed)).toEqual([false, true]);
    now += 1000;
    const sentKeys: string[][] = [];
    // monitor() opens a connection of its own: that one is the feed to close.
    const monitor = await redis.monitor();
    monitor.on('monitor', (_time: string, args: string[]) => args[0].toLowerCase() === 'evalsha' && sentKeys.push(args.slice(3, 3 + Number(args[2]))));
    const calls = await scriptCalls();
    const results = await store.hit([burst, sustained]);
    expect((await scriptCalls()) - calls).toBe(1);
    expect(results.map((r) => [r.allowed, r.count])).toEqual([
      [false, 1],
      [true, 2],
    ]);
    monitor.disconnect();
    expect(sentKeys).toEqual([[store.redisKey(sustained.key)]]);
    expect((await store.peek(sustained.key, MINUTE)).count).toBe(3);
    expect((await store.peek(burst.key, MINUTE)).count).toBe(1);
    // Every check cached: no round trip at all.
    const sustainedFull: WindowCheck = { ...sustained, limit: 3 };
    await store.hit([sustainedFull]);
    const quiet = await scriptCalls();
    expect((await store.hit([burst, sustainedFull])).map((r) => r.allowed)).toEqual([false, false]);
    expect((await scriptCalls()) - quiet).toBe(0);
  });

  test("reset() in this process drops the key's cached denial", async () => {
    let now = T0;
    const store = storeOf(() => now, true);
    const check: WindowCheck = { key: 'throttle_flood_1', limit: 1, windowMs: MINUTE, record: true };
    await store.hit([check]);
    now += 1000;
    expect((await store.hit([check]))[0].allowed).toBe(false);
    expect((await store.hit([check]))[0].allowed).toBe(false);
    await store.reset(check.key);
    const calls = await scriptCalls();
    expect((await store.hit([check]))[0]).toMatchObject({ allowed: true, count: 0 });
    expect((await scriptCalls()) - calls).toBe(1);
  });

  test("the cache holds at most maxKeys denials, dropping the least recently used; another limit on the key is not answered from it", async () => {
    let now = T0;
    const store = storeOf(() => now, { maxKeys: 2 });
    const check = (id: number): WindowCheck => ({ key: `throttle_lru_${id}`, limit: 1, windowMs: MINUTE, record: true });
    for (const id of [1, 2, 3]) await store.hit([check(id)]);
    now += 1000;
    const callsFor = async (id: number) => {
      const calls = await scriptCalls();
      const [result] = await store.hit([check(id)]);
      expect(result.allowed).toBe(false);
      return (await scriptCalls()) - calls;
    };
    expect(await callsFor(1)).toBe(1); // denied by Redis, cached: [1]
    expect(await callsFor(2)).toBe(1); // [1, 2]
    expect(await callsFor(1)).toBe(0); // used: [2, 1]
    expect(await callsFor(3)).toBe(1); // [1, 3]: 2 dropped
    expect(await callsFor(1)).toBe(0);
    expect(await callsFor(3)).toBe(0);
    expect(await callsFor(2)).toBe(1);
    // The same key checked against another limit goes to Redis (and Redis decides).
    const calls = await scriptCalls();
    expect((await store.hit([{ ...check(2), limit: 5 }]))[0].allowed).toBe(true);
    expect((await scriptCalls()) - calls).toBe(1);
  });

  test("checks that do not record (Tastypie's, reserving) are never answered from the cache", async () => {
    let now = T0;
    const store = storeOf(() => now, true);
    const key = 'throttle_tastypie_1';
    await store.record([{ key, windowMs: MINUTE }]);
    const checks: WindowCheck[] = [
      { key, limit: 1, windowMs: MINUTE, record: false },
      { key, limit: 1, windowMs: MINUTE, record: false, reserveMs: 5000 },
    ];
    for (const check of checks) {
      for (let i = 0; i < 2; i++) {
        now += 100;
        const calls = await scriptCalls();
        expect((await store.hit([check]))[0].allowed).toBe(false);
        expect((await scriptCalls()) - calls).toBe(1);
      }
    }
  });

  test('off by default: every denial goes to Redis', async () => {
    let now = T0;
    const store = storeOf(() => now);
    const check: WindowCheck = { key: 'throttle_flood_1', limit: 1, windowMs: MINUTE, record: true };
    await store.hit([check]);
    const calls = await scriptCalls();
    for (let i = 0; i < 5; i++) {
      now += 100;
      expect((await store.hit([check]))[0].allowed).toBe(false);
    }
    expect((await scriptCalls()) - calls).toBe(5);
  });

  test('a bad denyCache is refused, naming the value', () => {
    const make = (denyCache: unknown) => () => new RedisThrottleStore(redis, { denyCache: denyCache as boolean });
    expect(make('yes')).toThrow(ThrottleConfigError);
    expect(make('yes')).toThrow(/denyCache must be true, false or \{ maxKeys \}, got 'yes'|got "yes"/);
    expect(make(null)).toThrow(/denyCache must be true, false or \{ maxKeys \}, got null/);
    expect(make({ maxKeys: 0 })).toThrow(/denyCache\.maxKeys must be a positive integer, got 0/);
    expect(make({ maxKeys: 1.5 })).toThrow(/denyCache\.maxKeys must be a positive integer, got 1\.5/);
    expect(make({ maxKeys: '10' })).toThrow(/denyCache\.maxKeys must be a positive integer, got .*10/);
    expect(make({})).not.toThrow();
    expect(make(false)).not.toThrow();
  });
});
