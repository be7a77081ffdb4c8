import { describe, expect, test } from '@jest/globals';
import type { ThrottleStore, WindowCheck } from '../../lib/index.js';
import { FakeClock } from './fake-clock.js';

/** A store under test with the fake clock it reads. */
export interface StoreUnderTest {
  readonly store: ThrottleStore;
  readonly clock: FakeClock;
}

const check = (key: string, limit: number, windowMs: number, record = true): WindowCheck => ({ key, limit, windowMs, record });

/**
 * The sliding-window rules every ThrottleStore must follow (DRF's allow_request): run against each
 * store so they cannot drift apart.
 */
export function describeSlidingWindowStore(name: string, create: () => StoreUnderTest | Promise<StoreUnderTest>): void {
  describe(`${name}: sliding window semantics`, () => {
    test('allows up to the limit, then denies (deny at count >= limit)', async () => {
      const { store } = await create();
      const results = [];
      for (let i = 0; i < 4; i++) results.push((await store.hit([check('k', 3, 1000)]))[0]);
      expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
      expect(results.map((r) => r.count)).toEqual([0, 1, 2, 3]);
    });

    test('prunes hits at or before now - duration', async () => {
      const { store, clock } = await create();
      clock.set(10);
      await store.hit([check('k', 1, 1000)]);
      clock.now = 10_999;
      expect((await store.hit([check('k', 1, 1000)]))[0]).toMatchObject({ allowed: false, count: 1, oldest: 10_000, now: 10_999 });
      clock.now = 11_000; // the hit at 10,000 is exactly now - duration: gone
      expect((await store.hit([check('k', 1, 1000)]))[0]).toMatchObject({ allowed: true, count: 0, oldest: null });
    });

    test('never records a denial', async () => {
      const { store, clock } = await create();
      await store.hit([check('k', 2, 60_000)]);
      clock.advance(1);
      await store.hit([check('k', 2, 60_000)]);
      for (let i = 0; i < 5; i++) await store.hit([check('k', 2, 60_000)]);
      expect(await store.peek('k', 60_000)).toMatchObject({ count: 2, oldest: 0 });
      clock.set(60); // the first hit leaves: exactly one slot, though seven requests were made
      expect((await store.hit([check('k', 2, 60_000)]))[0].allowed).toBe(true);
      expect((await store.hit([check('k', 2, 60_000)]))[0].allowed).toBe(false);
    });

    test('reports the oldest hit inside the window and the store time', async () => {
      const { store, clock } = await create();
      for (const second of [0, 20, 40]) {
        clock.set(second);
        await store.hit([check('k', 5, 60_000)]);
      }
      clock.set(70);
      expect((await store.hit([check('k', 5, 60_000)]))[0]).toEqual({ allowed: true, count: 2, oldest: 20_000, now: 70_000 });
    });

    test('a check with record: false allows without recording', async () => {
      const { store } = await create();
      for (let i = 0; i < 3; i++) expect((await store.hit([check('k', 1, 1000, false)]))[0].allowed).toBe(true);
      expect((await store.peek('k', 1000)).count).toBe(0);
    });

    test('evaluates every check of one call, in input order, on separate keys', async () => {
      const { store } = await create();
      await store.hit([check('a', 1, 1000)]);
      const results = await store.hit([check('a', 1, 1000), check('b', 1, 1000), check('c', 5, 1000)]);
      expect(results.map((r) => r.allowed)).toEqual([false, true, true]);
      expect((await store.peek('b', 1000)).count).toBe(1);
    });

    test('keys are independent', async () => {
      const { store } = await create();
      await store.hit([check('throttle_user_a', 1, 1000)]);
      expect((await store.hit([check('throttle_user_a', 1, 1000)]))[0].allowed).toBe(false);
      expect((await store.hit([check('throttle_user_b', 1, 1000)]))[0].allowed).toBe(true);
    });

    test('a limit of 0 denies everything', async () => {
      const { store } = await create();
      expect((await store.hit([check('k', 0, 1000)]))[0]).toMatchObject({ allowed: false, count: 0, oldest: null });
    });

    test('peek reads without changing and reset forgets the key', async () => {
      const { store, clock } = await create();
      await store.hit([check('k', 3, 1000)]);
      clock.now = 600;
      await store.hit([check('k', 3, 1000)]);
      expect(await store.peek('k', 1000)).toEqual({ count: 2, oldest: 0, now: 600 });
      expect(await store.peek('k', 1000)).toEqual({ count: 2, oldest: 0, now: 600 });
      expect(await store.peek('k', 500)).toEqual({ count: 1, oldest: 600, now: 600 });
      expect(await store.peek('missing', 1000)).toEqual({ count: 0, oldest: null, now: 600 });
      await store.reset('k');
      expect(await store.peek('k', 1000)).toEqual({ count: 0, oldest: null, now: 600 });
      expect((await store.hit([check('k', 1, 1000)]))[0].allowed).toBe(true);
    });

    test('record() adds hits unconditionally, past the limit too', async () => {
      const { store } = await create();
      await store.hit([check('k', 1, 1000)]);
      await store.record([{ key: 'k', windowMs: 1000 }, { key: 'other', windowMs: 1000 }]);
      expect((await store.peek('k', 1000)).count).toBe(2);
      expect((await store.peek('other', 1000)).count).toBe(1);
      expect((await store.hit([check('k', 2, 1000)]))[0]).toMatchObject({ allowed: false, count: 2 });
    });

    test('a check forgets hits that left the window even when a longer ttl keeps the key (Tastypie)', async () => {
      const { store, clock } = await create();
      await store.hit([{ key: 'k', limit: 5, windowMs: 1000, record: true, ttlMs: 10_000 }]);
      clock.set(5);
      const [result] = await store.hit([{ key: 'k', limit: 5, windowMs: 1000, record: true, ttlMs: 10_000 }]);
      expect(result).toMatchObject({ allowed: true, count: 0 });
      expect((await store.peek('k', 10_000)).count).toBe(1);
    });
  });
}
