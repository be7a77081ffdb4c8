import { describe, expect, test } from '@jest/globals';
import { MemoryThrottleStore, ThrottleConfigError, type WindowCheck } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { describeStoreSemantics } from '../support/store-semantics.js';
import { MAX_DROPPED_PER_CHECK } from '../../lib/core/sliding-log.js';

// The reference for every other store: the same spec runs on Redis, Valkey and cache-manager.
describeStoreSemantics('MemoryThrottleStore', (clock) => ({ store: new MemoryThrottleStore({ clock }) }));

const check = (key: string, limit = 10, windowMs = 1000): WindowCheck => ({ key, limit, windowMs, record: true });

/** The store's recency list (white-box: lib/stores/memory/key-rows.ts; a key is a log's entry or a counter's row). */
type ListedKey = object | number;
interface ListedRows {
  oldest: ListedKey | null;
  sweepCursor: ListedKey | null;
  newerOf(node: ListedKey): ListedKey | null;
  keyOf(node: ListedKey): string;
}
const rowsOf = (store: MemoryThrottleStore): ListedRows => (store as unknown as { rows: ListedRows }).rows;

/** The keys along the recency list, oldest first (white-box: the list must hold exactly the store's keys). */
function listedKeys(store: MemoryThrottleStore): string[] {
  const rows = rowsOf(store);
  const keys: string[] = [];
  // Bounded walk: a corrupted list may have a cycle.
  for (let node = rows.oldest; node !== null && keys.length <= store.size; node = rows.newerOf(node)) keys.push(rows.keyOf(node));
  return keys;
}

/** The key of the entry the sweep inspects next (white-box: to set up a scenario for sure). */
const sweepCursorKey = (store: MemoryThrottleStore): string | undefined => {
  const rows = rowsOf(store);
  return rows.sweepCursor === null ? undefined : rows.keyOf(rows.sweepCursor);
};

