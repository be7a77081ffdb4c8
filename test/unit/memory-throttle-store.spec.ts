import { describe, expect, test } from '@jest/globals';
import { MemoryThrottleStore, ThrottleConfigError, type WindowCheck } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { describeStoreSemantics } from '../support/store-semantics.js';

// The reference for every other store: the same spec runs on Redis, Valkey and cache-manager.
describeStoreSemantics('MemoryThrottleStore', (clock) => ({ store: new MemoryThrottleStore({ clock }) }));

const check = (key: string, limit = 10, windowMs = 1000): WindowCheck => ({ key, limit, windowMs, record: true });
/** The same check naming its key's parts, as the built-in throttles send it: prefix `p_`. */
const partsCheck = (part: string, limit = 10, windowMs = 1000): WindowCheck => ({ key: `p_${part}`, keyPrefix: 'p_', keyPart: part, limit, windowMs, record: true });

/** How many entries the store's index by key part holds (white-box: its memory must stay bounded too). */
function indexedParts(store: MemoryThrottleStore): number {
  const byKeyPart = (store as unknown as { byKeyPart: Map<string, Map<string, unknown>> }).byKeyPart;
  let count = 0;
  for (const byPart of byKeyPart.values()) count += byPart.size;
  return count;
}

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
    // Keys p_0 .. p_8: hits come with or without the key's parts, which must not matter.
    const keys = Array.from({ length: 9 }, (_, i) => `p_${i}`);
    let firstMismatch: unknown = null;
    for (let step = 0; step < 2000 && firstMismatch === null; step++) {
      const key = keys[random(keys.length)];
      const op = random(10);
      if (op < 3) {
        store.hit([partsCheck(key.slice(2), 1_000_000, 3_600_000)]);
        use(key, (model.get(key) ?? 0) + 1);
      } else if (op < 6) {
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
      if (store.size !== model.size || actual.join() !== expected.join() || indexedParts(store) > store.size) {
        firstMismatch = { step, size: store.size, expectedSize: model.size, indexed: indexedParts(store), actual, expected };
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

  test('a check naming its key parts counts in the bucket of its whole key, whichever comes first', () => {
    const store = new MemoryThrottleStore({ clock: new FakeClock().read });
    store.hit([partsCheck('1.2.3.4')]);
    store.hit([check('p_1.2.3.4')]);
    expect(store.hit([partsCheck('1.2.3.4')])[0].count).toBe(2);
    store.record([{ key: 'p_5.6.7.8', windowMs: 1000 }]);
    expect(store.hit([partsCheck('5.6.7.8')])[0].count).toBe(1);
    expect(store.peek('p_5.6.7.8', 1000).count).toBe(2);
    expect(store.size).toBe(2);
  });

  test('a key reset, evicted or swept is gone from the index by part too', () => {
    const clock = new FakeClock();
    const store = new MemoryThrottleStore({ clock: clock.read, maxKeys: 1 });
    // maxKeys 1: each new client evicts the other, emptying and re-creating the prefix's index.
    for (let round = 0; round < 3; round++) {
      expect(store.hit([partsCheck('a')])[0].count).toBe(0);
      expect(store.hit([partsCheck('b')])[0].count).toBe(0);
      expect(store.size).toBe(1);
      expect(indexedParts(store)).toBe(1);
    }
    expect(store.hit([partsCheck('b')])[0].count).toBe(1);
    store.reset('p_b');
    expect(indexedParts(store)).toBe(0);
    expect(store.hit([partsCheck('b')])[0].count).toBe(0);

    const roomy = new MemoryThrottleStore({ clock: clock.read });
    for (let i = 0; i < 10; i++) roomy.hit([partsCheck(`idle-${i}`, 10, 1000)]);
    clock.advance(2);
    for (let i = 0; i < 20 && roomy.size > 1; i++) roomy.hit([check('other', 10, 3_600_000)]);
    expect(roomy.size).toBe(1);
    expect(indexedParts(roomy)).toBe(0);
    // Found afresh, and linked again: the recency list still holds exactly what the store holds.
    expect(roomy.hit([partsCheck('idle-0', 10, 1000)])[0].count).toBe(0);
    expect(roomy.size).toBe(2);
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

  test.each([0, -1, 1.5, Number.NaN])('maxKeys %p is refused naming the value', (maxKeys) => {
    expect(() => new MemoryThrottleStore({ maxKeys })).toThrow(ThrottleConfigError);
    expect(() => new MemoryThrottleStore({ maxKeys })).toThrow(`got ${String(maxKeys)}`);
  });
});
