import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { checkCounter, newCounterState, type CounterState } from '../../lib/core/algorithms/counter-check.js';
import { costBefore, hitBatch, isAllOrNothing } from '../../lib/core/check-batch.js';
import type { WindowCheck } from '../../lib/core/store.js';

const NOW = 1_700_000_000_000;

/** Fixed-window keys in a Map, decided by the real counter core: the store side of the rule. */
function keys() {
  const states = new Map<string, CounterState>();
  const stateOf = (key: string) => states.get(key) ?? states.set(key, newCounterState()).get(key)!;
  const calls: { key: string; commit: boolean; extraCost: number }[] = [];
  return {
    calls,
    used: (key: string) => stateOf(key).used,
    blockedUntil: (key: string) => stateOf(key).blockedUntil,
    hit: (checks: WindowCheck[], now = NOW) =>
      hitBatch(checks, (check, commit, extraCost) => {
        calls.push({ key: check.key, commit, extraCost });
        return checkCounter('fixed-window', stateOf(check.key), check, now, commit, extraCost);
      }),
  };
}

const check = (key: string, limit: number, extra: Partial<WindowCheck> = {}): WindowCheck => ({
  key,
  limit,
  windowMs: 3_600_000,
  record: true,
  algorithm: 'fixed-window',
  ...extra,
});

describe('hitBatch: the rule for the checks of one call', () => {
  test('without allOrNothing (DRF) each check is decided once and counted when it allows, whatever the others answer', () => {
    const store = keys();
    store.hit([check('a', 1)]);
    const results = store.hit([check('a', 1), check('b', 5)]);
    expect(results.map((r) => r.allowed)).toEqual([false, true]);
    expect([store.used('a'), store.used('b')]).toEqual([1, 1]);
    expect(store.calls.slice(1)).toEqual([
      { key: 'a', commit: true, extraCost: 0 },
      { key: 'b', commit: true, extraCost: 0 },
    ]);
  });

  test('with allOrNothing, a call where one check denies counts nothing, and only the denied check commits (its block)', () => {
    const store = keys();
    store.hit([check('a', 1)]);
    const results = store.hit([check('a', 1, { allOrNothing: true, blockMs: 60_000 }), check('b', 5, { cost: 2 })]);
    expect(results.map((r) => r.allowed)).toEqual([false, true]);
    expect([store.used('a'), store.used('b')]).toEqual([1, 0]);
    // As long as the window's own wait (to its end, aligned to the hour), longer than blockMs.
    expect(store.blockedUntil('a')).toBe(NOW - (NOW % 3_600_000) + 3_600_000);
    // The allowed check keeps its answer: what it would have left.
    expect(results[1].outcome).toMatchObject({ allowed: true, remaining: 3 });
    expect(store.calls.slice(1).map((c) => [c.key, c.commit])).toEqual([
      ['a', false],
      ['b', false],
      ['a', true],
    ]);
  });

  test('with allOrNothing, a call where all allow counts all of them', () => {
    const store = keys();
    const results = store.hit([check('a', 2, { cost: 2 }), check('b', 5, { cost: 3, allOrNothing: true })]);
    expect(results.map((r) => r.outcome?.remaining)).toEqual([0, 2]);
    expect([store.used('a'), store.used('b')]).toEqual([2, 3]);
  });

  test('a key twice in an all-or-nothing call must fit both costs together, or neither counts', () => {
    const store = keys();
    const twice = [check('a', 5, { cost: 3, allOrNothing: true }), check('a', 5, { cost: 3 })];
    expect(store.hit(twice).map((r) => r.allowed)).toEqual([true, false]);
    expect(store.used('a')).toBe(0);
    const fits = [check('a', 5, { cost: 3, allOrNothing: true }), check('a', 5, { cost: 2 })];
    expect(store.hit(fits).map((r) => r.allowed)).toEqual([true, true]);
    expect(store.used('a')).toBe(5);
  });

  test('a denied check on a key seen earlier in the call is committed with that cost too, so it denies again and counts nothing', () => {
    const store = keys();
    // Alone, the second check (cost 3 of 5) would pass; after the first one's 3 it does not.
    const results = store.hit([check('a', 5, { cost: 3, allOrNothing: true }), check('a', 5, { cost: 3, blockMs: 1000 }), check('z', 0)]);
    expect(results.map((r) => r.allowed)).toEqual([true, false, false]);
    expect(store.used('a')).toBe(0);
    expect(store.calls.filter((c) => c.commit)).toEqual([
      { key: 'a', commit: true, extraCost: 3 },
      { key: 'z', commit: true, extraCost: 0 },
    ]);
  });

  test('property: an all-or-nothing call counts either every check that records or none', () => {
    const checks = fc.array(
      fc.record({
        key: fc.constantFrom('a', 'b', 'c'),
        limit: fc.integer({ min: 1, max: 6 }),
        cost: fc.integer({ min: 1, max: 4 }),
        record: fc.boolean(),
      }),
      { minLength: 1, maxLength: 5 },
    );
    fc.assert(
      fc.property(fc.array(checks, { maxLength: 8 }), (calls) => {
        const store = keys();
        for (const call of calls) {
          const before = ['a', 'b', 'c'].map(store.used);
          const results = store.hit(call.map((c, i) => check(c.key, c.limit, { cost: c.cost, record: c.record, allOrNothing: i === 0 })));
          const after = ['a', 'b', 'c'].map(store.used);
          const counted = ['a', 'b', 'c'].map((key) => call.filter((c) => c.key === key && c.record).reduce((sum, c) => sum + c.cost, 0));
          if (results.every((r) => r.allowed)) expect(after).toEqual(before.map((used, i) => used + counted[i]));
          else expect(after).toEqual(before);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('isAllOrNothing and costBefore', () => {
  test('a call is all or nothing when any check says so', () => {
    expect(isAllOrNothing([check('a', 1), check('b', 1, { allOrNothing: true })])).toBe(true);
    expect(isAllOrNothing([check('a', 1), check('b', 1, { allOrNothing: false })])).toBe(false);
  });

  test('counts the units of earlier checks on the same key: their cost when recording, one slot when a sliding log reserves', () => {
    const checks = [
      check('a', 9, { cost: 4 }),
      check('b', 9, { cost: 2 }),
      check('a', 9, { record: false, cost: 7 }),
      { key: 'a', limit: 9, windowMs: 1000, record: false, reserveMs: 100 },
      check('a', 9),
    ];
    expect(checks.map((_, i) => costBefore(checks, i))).toEqual([0, 0, 4, 4, 5]);
  });
});
