import { beforeEach, describe, expect, test } from '@jest/globals';
import type { HitResult, ThrottleStore, WindowCheck } from '../../lib/core/store.js';
import { FakeClock } from './fake-clock.js';

/**
 * The store contract, as one spec that every store must pass with identical expectations: the
 * embedded memory store, CacheManagerThrottleStore (in memory and over Keyv Redis / Valkey) and
 * RedisThrottleStore over each client (single node and Cluster).
 *
 * Time comes from a FakeClock. The memory store takes it as its clock; RedisThrottleStore takes it
 * through its test-only `clock` option, which makes the Lua script use the given time instead of
 * the server's TIME. Everything else (the script, the lists, the client) is the production
 * path, and DRF's scenarios (t = 0, 20, 40 s...) need a clock the test controls. The server-time
 * path has its own tests (clock skew, exactness across processes).
 */
export interface StoreUnderTest {
  readonly store: ThrottleStore;
}

let keyCounter = 0;

export function describeStoreSemantics(name: string, create: (clock: () => number) => StoreUnderTest | Promise<StoreUnderTest>): void {
  describe(`${name}: DRF sliding-log semantics`, () => {
    const clock = new FakeClock();
    let store: ThrottleStore;
    // Fresh keys per test: no test sees another's hits, whatever the store keeps.
    let id: string;
    const key = (scope: string) => `throttle_${scope}_client${id}`;
    const check = (scope: string, limit: number, windowSeconds: number, extra: Partial<WindowCheck> = {}): WindowCheck => ({
      key: key(scope),
      limit,
      windowMs: windowSeconds * 1000,
      record: true,
      ...extra,
    });
    const hit = async (...checks: WindowCheck[]): Promise<HitResult[]> => store.hit(checks);
    const allowed = async (...checks: WindowCheck[]): Promise<boolean[]> => (await hit(...checks)).map((result) => result.allowed);

    beforeEach(async () => {
      clock.set(1_700_000_000);
      id = `${process.pid}x${++keyCounter}`;
      store = (await create(clock.read)).store;
    });

    test('three per second: the fourth request in the second is denied, with the count and oldest hit', async () => {
      const rate = check('sec', 3, 1);
      for (let i = 0; i < 3; i++) {
        const [result] = await hit(rate);
        expect(result).toEqual({ allowed: true, count: i, oldest: i === 0 ? null : clock.now - i * 100, now: clock.now });
        clock.advance(0.1);
      }
      const [denied] = await hit(rate);
      expect(denied).toEqual({ allowed: false, count: 3, oldest: clock.now - 300, now: clock.now });
    });

    test('a hit leaves the window exactly one window later (hits at or before now - duration are dropped)', async () => {
      const rate = check('sec', 1, 1);
      expect(await allowed(rate)).toEqual([true]);
      clock.advance(0.999);
      expect(await allowed(rate)).toEqual([false]);
      clock.advance(0.001);
      expect(await allowed(rate)).toEqual([true]);
    });

    test('denied requests are never recorded', async () => {
      const rate = check('ten', 1, 10);
      expect(await allowed(rate)).toEqual([true]);
      clock.advance(5);
      expect(await allowed(rate)).toEqual([false]);
      clock.advance(5);
      expect(await allowed(rate)).toEqual([true]);
    });

    test('three per minute at t = 0, 20, 40, 60, 80 slides the window (DRF)', async () => {
      const rate = check('min', 3, 60);
      const seen: boolean[] = [];
      for (const t of [0, 20, 40, 50, 60, 70, 80]) {
        clock.set(1_700_000_000 + t);
        seen.push(...(await allowed(rate)));
      }
      expect(seen).toEqual([true, true, true, false, true, false, true]);
    });

    test('every check of a request is evaluated: a passing one records even when another denies', async () => {
      const strict = check('burst', 1, 60);
      const loose = check('sustained', 10, 3600);
      expect(await allowed(strict, loose)).toEqual([true, true]);
      const [denied, passed] = await hit(strict, loose);
      expect(denied.allowed).toBe(false);
      expect(passed).toMatchObject({ allowed: true, count: 1 });
      expect((await store.peek(loose.key, loose.windowMs)).count).toBe(2);
      expect((await store.peek(strict.key, strict.windowMs)).count).toBe(1);
    });

    test('results come back in the order of the checks, all at the same now', async () => {
      const a = check('a', 5, 60);
      const b = check('b', 1, 60);
      await hit(b);
      const results = await hit(a, b, check('c', 2, 1));
      expect(results.map((result) => [result.allowed, result.count])).toEqual([[true, 0], [false, 1], [true, 0]]);
      expect(new Set(results.map((result) => result.now))).toEqual(new Set([clock.now]));
    });

    test('hits in the same millisecond all count', async () => {
      const rate = check('same', 5, 60);
      for (let i = 0; i < 4; i++) await hit(rate);
      expect(await store.peek(rate.key, rate.windowMs)).toEqual({ count: 4, oldest: clock.now, now: clock.now });
    });

    test('the same key twice in one request is counted twice, in order', async () => {
      const rate = check('twice', 1, 60);
      expect(await allowed(rate, rate)).toEqual([true, false]);
    });

    test('a check with record: false is not recorded until record() (Tastypie accessed)', async () => {
      const deferred = check('deferred', 2, 60, { record: false });
      expect(await allowed(deferred, deferred, deferred)).toEqual([true, true, true]);
      expect((await store.peek(deferred.key, deferred.windowMs)).count).toBe(0);
      await store.record([{ key: deferred.key, windowMs: deferred.windowMs }]);
      clock.advance(1);
      await store.record([{ key: deferred.key, windowMs: deferred.windowMs }]);
      expect(await hit(deferred)).toEqual([{ allowed: false, count: 2, oldest: clock.now - 1000, now: clock.now }]);
    });

    test('a check forgets hits that left the window even when a longer ttl keeps the key (Tastypie)', async () => {
      const rate = check('kept', 2, 10, { ttlMs: 100_000 });
      await hit(rate);
      clock.advance(5);
      await hit(rate);
      clock.advance(6);
      expect(await store.peek(rate.key, rate.windowMs)).toEqual({ count: 1, oldest: clock.now - 6000, now: clock.now });
      expect((await store.peek(rate.key, 100_000)).count).toBe(2);
      expect(await hit(rate)).toEqual([{ allowed: true, count: 1, oldest: clock.now - 6000, now: clock.now }]);
      // The check dropped the hit that had left its window; the ttl kept only the key.
      expect(await store.peek(rate.key, 100_000)).toEqual({ count: 2, oldest: clock.now - 6000, now: clock.now });
    });

    test('record() keeps hits past the window until the retention; peek counts those inside its window', async () => {
      const access = { key: key('access'), windowMs: 1000, ttlMs: 10_000 };
      const start = clock.now;
      await store.record([access]);
      clock.advance(5);
      await store.record([access]);
      clock.advance(1);
      await store.record([access]);
      expect(await store.peek(access.key, 10_000)).toEqual({ count: 3, oldest: start, now: clock.now });
      expect(await store.peek(access.key, 1500)).toEqual({ count: 2, oldest: start + 5000, now: clock.now });
      expect(await store.peek(access.key, 1000)).toEqual({ count: 1, oldest: start + 6000, now: clock.now });
      clock.now = start + 10_001;
      await store.record([access]);
      expect(await store.peek(access.key, 20_000)).toEqual({ count: 3, oldest: start + 5000, now: clock.now });
      // A check counts only its window, and forgets the rest.
      expect(await hit({ ...access, limit: 5, record: false })).toEqual([{ allowed: true, count: 1, oldest: clock.now, now: clock.now }]);
      expect(await store.peek(access.key, 20_000)).toEqual({ count: 1, oldest: clock.now, now: clock.now });
    });

    test('many hits leaving the window at once are all forgotten, and the next oldest is reported', async () => {
      const rate = check('burst', 1000, 60);
      for (let i = 0; i < 150; i++) await store.record([{ key: rate.key, windowMs: rate.windowMs }]);
      clock.advance(30);
      for (let i = 0; i < 3; i++) await hit(rate);
      clock.advance(30);
      expect(await hit(rate)).toEqual([{ allowed: true, count: 3, oldest: clock.now - 30_000, now: clock.now }]);
      expect(await store.peek(rate.key, 3_600_000)).toEqual({ count: 4, oldest: clock.now - 30_000, now: clock.now });
      clock.advance(60);
      expect(await hit(rate)).toEqual([{ allowed: true, count: 0, oldest: null, now: clock.now }]);
    });

    test('peek does not change the window, and an unknown key is empty', async () => {
      const rate = check('peek', 2, 60);
      expect(await store.peek(rate.key, rate.windowMs)).toEqual({ count: 0, oldest: null, now: clock.now });
      await hit(rate);
      await store.peek(rate.key, rate.windowMs);
      expect(await store.peek(rate.key, rate.windowMs)).toEqual({ count: 1, oldest: clock.now, now: clock.now });
      clock.advance(0.5);
      await hit(rate);
      expect(await store.peek(rate.key, 500)).toEqual({ count: 1, oldest: clock.now, now: clock.now });
    });

    test('a limit of 0 denies everything and records nothing', async () => {
      const rate = check('zero', 0, 60);
      expect(await hit(rate)).toEqual([{ allowed: false, count: 0, oldest: null, now: clock.now }]);
      expect(await store.peek(rate.key, rate.windowMs)).toEqual({ count: 0, oldest: null, now: clock.now });
    });

    test('reset forgets a key and only that key', async () => {
      const a = check('ra', 1, 60);
      const b = check('rb', 1, 60);
      await hit(a, b);
      await store.reset(a.key);
      expect(await allowed(a, b)).toEqual([true, false]);
    });

    test('identities in different keys of one request do not share a bucket', async () => {
      const first = { key: `throttle_user_alice${id}`, limit: 1, windowMs: 60_000, record: true };
      const second = { key: `throttle_user_bob${id}`, limit: 1, windowMs: 60_000, record: true };
      const custom = { key: `custom-key-without-identity-${id}`, limit: 1, windowMs: 60_000, record: true };
      expect(await allowed(first, second, custom)).toEqual([true, true, true]);
      expect(await allowed(first, second, custom)).toEqual([false, false, false]);
    });

    test('a lowered limit denies while the window holds more hits than the new limit', async () => {
      for (let i = 0; i < 5; i++) await hit(check('lowered', 10, 60));
      expect(await hit(check('lowered', 3, 60))).toEqual([{ allowed: false, count: 5, oldest: clock.now, now: clock.now, blockingHit: clock.now }]);
    });

    test('a window holding more hits than the limit reports the hit whose leaving frees a slot', async () => {
      const start = clock.now;
      for (let i = 0; i < 5; i++) {
        await store.record([{ key: key('over'), windowMs: 60_000 }]);
        clock.advance(1);
      }
      expect(await hit(check('over', 3, 60))).toEqual([{ allowed: false, count: 5, oldest: start, now: clock.now, blockingHit: start + 2000 }]);
      expect(await hit(check('over', 5, 60))).toEqual([{ allowed: false, count: 5, oldest: start, now: clock.now }]);
    });

    describe('reservations (WindowCheck.reserveMs, settle())', () => {
      const reserving = (scope: string, limit: number, extra: Partial<WindowCheck> = {}) => check(scope, limit, 60, { record: false, ttlMs: 600_000, reserveMs: 30_000, ...extra });
      const settle = (checked: WindowCheck, reservation: string, commit: boolean) =>
        store.settle!([{ key: checked.key, reservation, commit, windowMs: checked.windowMs, ttlMs: checked.ttlMs }]);

      test('an allowed reserving check holds a slot that counts against the limit; a denied one holds none', async () => {
        const rate = reserving('held', 2);
        const [first] = await hit(rate);
        const [second] = await hit(rate);
        const [third] = await hit(rate);
        expect([first.allowed, first.count, second.allowed, second.count, third.allowed, third.count]).toEqual([true, 0, true, 1, false, 2]);
        expect(typeof first.reservation).toBe('string');
        expect(first.reservation).not.toBe(second.reservation);
        expect(third.reservation).toBeUndefined();
        // A check that does not reserve counts the pending slots too, and holds nothing itself.
        expect(await hit({ ...rate, reserveMs: undefined })).toEqual([{ allowed: false, count: 2, oldest: null, now: clock.now }]);
        // Pending slots are not accesses: peek reports the recorded ones.
        expect((await store.peek(rate.key, rate.windowMs)).count).toBe(0);
      });

      test('commit records the access at the commit time and frees the slot into it', async () => {
        const rate = reserving('commit', 2);
        const [held] = await hit(rate);
        clock.advance(5);
        await settle(rate, held.reservation!, true);
        expect(await store.peek(rate.key, rate.windowMs)).toEqual({ count: 1, oldest: clock.now, now: clock.now });
        expect((await hit({ ...rate, reserveMs: undefined }))[0]).toMatchObject({ allowed: true, count: 1 });
      });

      test('release frees the slot without recording anything', async () => {
        const rate = reserving('release', 1);
        const [held] = await hit(rate);
        expect((await hit(rate))[0].allowed).toBe(false);
        await settle(rate, held.reservation!, false);
        expect((await store.peek(rate.key, rate.windowMs)).count).toBe(0);
        const [again] = await hit(rate);
        expect([again.allowed, again.count]).toEqual([true, 0]);
      });

      test('settling twice changes nothing more: a second release frees no other slot, a second commit is a second access', async () => {
        const rate = reserving('twice', 2);
        const [first] = await hit(rate);
        await hit(rate);
        await settle(rate, first.reservation!, false);
        await settle(rate, first.reservation!, false);
        // The other reservation still holds its slot.
        expect((await hit({ ...rate, reserveMs: undefined }))[0]).toMatchObject({ allowed: true, count: 1 });
      });

      test('a reservation never settled expires on its own after reserveMs', async () => {
        const rate = reserving('expiry', 1, { reserveMs: 10_000 });
        const [held] = await hit(rate);
        expect(held.allowed).toBe(true);
        clock.advance(9.999);
        expect((await hit(rate))[0].allowed).toBe(false);
        clock.advance(0.001);
        const [after] = await hit(rate);
        expect([after.allowed, after.count]).toEqual([true, 0]);
        // A commit after expiry still records the access (it happened); its slot is long gone.
        await settle(rate, held.reservation!, true);
        expect((await store.peek(rate.key, rate.windowMs)).count).toBe(1);
      });

      test('reset forgets the pending slots with the hits', async () => {
        const rate = reserving('reset', 1);
        await hit(rate);
        await store.reset(rate.key);
        expect((await hit(rate))[0]).toMatchObject({ allowed: true, count: 0 });
      });

      test('recorded accesses and pending slots add up: the denial reports the oldest recorded access', async () => {
        const rate = reserving('mixed', 3);
        const start = clock.now;
        await store.record([{ key: rate.key, windowMs: rate.windowMs, ttlMs: rate.ttlMs }]);
        clock.advance(1);
        await hit(rate);
        await hit(rate);
        expect(await hit(rate)).toEqual([{ allowed: false, count: 3, oldest: start, now: clock.now }]);
      });
    });

    test('fractional windows and large limits', async () => {
      const rate = check('frac', 1000, 1.5);
      for (let i = 0; i < 10; i++) await hit(rate);
      clock.advance(1.4);
      expect((await hit(rate))[0]).toMatchObject({ allowed: true, count: 10 });
      clock.advance(0.1);
      expect((await hit(rate))[0]).toMatchObject({ allowed: true, count: 1 });
    });
  });
}
