import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { checkedCost, type AlgorithmOutcome, type BlockableState } from '../../lib/core/algorithms/algorithm-outcome.js';
import { ThrottleConfigError } from '../../lib/core/throttle-config-error.js';
import { hitWithBlock } from '../../lib/core/algorithms/block-for.js';
import { hitFixedWindow, newFixedWindowState } from '../../lib/core/algorithms/fixed-window.js';
import { hitGcra, newGcraState, recordGcra } from '../../lib/core/algorithms/gcra.js';
import { hitSlidingWindow, newSlidingWindowState, slidingWindowEstimate } from '../../lib/core/algorithms/sliding-window.js';
import {
  BlockForModel,
  FixedWindowModel,
  SlidingWindowModel,
  TokenBucketModel,
  slidingLogCount,
  type AlgorithmModel,
  type ModelCheck,
} from '../support/algorithm-models.js';

/** A core bound to one key's state, as a store would hold it. */
type Core = (check: ModelCheck, now: number, commit?: boolean) => AlgorithmOutcome;

interface AlgorithmUnderTest {
  readonly name: string;
  readonly core: (blockForMs: number) => Core;
  /** A fresh core and a view of its state, to see that an answer without commit changes nothing. */
  readonly withState: (blockForMs: number) => { core: Core; state: BlockableState };
  readonly model: () => AlgorithmModel;
  readonly burst: boolean;
}

function blocking<S extends BlockableState>(state: S, blockForMs: number, hit: (state: S, check: any, now: number, commit: boolean) => AlgorithmOutcome): Core {
  return (check, now, commit = true) => hitWithBlock(state, check, now, blockForMs, check.burst ?? check.limit, hit, commit);
}

function withState<S extends BlockableState>(newState: () => S, hit: (state: S, check: any, now: number, commit: boolean) => AlgorithmOutcome) {
  return (blockForMs: number) => {
    const state = newState();
    return { core: blocking(state, blockForMs, hit), state };
  };
}

const ALGORITHMS: readonly AlgorithmUnderTest[] = [
  { name: 'fixed-window', core: (b) => blocking(newFixedWindowState(), b, hitFixedWindow), withState: withState(newFixedWindowState, hitFixedWindow), model: () => new FixedWindowModel(), burst: false },
  { name: 'sliding-window', core: (b) => blocking(newSlidingWindowState(), b, hitSlidingWindow), withState: withState(newSlidingWindowState, hitSlidingWindow), model: () => new SlidingWindowModel(), burst: false },
  { name: 'gcra', core: (b) => blocking(newGcraState(), b, hitGcra), withState: withState(newGcraState, hitGcra), model: () => new TokenBucketModel(), burst: true },
];

/** A rate, small enough for the models' brute force, and a sequence of (time step, key, cost). */
const scenario = fc
  .record({
    limit: fc.integer({ min: 1, max: 12 }),
    periodMs: fc.integer({ min: 1, max: 3000 }),
    burstFactor: fc.double({ min: 0.1, max: 2.5, noNaN: true }),
    blockForMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5000 })),
    start: fc.integer({ min: 0, max: 2_000_000_000_000 }),
  })
  .chain((rate) =>
    fc.record({
      rate: fc.constant(rate),
      events: fc.array(
        fc.record({
          step: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: rate.periodMs }), fc.integer({ min: 0, max: 3 * rate.periodMs })),
          key: fc.constantFrom('a', 'b', 'c'),
          cost: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: rate.limit + 2 })),
        }),
        { maxLength: 40 },
      ),
    }),
  );

function checkOf(algorithm: AlgorithmUnderTest, rate: { limit: number; periodMs: number; burstFactor: number }, cost: number): ModelCheck {
  const check = { limit: rate.limit, periodMs: rate.periodMs, cost };
  return algorithm.burst ? { ...check, burst: Math.max(1, Math.round(rate.limit * rate.burstFactor)) } : check;
}