describe('MemoryThrottleStore', () => {
  test('answers synchronously (no promise on the hot path)', () => {
    const store = new MemoryThrottleStore({ clock: new FakeClock().read });
    const results = store.hit([check('k')]);
    expect(Array.isArray(results)).toBe(true);
  });

  test('a limit of 1,000,000 admits exactly 1,000,000 hits in the window, then denies', () => {
    const clock = new FakeClock();
    const store = new MemoryThrottleStore({ clock: clock.read });
    const hot = [check('hot', 1_000_000, 60_000)];
    let allowed = 0;
    for (let i = 0; i < 1_000_000; i++) {
      if (i % 1000 === 0) clock.now = i / 1000; // spread over the first second
      if (store.hit(hot)[0].allowed) allowed++;
    }
    expect(allowed).toBe(1_000_000);
    const [denied] = store.hit(hot);
    expect(denied).toMatchObject({ allowed: false, count: 1_000_000, oldest: 0 });
    clock.now = 60_000; // the 1,000 hits of t=0 leave the window
    expect(store.hit(hot)[0]).toMatchObject({ allowed: true, count: 999_000 });
  });

  test('a million-hit window sliding out at once: each check drops a bounded chunk, and every count stays exact', () => {
    const clock = new FakeClock();
    const store = new MemoryThrottleStore({ clock: clock.read });
    const hot = check('slide', 1_000_000, 60_000);
    // A million hits over the first minute, 1,000 per 60 ms.
    for (let i = 0; i < 1_000_000; i++) {
      if (i % 1000 === 0) clock.now = (i / 1000) * 60;
      store.hit([hot]);
    }
    const sizeOf = () => (store as unknown as { entries: Map<string, { size: number }> }).entries.get('slide')!.size;
    /** The reference: hits at or before now - window are gone (lib/core/sliding-log.ts). */
    const inWindow = (now: number) => {
      let count = 0;
      for (let i = 0; i < 1_000_000; i++) if (Math.floor(i / 1000) * 60 > now - 60_000) count++;
      return count;
    };
    // Half the window leaves at once, then all but its last second (once all of it has, the key
    // expires and is cleared at once): no check drops more than the bound.
    for (const now of [90_000, 90_000, 90_001, 119_000, 119_000]) {
      clock.now = now;
      const before = sizeOf();
      const [result] = store.hit([{ ...hot, record: false }]);
      expect(before - sizeOf()).toBeLessThanOrEqual(MAX_DROPPED_PER_CHECK);
      expect(result.count).toBe(inWindow(now));
      expect(store.peek('slide', 60_000).count).toBe(inWindow(now));
    }
    // Recording (accessed) drops by the same bound.
    const before = sizeOf();
    store.record([{ key: 'slide', windowMs: 60_000 }]);
    expect(before + 1 - sizeOf()).toBe(MAX_DROPPED_PER_CHECK);
    expect(store.hit([hot])[0]).toMatchObject({ allowed: true, count: inWindow(119_000) + 1, oldest: 59_040 });
  });

  test('with expired hits left at the head, a denial reports the oldest hit and the blocking hit of the window, not of the log', () => {
    const clock = new FakeClock();
    const store = new MemoryThrottleStore({ clock: clock.read });
    const recorded = { key: 'stale', windowMs: 1_000, ttlMs: 10_000 };
    // 3,000 hits kept by a long retention, then 3 inside the window.
    for (let i = 0; i < 3_000; i++) store.record([recorded]);
    clock.now = 5_000;
    for (let i = 0; i < 3; i++) store.record([recorded]);
    const [denied] = store.hit([{ key: 'stale', limit: 2, windowMs: 1_000, record: true }]);
    expect(denied).toEqual({ allowed: false, count: 3, oldest: 5_000, now: 5_000, blockingHit: 5_000 });
  });

  test('past maxKeys it evicts the least recently used key and keeps recently used ones', () => {
    const clock = new FakeClock();
    const store = new MemoryThrottleStore({ clock: clock.read, maxKeys: 3 });
    store.hit([check('a')]);
    store.hit([check('b')]);
    store.hit([check('c')]);
    store.hit([check('a')]); // a is now the most recently used
    store.hit([check('d')]); // evicts b
    expect(store.size).toBe(3);
    expect(store.peek('a', 1000).count).toBe(2);
    expect(store.peek('b', 1000).count).toBe(0);
    expect(store.peek('c', 1000).count).toBe(1);
    expect(store.peek('d', 1000).count).toBe(1);
    store.record([{ key: 'e', windowMs: 1000 }]); // evicts c, the least recently used now
    expect(store.peek('c', 1000).count).toBe(0);
    expect(store.peek('a', 1000).count).toBe(2);
    expect(store.size).toBe(3);
  });

  test('eviction follows exact least-recently-used order through any mix of hits, records and resets', () => {
    const clock = new FakeClock();
    const maxKeys = 5;
    const store = new MemoryThrottleStore({ clock: clock.read, maxKeys });
    // Reference model: a Map re-inserted on every use is in least-recently-used order.
    const model = new Map<string, number>();
    const use = (key: string, hits: number) => {
      model.delete(key);
      model.set(key, hits);
      if (model.size > maxKeys) model.delete(model.keys().next().value!);
    };
    let seed = 7;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    const keys = Array.from({ length: 9 }, (_, i) => `p_${i}`);
    let firstMismatch: unknown = null;
    for (let step = 0; step < 2000 && firstMismatch === null; step++) {
      const key = keys[random(keys.length)];
      const op = random(10);
      if (op < 6) {
        store.hit([check(key, 1_000_000, 3_600_000)]);
        use(key, (model.get(key) ?? 0) + 1);
      } else if (op < 9) {
        store.record([{ key, windowMs: 3_600_000 }]);
        use(key, (model.get(key) ?? 0) + 1);
      } else {
        store.reset(key);
        model.delete(key);
      }
      const actual = keys.map((k) => store.peek(k, 3_600_000).count);
      const expected = keys.map((k) => model.get(k) ?? 0);
      if (store.size !== model.size || actual.join() !== expected.join() || listedKeys(store).length !== store.size) {
        firstMismatch = { step, size: store.size, expectedSize: model.size, actual, expected };
      }
    }
    expect(firstMismatch).toBeNull();
  });

  test('expired keys are reclaimed by the incremental sweep without being touched', () => {
    const clock = new FakeClock();
    const store = new MemoryThrottleStore({ clock: clock.read });
    for (let i = 0; i < 20; i++) store.hit([check(`idle-${i}`, 10, 1000)]);
    store.hit([check('long-lived', 10, 3_600_000)]);
    expect(store.size).toBe(21);
    clock.set(2); // every idle key has expired; the long-lived one has not
    let operations = 0;
    while (store.size > 2 && operations < 100) {
      store.hit([check('active', 1000, 3_600_000)]);
      operations++;
    }
    expect(store.size).toBe(2);
    // Each operation inspects a bounded number of entries, so reclaiming 20 keys takes several.
    expect(operations).toBeGreaterThan(5);
    expect(store.peek('long-lived', 3_600_000).count).toBe(1);
    expect(store.peek('active', 3_600_000).count).toBe(operations);
  });

  test('holds 100,000 keys by default, evicting past that', () => {
    const store = new MemoryThrottleStore({ clock: new FakeClock().read });
    for (let i = 0; i <= 100_000; i++) store.hit([check(`k${i}`)]);
    expect(store.size).toBe(100_000);
    expect(store.peek('k0', 1000).count).toBe(0);
    expect(store.peek('k1', 1000).count).toBe(1);
  });

  test('the sweep resumes where it stopped, past long-lived keys, two entries per operation', () => {
    const clock = new FakeClock();
    const store = new MemoryThrottleStore({ clock: clock.read });
    store.hit([check('L', 10, 3_600_000)]);
    for (let i = 1; i <= 5; i++) store.hit([check(`S${i}`, 10, 1000)]);
    expect(sweepCursorKey(store)).toBe('S2'); // the sweeps of those six hits stopped there
    clock.set(10);
    const sizes: number[] = [];
    for (let i = 0; i < 5; i++) {
      store.hit([check('N', 10, 1000)]);
      sizes.push(store.size);
    }
    // S2 S3 | S4 S5 | N, end of pass | L S1 | N: a pass never starts over at L before reaching the newest end.
    expect(sizes).toEqual([5, 3, 3, 2, 2]);
    expect(listedKeys(store)).toEqual(['L', 'N']);
  });

  test('a sweep pass ends at the newest entry: the oldest waits for the next operation', () => {
    const clock = new FakeClock();
    const store = new MemoryThrottleStore({ clock: clock.read });
    store.hit([check('O', 10, 1000)]);
    store.hit([check('P', 10, 3_600_000)]);
    store.hit([check('K', 10, 3_600_000)]);
    store.hit([check('K', 10, 3_600_000)]);
    expect(sweepCursorKey(store)).toBe('K'); // the newest
    clock.set(2);
    store.hit([check('K', 10, 3_600_000)]); // inspects K only
    expect(store.size).toBe(3);
    store.hit([check('K', 10, 3_600_000)]); // starts over at O, expired
    expect(store.size).toBe(2);
  });

  test('record() sweeps too', () => {
    const clock = new FakeClock();
    const store = new MemoryThrottleStore({ clock: clock.read });
    for (const key of ['k1', 'k2', 'k3']) store.record([{ key, windowMs: 1000 }]);
    clock.set(5);
    store.record([{ key: 'k4', windowMs: 1000 }]);
    store.record([{ key: 'k4', windowMs: 1000 }]);
    expect(store.size).toBe(1);
  });

  test('a reset of the entry the sweep was to inspect next moves the sweep on, and the list stays whole', () => {
    const clock = new FakeClock();
    const store = new MemoryThrottleStore({ clock: clock.read });
    store.hit([check('A', 10, 10_000)]);
    for (const key of ['B', 'C', 'D']) store.hit([check(key, 10, 1000)]);
    expect(sweepCursorKey(store)).toBe('C');
    store.reset('C');
    clock.set(2);
    store.hit([check('E', 10, 1000)]);
    expect(listedKeys(store)).toEqual(['A', 'B', 'E']);
    clock.set(20);
    for (let i = 0; i < 3; i++) expect(store.hit([check('E', 10, 1000)])[0].allowed).toBe(true);
    expect(store.size).toBe(1);
    expect(listedKeys(store)).toEqual(['E']);
  });

  test('an eviction of the entry the sweep was to inspect next moves the sweep on, and the list stays whole', () => {
    const clock = new FakeClock();
    const store = new MemoryThrottleStore({ clock: clock.read, maxKeys: 5 });
    store.hit([check('X', 10, 1000)]);
    store.hit([check('Y', 10, 1000)]);
    store.hit([check('Z', 10, 5000)]);
    store.hit([check('P', 10, 60_000)]);
    store.hit([check('Q', 10, 60_000)]);
    clock.set(2);
    // The sweep drops X and Y and stops on Z, the oldest left, which the third new key then evicts.
    store.hit([check('W1', 10, 60_000), check('W2', 10, 60_000), check('W3', 10, 60_000)]);
    expect(listedKeys(store)).toEqual(['P', 'Q', 'W1', 'W2', 'W3']);
    clock.set(10); // Z would have expired by now
    store.hit([check('P', 10, 60_000)]);
    expect(listedKeys(store)).toEqual(['Q', 'W1', 'W2', 'W3', 'P']);
    clock.set(100);
    for (let i = 0; i < 5; i++) store.hit([check('late', 10, 60_000)]);
    expect(store.size).toBe(1);
    expect(listedKeys(store)).toEqual(['late']);
  });

  test('an expired key reads as empty, even through a window longer than the one that wrote it', () => {
    const clock = new FakeClock();
    const store = new MemoryThrottleStore({ clock: clock.read });
    store.hit([check('k', 10, 1000)]);
    clock.now = 1000; // expired at exactly one window after the hit
    expect(store.peek('k', 2000)).toEqual({ count: 0, oldest: null, now: 1000 });
    clock.now = 1500;
    expect(store.peek('k', 5000)).toEqual({ count: 0, oldest: null, now: 1500 });
  });

  test('a check on an expired key starts from zero, even with a window longer than the one that wrote it', () => {
    const clock = new FakeClock();
    const store = new MemoryThrottleStore({ clock: clock.read });
    store.hit([check('long1', 10, 3_600_000)]);
    store.hit([check('long2', 10, 3_600_000)]);
    store.hit([check('k', 10, 1000)]);
    clock.now = 1000;
    // This hit's sweep inspects long1 and long2 only: k is found expired when touched.
    expect(store.hit([check('k', 10, 5000)])[0]).toEqual({ allowed: true, count: 0, oldest: null, now: 1000 });
    expect(store.size).toBe(3);
  });

  test('the sweep drops a key at the very moment it expires', () => {
    const clock = new FakeClock();
    const store = new MemoryThrottleStore({ clock: clock.read });
    store.hit([check('k', 10, 1000)]);
    clock.now = 1000;
    store.hit([check('other', 10, 1000)]);
    expect(listedKeys(store)).toEqual(['other']);
  });

  test('a recorded check keeps the key for a ttl longer than its window (Tastypie)', () => {
    const clock = new FakeClock();
    const store = new MemoryThrottleStore({ clock: clock.read });
    store.hit([{ key: 'k', limit: 5, windowMs: 1000, ttlMs: 5000, record: true }]);
    clock.set(2);
    expect(store.peek('k', 5000)).toEqual({ count: 1, oldest: 0, now: 2000 });
  });

  test('a touched expired key starts afresh', () => {
    const clock = new FakeClock();
    const store = new MemoryThrottleStore({ clock: clock.read });
    store.hit([check('k', 1, 1000)]);
    clock.set(5);
    expect(store.hit([check('k', 1, 1000)])[0]).toEqual({ allowed: true, count: 0, oldest: null, now: 5000 });
  });

  test('close() forgets every key', () => {
    const store = new MemoryThrottleStore({ clock: new FakeClock().read });
    store.hit([check('a'), check('b')]);
    store.close();
    expect(store.size).toBe(0);
  });

  test('a store used again after close() starts afresh, its sweep included', () => {
    const clock = new FakeClock();
    const store = new MemoryThrottleStore({ clock: clock.read });
    for (const key of ['p_a', 'p_b', 'p_c', 'p_d']) store.hit([check(key, 1)]);
    expect(sweepCursorKey(store)).toBe('p_c');
    store.close();
    expect(store.hit([check('p_c', 1)])[0]).toMatchObject({ allowed: true, count: 0 });
    // Every key, from before close() or after, has expired: the next sweep must not start from a forgotten entry.
    clock.set(2);
    expect(store.hit([check('p_c', 1)])[0]).toMatchObject({ allowed: true, count: 0 });
    expect(store.hit([check('p_d', 1)])[0]).toMatchObject({ allowed: true, count: 0 });
    expect(store.hit([check('p_c', 1)])[0]).toMatchObject({ allowed: false, count: 1 });
    expect(listedKeys(store)).toEqual(['p_d', 'p_c']);
  });

  test.each([0, -1, 1.5, Number.NaN])('maxKeys %p is refused naming the value', (maxKeys) => {
    expect(() => new MemoryThrottleStore({ maxKeys })).toThrow(ThrottleConfigError);
    expect(() => new MemoryThrottleStore({ maxKeys })).toThrow(`got ${String(maxKeys)}`);
  });
});
