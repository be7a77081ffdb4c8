/**
 * ThrottlingService's support-staff reads and writes of counter algorithms' buckets, against a
 * store double that answers peek() as the contract says (count = units in use, outcome = what a
 * request costing 1 would be told) and keeps what record() was given.
 */
import { describe, expect, test } from '@jest/globals';
import type { AlgorithmOutcome, HitResult, PeekCounting, RecordedHit, ThrottleStore, WindowState } from '../../lib/index.js';
import { type Bucket, penalizeBucket, readBucket } from '../../lib/nest/enforcement/throttle-admin.js';

class PeekStore implements ThrottleStore {
  readonly recorded: RecordedHit[][] = [];
  readonly peeked: (PeekCounting | undefined)[] = [];
  constructor(private readonly state: WindowState & { outcome?: AlgorithmOutcome }) {}
  hit(): HitResult[] {
    return [];
  }
  record(hits: readonly RecordedHit[]): void {
    this.recorded.push([...hits]);
  }
  peek(_key: string, _windowMs: number, counting?: PeekCounting) {
    this.peeked.push(counting);
    return this.state;
  }
  reset(): void {}
}

const gcra: Bucket = { key: 'throttle_api_u', limit: 10, windowMs: 60_000, counting: { algorithm: 'gcra', limit: 10, burst: 4 } };

describe('readBucket()', () => {
  test("a counter's units left are those before the request costing 1 the store answered for", async () => {
    const store = new PeekStore({ count: 1, oldest: null, now: 0, outcome: { allowed: true, limit: 4, remaining: 2, resetMs: 6_000, waitMs: 0 } });
    expect(await readBucket(store, gcra)).toEqual({ count: 1, oldest: null, now: 0, limit: 4, remaining: 3, resetsInMs: 6_000, algorithm: 'gcra' });
    expect(store.peeked).toEqual([gcra.counting]);
  });

  test('a spent or blocked counter has nothing left', async () => {
    const store = new PeekStore({ count: 4, oldest: null, now: 0, outcome: { allowed: false, limit: 4, remaining: 0, resetMs: 300_000, waitMs: 300_000 } });
    expect(await readBucket(store, gcra)).toMatchObject({ remaining: 0, resetsInMs: 300_000 });
  });

  test('a store that reports no outcome is read from its count, against the burst under gcra', async () => {
    expect(await readBucket(new PeekStore({ count: 1, oldest: null, now: 0 }), gcra)).toMatchObject({ limit: 4, remaining: 3, resetsInMs: 0 });
  });

  test("a sliding log is read as before: no counting asked, no algorithm reported", async () => {
    const store = new PeekStore({ count: 2, oldest: 1_000, now: 31_000 });
    const log: Bucket = { key: 'throttle_user_u', limit: 5, windowMs: 60_000 };
    expect(await readBucket(store, log)).toEqual({ count: 2, oldest: 1_000, now: 31_000, limit: 5, remaining: 3, resetsInMs: 30_000 });
    expect(store.peeked).toEqual([undefined]);
  });
});

describe('penalizeBucket()', () => {
  test('a counter is charged in one record of the units, by default as many as are left', async () => {
    const store = new PeekStore({ count: 1, oldest: null, now: 0, outcome: { allowed: true, limit: 4, remaining: 2, resetMs: 6_000, waitMs: 0 } });
    await penalizeBucket(store, gcra, undefined, 'penalize()');
    await penalizeBucket(store, gcra, 100, 'penalize()');
    expect(store.recorded).toEqual([
      [{ key: 'throttle_api_u', windowMs: 60_000, algorithm: 'gcra', limit: 10, burst: 4, cost: 3 }],
      // At most what remaining counts down from: more would change no decision.
      [{ key: 'throttle_api_u', windowMs: 60_000, algorithm: 'gcra', limit: 10, burst: 4, cost: 4 }],
    ]);
  });

  test('a fixed window is charged without a burst', async () => {
    const store = new PeekStore({ count: 0, oldest: null, now: 0 });
    await penalizeBucket(store, { key: 'k', limit: 3, windowMs: 1_000, counting: { algorithm: 'fixed-window', limit: 3 } }, 2, 'penalize()');
    expect(store.recorded).toEqual([[{ key: 'k', windowMs: 1_000, algorithm: 'fixed-window', limit: 3, cost: 2 }]]);
  });

  test('a sliding log is charged one hit per request, as before', async () => {
    const store = new PeekStore({ count: 3, oldest: 0, now: 0 });
    await penalizeBucket(store, { key: 'k', limit: 5, windowMs: 1_000 }, undefined, 'penalize()');
    expect(store.recorded).toEqual([[{ key: 'k', windowMs: 1_000 }, { key: 'k', windowMs: 1_000 }]]);
  });
});
