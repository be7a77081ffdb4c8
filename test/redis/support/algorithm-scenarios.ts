import fc from 'fast-check';
import { expect } from '@jest/globals';
import type { RedisThrottleStore } from '../../../lib/stores/redis/redis-throttle-store.js';
import { COUNTING_ALGORITHMS, type CountingAlgorithm, type HitResult, type RecordedHit, type WindowCheck } from '../../../lib/core/store.js';
import { ReferenceStore } from './reference-store.js';

/**
 * Random calls against RedisThrottleStore and the TypeScript cores (ReferenceStore), compared call
 * for call: hit() with 1-3 checks over three keys (each of a random algorithm and rate), in any mix
 * of cost, blockMs, record and allOrNothing, counted records and peeks, on the store's test clock.
 */
/** One key of a scenario: its algorithm and rate, fixed (a key's throttle does not change). */
interface KeyRate {
  readonly algorithm: CountingAlgorithm;
  readonly limit: number;
  readonly windowMs: number;
  readonly burst: number | undefined;
  readonly blockMs: number;
}

const keyRate = (algorithm: CountingAlgorithm) =>
  fc
    .record({
      // A sliding log appends a hit per unit: its limits stay small; the counters go to production sizes.
      limit: algorithm === 'sliding-log' ? fc.integer({ min: 1, max: 12 }) : fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 10_000_000 })),
      // A sliding log's list expires in the server's time (1.5 windows): its windows outlast the test.
      windowMs: fc.oneof(fc.integer({ min: algorithm === 'sliding-log' ? 1000 : 1, max: 3000 }), fc.constantFrom(60_000, 3_600_000)),
      burstFactor: fc.double({ min: 0.1, max: 2.5, noNaN: true }),
      blockMs: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 100_000 })),
    })
    .map(({ limit, windowMs, burstFactor, blockMs }): KeyRate => ({ algorithm, limit, windowMs, blockMs, burst: algorithm === 'gcra' ? Math.max(1, Math.round(limit * burstFactor)) : undefined }));

/** A cost as a share of the key's limit: 1 most often, sometimes up to a little over the limit. */
const costShare = fc.oneof(fc.constant(0), fc.constant(0), fc.double({ min: 0, max: 1.2, noNaN: true }));
const costOf = (rate: KeyRate, share: number) => (share === 0 ? 1 : Math.max(1, Math.ceil((rate.burst ?? rate.limit) * share)));

const step = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 0, max: 200_000 }));

const event = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      type: fc.constant('hit' as const),
      step,
      allOrNothing: fc.boolean(),
      checks: fc.array(fc.record({ key: fc.integer({ min: 0, max: 2 }), cost: costShare, record: fc.oneof(fc.constant(true), fc.constant(true), fc.constant(false)) }), { minLength: 1, maxLength: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('record' as const), step, key: fc.integer({ min: 0, max: 2 }), cost: costShare }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('peek' as const), step, key: fc.integer({ min: 0, max: 2 }) }) },
);

export const scenario = fc.record({
  rates: fc.tuple(...[0, 1, 2].map(() => fc.constantFrom(...COUNTING_ALGORITHMS).chain(keyRate))),
  start: fc.integer({ min: 1_600_000_000_000, max: 2_000_000_000_000 }),
  events: fc.array(event, { maxLength: 25 }),
});


export type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/**
 * Runs one scenario. `identities` names each key's identity (its hash tag): one for all keeps a
 * request in one slot, several spread it over a Cluster. `denyCache`: a counter's count (units in
 * use, informational) decays during a block that a cached denial answers, so it is not compared.
 */
export async function runScenario({ rates, start, events }: Scenario, makeStore: (clock: () => number) => RedisThrottleStore, identities: readonly string[], denyCache: boolean): Promise<void> {
  let now = start;
  const store = makeStore(() => now);
  const reference = new ReferenceStore();
  // DRF-format keys: the sliding logs have a hash tag, their companions share it.
  const keys = rates.map((_, i) => `throttle_k${i}_${identities[i % identities.length]}`);
  const checkOf = (index: number, share: number, record: boolean, allOrNothing: boolean): WindowCheck => {
    const rate = rates[index];
    const check: WindowCheck = { key: keys[index], limit: rate.limit, windowMs: rate.windowMs, record, algorithm: rate.algorithm, cost: costOf(rate, share) };
    return { ...check, ...(rate.burst === undefined ? {} : { burst: rate.burst }), ...(rate.blockMs > 0 ? { blockMs: rate.blockMs } : {}), ...(allOrNothing ? { allOrNothing } : {}) };
  };
  try {
    for (const [index, happening] of events.entries()) {
      now += happening.step;
      if (happening.type === 'hit') {
        const checks = happening.checks.map((c) => checkOf(c.key, c.cost, c.record, happening.allOrNothing));
        const seen = (results: HitResult[]) => (denyCache ? results.map((result, i) => (checks[i].algorithm === 'sliding-log' ? result : { ...result, count: undefined })) : results);
        const actual = await store.hit(checks);
        expect({ index, results: seen(actual) }).toEqual({ index, results: seen(reference.hit(checks, now)) });
      } else if (happening.type === 'record') {
        const rate = rates[happening.key];
        const hit: RecordedHit = { key: keys[happening.key], windowMs: rate.windowMs, algorithm: rate.algorithm, limit: rate.limit, burst: rate.burst, cost: costOf(rate, happening.cost) };
        await store.record([hit]);
        reference.record([hit], now);
      } else {
        const rate = rates[happening.key];
        const counting = { algorithm: rate.algorithm, limit: rate.limit, burst: rate.burst };
        const actual = await store.peek(keys[happening.key], rate.windowMs, counting);
        expect({ index, peek: actual }).toEqual({ index, peek: reference.peek(keys[happening.key], rate.windowMs, now, counting) });
      }
    }
  } finally {
    await Promise.all(keys.map((key) => store.reset(key)));
  }
}