describe.each(ALGORITHMS)('$name', (algorithm) => {
  test('gives the reference model’s decisions for any sequence of (time, key, cost), with and without blockFor', () => {
    fc.assert(
      fc.property(scenario, ({ rate, events }) => {
        const cores = new Map<string, Core>();
        const models = new Map<string, AlgorithmModel>();
        let now = rate.start;
        for (const { step, key, cost } of events) {
          now += step;
          if (!cores.has(key)) {
            cores.set(key, algorithm.core(rate.blockForMs));
            models.set(key, new BlockForModel(algorithm.model(), rate.blockForMs));
          }
          const check = checkOf(algorithm, rate, cost);
          expect(cores.get(key)!(check, now)).toEqual(models.get(key)!.hit(check, now));
        }
      }),
      { numRuns: 300 },
    );
  });

  test('a denied request consumes nothing: the next request gets what it would have had', () => {
    fc.assert(
      fc.property(scenario, ({ rate, events }) => {
        // The same sequence with the denied requests removed leaves every key in the same state.
        const full = algorithm.core(0);
        const admittedOnly = algorithm.core(0);
        let now = rate.start;
        for (const { step, cost } of events) {
          now += step;
          const check = checkOf(algorithm, rate, cost);
          if (full(check, now).allowed) expect(admittedOnly(check, now).allowed).toBe(true);
        }
        const probe = checkOf(algorithm, rate, 1);
        expect(full(probe, now + 1)).toEqual(admittedOnly(probe, now + 1));
      }),
      { numRuns: 200 },
    );
  });

  test('without commit, it answers what it would decide and changes nothing', () => {
    fc.assert(
      fc.property(scenario, ({ rate, events }) => {
        const { core, state } = algorithm.withState(rate.blockForMs);
        let now = rate.start;
        for (const { step, cost } of events) {
          now += step;
          const check = checkOf(algorithm, rate, cost);
          const before = { ...state };
          const answer = core(check, now, false);
          expect(state).toEqual(before);
          expect(core(check, now)).toEqual(answer);
        }
      }),
      { numRuns: 200 },
    );
  });

  test('a denied client that retries after its wait is admitted, unless other requests came between', () => {
    fc.assert(
      fc.property(scenario, ({ rate, events }) => {
        const core = algorithm.core(rate.blockForMs);
        let now = rate.start;
        for (const { step, cost } of events) {
          now += step;
          const outcome = core(checkOf(algorithm, rate, cost), now);
          if (outcome.allowed) continue;
          if (outcome.waitMs === null) {
            expect(cost).toBeGreaterThan(algorithm.burst ? outcome.limit : rate.limit);
            continue;
          }
          expect(outcome.waitMs).toBeGreaterThan(0);
          now += outcome.waitMs;
          expect(core(checkOf(algorithm, rate, cost), now).allowed).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('gcra', () => {
  test('units recorded past the burst (bytes sent) leave remaining at 0, not below, and reset is when one unit is back', () => {
    const state = newGcraState();
    const check = { limit: 100, periodMs: 100_000, cost: 1, burst: 100 };
    recordGcra(state, { ...check, cost: 250 }, 0);
    const outcome = hitGcra(state, check, 0, false);
    expect(outcome.allowed).toBe(false);
    expect(outcome.remaining).toBe(0);
    // 250 units of 1 s each owed, a burst of 100 tolerated: one more unit fits after 151 s.
    expect(outcome.resetMs).toBe(151_000);
    expect(outcome.waitMs).toBe(151_000);
  });

  test('an idle key admits burst requests at once, then one per emission interval', () => {
    const state = newGcraState();
    const check = { limit: 3, periodMs: 1000, cost: 1, burst: 5 };
    const now = 1_700_000_000_000;
    const allowed = Array.from({ length: 6 }, () => hitGcra(state, check, now).allowed);
    expect(allowed).toEqual([true, true, true, true, true, false]);
    // T = 1000/3 ms: the next unit is earned back 333.33 ms on, reported rounded up.
    expect(hitGcra(state, check, now)).toEqual({ allowed: false, limit: 5, remaining: 0, resetMs: 334, waitMs: 334 });
    expect(hitGcra(state, check, now + 333).allowed).toBe(false);
    expect(hitGcra(state, check, now + 334).allowed).toBe(true);
  });

  test.each([3, 7])('stays exact over an hour of intervals that are not whole milliseconds (%i per second)', (limit) => {
    // A full burst at every second, one request more than fits: exactly limit per second admitted.
    // (A TAT summed in floating point, + 1000/7 each time, admits only 6 of 7 per second.)
    const state = newGcraState();
    const check = { limit, periodMs: 1000, cost: 1, burst: limit };
    let admitted = 0;
    for (let second = 0; second < 3600; second++) {
      const now = 1_700_000_000_000 + second * 1000;
      for (let i = 0; i <= limit; i++) if (hitGcra(state, check, now).allowed) admitted++;
    }
    expect(admitted).toBe(limit * 3600);
  });
});

describe('sliding-window', () => {
  test('its estimate differs from the exact sliding log by at most the previous window’s count (<= limit), and no period admits more than 2 x limit', () => {
    fc.assert(
      fc.property(scenario, ({ rate, events }) => {
        const state = newSlidingWindowState();
        const model = new SlidingWindowModel();
        let now = rate.start;
        for (const { step, cost } of events) {
          now += step;
          const check = { limit: rate.limit, periodMs: rate.periodMs, cost };
          const estimate = model.estimate(now, rate.periodMs);
          const exact = slidingLogCount(model.admitted, now, rate.periodMs);
          const previous = model.previous(now, rate.periodMs);
          expect(Math.abs(estimate - exact)).toBeLessThanOrEqual(previous + 1e-9);
          expect(previous).toBeLessThanOrEqual(rate.limit);
          const allowed = estimate + cost <= rate.limit;
          expect(hitSlidingWindow(state, check, now).allowed).toBe(allowed);
          if (allowed) model.admitted.push({ time: now, cost });
          expect(slidingLogCount(model.admitted, now, rate.periodMs)).toBeLessThanOrEqual(2 * rate.limit);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('weights the previous window by the part of it the period still covers', () => {
    const state = newSlidingWindowState();
    const check = { limit: 10, periodMs: 60_000, cost: 1 };
    for (let i = 0; i < 8; i++) hitSlidingWindow(state, check, 30_000);
    // A quarter into the next minute: 8 x 0.75 = 6 counted, 4 left, the 5th refused.
    const outcomes = Array.from({ length: 5 }, () => hitSlidingWindow(state, check, 75_000));
    expect(slidingWindowEstimate(state, 75_000, 60_000)).toBe(10);
    expect(outcomes.map((o) => o.allowed)).toEqual([true, true, true, true, false]);
    // Fits again when 8 x (1 - e/60 s) + 4 <= 9: e = 22.5 s, at 82.5 s.
    expect(outcomes[4]).toEqual({ allowed: false, limit: 10, remaining: 0, resetMs: 7500, waitMs: 7500 });
  });
});

describe('fixed-window', () => {
  test('counts per period aligned to the epoch and comes back whole when the window ends', () => {
    const state = newFixedWindowState();
    const check = { limit: 2, periodMs: 60_000, cost: 1 };
    expect(hitFixedWindow(state, check, 59_000)).toEqual({ allowed: true, limit: 2, remaining: 1, resetMs: 1000, waitMs: 0 });
    expect(hitFixedWindow(state, check, 59_500).allowed).toBe(true);
    expect(hitFixedWindow(state, check, 59_999)).toEqual({ allowed: false, limit: 2, remaining: 0, resetMs: 1, waitMs: 1 });
    expect(hitFixedWindow(state, check, 60_000)).toEqual({ allowed: true, limit: 2, remaining: 1, resetMs: 60_000, waitMs: 0 });
  });

  test('refuses a cost above the limit for ever (wait null), and a cost that does not fit consumes nothing', () => {
    const state = newFixedWindowState();
    expect(hitFixedWindow(state, { limit: 5, periodMs: 1000, cost: 6 }, 0).waitMs).toBeNull();
    expect(hitFixedWindow(state, { limit: 5, periodMs: 1000, cost: 3 }, 0).allowed).toBe(true);
    expect(hitFixedWindow(state, { limit: 5, periodMs: 1000, cost: 3 }, 0)).toEqual({ allowed: false, limit: 5, remaining: 2, resetMs: 1000, waitMs: 1000 });
    expect(hitFixedWindow(state, { limit: 5, periodMs: 1000, cost: 2 }, 0).allowed).toBe(true);
  });
});

describe('blockFor', () => {
  test('once the algorithm denies, the key is refused for blockFor, and refusals during it do not extend it', () => {
    const state = newFixedWindowState();
    const check = { limit: 1, periodMs: 1000, cost: 1 };
    const hit = (now: number) => hitWithBlock(state, check, now, 10_000, 1, hitFixedWindow);
    expect(hit(0).allowed).toBe(true);
    expect(hit(10)).toEqual({ allowed: false, limit: 1, remaining: 0, resetMs: 10_000, waitMs: 10_000 });
    // The window has turned over, but the block holds; this refusal does not push its end.
    expect(hit(5_000)).toEqual({ allowed: false, limit: 1, remaining: 0, resetMs: 5_010, waitMs: 5_010 });
    expect(hit(10_009).allowed).toBe(false);
    expect(hit(10_010).allowed).toBe(true);
  });

  test('lasts as long as the algorithm’s own wait when that is longer, and never starts on a request that can never pass', () => {
    const state = newFixedWindowState();
    const hit = (cost: number, now: number) => hitWithBlock(state, { limit: 2, periodMs: 60_000, cost }, now, 1000, 2, hitFixedWindow);
    expect(hit(3, 0).waitMs).toBeNull();
    expect(hit(2, 0).allowed).toBe(true);
    expect(hit(1, 0).waitMs).toBe(60_000);
    expect(hit(1, 59_999).allowed).toBe(false);
    expect(hit(1, 60_000).allowed).toBe(true);
  });
});

describe('checkedCost', () => {
  test('lets a positive integer through', () => {
    expect(checkedCost(1, 'UploadThrottle.cost')).toBe(1);
    expect(checkedCost(1_000_000, 'UploadThrottle.cost')).toBe(1_000_000);
  });

  test.each([[0], [-1], [1.5], [Number.NaN], [Infinity], ['3'], [undefined]])('refuses %p, naming it', (cost) => {
    expect(() => checkedCost(cost, 'UploadThrottle.cost')).toThrow(ThrottleConfigError);
    expect(() => checkedCost(cost, 'UploadThrottle.cost')).toThrow(/^UploadThrottle\.cost: a request's cost must be a positive integer, got /);
  });
});
