import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { HitLog } from '../../lib/core/hit-log.js';
import { PendingSlots } from '../../lib/core/pending-slots.js';
import { hitSlidingLog, hitSlidingLogInUnits, readSlidingLog, recordSlidingLog } from '../../lib/core/sliding-log.js';
import type { WindowCheck } from '../../lib/core/store.js';
import { BlockForModel, SlidingLogModel, slidingLogCount } from '../support/algorithm-models.js';

const unblocked = () => ({ blockedUntil: 0 });

/** A rate small enough for the model's brute force, and a sequence of (time step, cost). */
const scenario = fc
  .record({
    limit: fc.integer({ min: 1, max: 12 }),
    windowMs: fc.integer({ min: 1, max: 3000 }),
    blockMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5000 })),
    start: fc.integer({ min: 0, max: 2_000_000_000_000 }),
  })
  .chain((rate) =>
    fc.record({
      rate: fc.constant(rate),
      events: fc.array(
        fc.record({
          step: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: rate.windowMs }), fc.integer({ min: 0, max: 3 * rate.windowMs })),
          cost: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: rate.limit + 2 })),
        }),
        { maxLength: 40 },
      ),
    }),
  );

describe('sliding log in units (cost, blockMs, answers without commit)', () => {
  test('gives the reference model’s decisions for any sequence of (time, cost), with and without blockFor', () => {
    fc.assert(
      fc.property(scenario, ({ rate, events }) => {
        const log = new HitLog();
        const block = unblocked();
        const plain = new SlidingLogModel();
        const model = new BlockForModel(plain, rate.blockMs);
        let now = rate.start;
        for (const { step, cost } of events) {
          now += step;
          const check: WindowCheck = { key: 'k', limit: rate.limit, windowMs: rate.windowMs, record: true, cost, blockMs: rate.blockMs };
          const countBefore = slidingLogCount(plain.admitted, now, rate.windowMs);
          const result = hitSlidingLogInUnits(log, check, now, block, true);
          const expected = model.hit({ limit: rate.limit, periodMs: rate.windowMs, cost }, now);
          expect(result.allowed).toBe(expected.allowed);
          expect(result.count).toBe(countBefore);
          if (cost === 1 && rate.blockMs === 0) expect(result.outcome).toBeUndefined();
          else expect(result.outcome).toEqual(expected);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('a plain check (cost 1, no block) answers exactly as DRF’s hitSlidingLog, result for result', () => {
    fc.assert(
      fc.property(scenario, fc.boolean(), fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: undefined }), ({ rate, events }, record, ttlMs) => {
        const drf = new HitLog();
        const units = new HitLog();
        let now = rate.start;
        for (const { step } of events) {
          now += step;
          const check: WindowCheck = { key: 'k', limit: rate.limit, windowMs: rate.windowMs, record, ttlMs };
          expect(hitSlidingLogInUnits(units, check, now, unblocked(), true)).toEqual(hitSlidingLog(drf, check, now));
          if (!record && step % 3 === 0) {
            recordSlidingLog(drf, rate.windowMs, ttlMs, now);
            recordSlidingLog(units, rate.windowMs, ttlMs, now);
          }
          expect(units.toArray()).toEqual(drf.toArray());
          expect(units.expiresAt).toBe(drf.expiresAt);
        }
      }),
      { numRuns: 200 },
    );
  });

  test('without commit it answers what it would decide, and neither records nor blocks', () => {
    fc.assert(
      fc.property(scenario, ({ rate, events }) => {
        const log = new HitLog();
        const block = unblocked();
        let now = rate.start;
        for (const { step, cost } of events) {
          now += step;
          const check: WindowCheck = { key: 'k', limit: rate.limit, windowMs: rate.windowMs, record: true, cost, blockMs: rate.blockMs };
          // Pruning what left the window is no change of the count: compare the window, not the log.
          const before = readSlidingLog(log, rate.windowMs, now);
          const blockedUntil = block.blockedUntil;
          const answer = hitSlidingLogInUnits(log, check, now, block, false);
          expect(readSlidingLog(log, rate.windowMs, now)).toEqual(before);
          expect(block.blockedUntil).toBe(blockedUntil);
          expect(hitSlidingLogInUnits(log, check, now, block, true)).toEqual(answer);
        }
      }),
      { numRuns: 200 },
    );
  });

  test('a cost of 3 records 3 hits; a request that does not fit is told when enough hits will have left', () => {
    const log = new HitLog();
    const check: WindowCheck = { key: 'k', limit: 5, windowMs: 1000, record: true, cost: 3 };
    expect(hitSlidingLogInUnits(log, check, 0, unblocked(), true)).toEqual({
      allowed: true,
      count: 0,
      oldest: null,
      now: 0,
      outcome: { allowed: true, limit: 5, remaining: 2, resetMs: 1000, waitMs: 0 },
    });
    expect(log.toArray()).toEqual([0, 0, 0]);
    hitSlidingLogInUnits(log, { ...check, cost: 1 }, 400, unblocked(), true);
    // 4 in the window, 3 wanted: 2 must leave, the hits of t = 0 do at 1000.
    expect(hitSlidingLogInUnits(log, check, 600, unblocked(), true)).toEqual({
      allowed: false,
      count: 4,
      oldest: 0,
      now: 600,
      outcome: { allowed: false, limit: 5, remaining: 1, resetMs: 400, waitMs: 400 },
    });
    // A cost above the limit never fits.
    expect(hitSlidingLogInUnits(log, { ...check, cost: 6 }, 600, unblocked(), true).outcome?.waitMs).toBeNull();
    expect(log.size).toBe(4);
  });

  test('extraCost decides as if earlier units of the call were in the window, and records only the cost', () => {
    const log = new HitLog();
    const check: WindowCheck = { key: 'k', limit: 5, windowMs: 1000, record: true, cost: 2 };
    expect(hitSlidingLogInUnits(log, check, 0, unblocked(), true, 4).allowed).toBe(false);
    expect(hitSlidingLogInUnits(log, check, 0, unblocked(), true, 3).allowed).toBe(true);
    expect(log.size).toBe(2);
  });

  test('a block refuses without counting, reports the window’s count and oldest, and is not extended by refusals', () => {
    const log = new HitLog();
    const block = unblocked();
    const check: WindowCheck = { key: 'k', limit: 1, windowMs: 1000, record: true, blockMs: 10_000 };
    expect(hitSlidingLogInUnits(log, check, 0, block, true).allowed).toBe(true);
    expect(hitSlidingLogInUnits(log, check, 100, block, true)).toEqual({
      allowed: false,
      count: 1,
      oldest: 0,
      now: 100,
      outcome: { allowed: false, limit: 1, remaining: 0, resetMs: 10_000, waitMs: 10_000 },
    });
    expect(block.blockedUntil).toBe(10_100);
    // The hit has left, the block holds, and this refusal does not push its end.
    expect(hitSlidingLogInUnits(log, check, 5_000, block, true)).toEqual({
      allowed: false,
      count: 0,
      oldest: null,
      now: 5_000,
      outcome: { allowed: false, limit: 1, remaining: 0, resetMs: 5_100, waitMs: 5_100 },
    });
    expect(block.blockedUntil).toBe(10_100);
    expect(hitSlidingLogInUnits(log, check, 10_100, block, true).allowed).toBe(true);
    // A check without blockMs neither reads nor writes the block (as the Redis script).
    block.blockedUntil = 50_000;
    expect(hitSlidingLogInUnits(log, { ...check, blockMs: undefined }, 20_000, block, true).allowed).toBe(true);
  });

  test('a reserving check holds one pending slot, counted by the next check, with a wait until it expires', () => {
    const log = new HitLog();
    const pending = new PendingSlots();
    const check: WindowCheck = { key: 'k', limit: 2, windowMs: 1000, record: false, reserveMs: 500, cost: 2 };
    expect(hitSlidingLogInUnits(log, check, 0, unblocked(), true, 0, pending, 'r1')).toMatchObject({ allowed: true, count: 0, reservation: 'r1' });
    const denied = hitSlidingLogInUnits(log, { ...check, reserveMs: undefined, cost: 2 }, 100, unblocked(), true, 0, pending);
    expect(denied).toMatchObject({ allowed: false, count: 1, outcome: { remaining: 1, waitMs: 400 } });
  });

  test('recordSlidingLog records as many hits as units', () => {
    const log = new HitLog();
    recordSlidingLog(log, 1000, undefined, 5, 3);
    expect(log.toArray()).toEqual([5, 5, 5]);
    expect(log.expiresAt).toBe(1005);
  });
});
