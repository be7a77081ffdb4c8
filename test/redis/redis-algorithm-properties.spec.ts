import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { RedisThrottleStore } from '../../lib/index.js';
import { COUNTING_ALGORITHMS, type CountingAlgorithm, type HitResult, type RecordedHit, type WindowCheck } from '../../lib/core/store.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';
import { BlockForModel, FixedWindowModel, SlidingLogModel, SlidingWindowModel, TokenBucketModel, type AlgorithmModel } from '../support/algorithm-models.js';
import { ReferenceStore } from './support/reference-store.js';
import { deleteKeys, runPrefix } from './support/redis-keys.js';

const runs = await serviceAvailable('Redis', REDIS_URL);
const suite = runs ? describe : describe.skip;
const prefix = runPrefix('algorithm-properties');

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

const scenario = fc.record({
  rates: fc.tuple(...[0, 1, 2].map(() => fc.constantFrom(...COUNTING_ALGORITHMS).chain(keyRate))),
  start: fc.integer({ min: 1_600_000_000_000, max: 2_000_000_000_000 }),
  events: fc.array(event, { maxLength: 25 }),
});

suite('RedisThrottleStore against the TypeScript cores, call for call (fast-check, real Redis)', () => {
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  let stores = 0;

  beforeAll(async () => {
    await redis.connect();
  });
  afterAll(async () => {
    redis.disconnect();
    await deleteKeys(prefix);
  });

  test.each([
    ['without the deny cache', false],
    ['with the deny cache (every cached answer is the one Redis gives)', true],
  ])('random calls of 1-3 checks in any mix of algorithms, cost, blockMs, record and allOrNothing, counted records and peeks: the reference’s results, %s', async (_name, denyCache) => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ rates, start, events }) => {
        let now = start;
        const store = new RedisThrottleStore(redis, { keyPrefix: `${prefix}${++stores}:`, clock: () => now, denyCache });
        const reference = new ReferenceStore();
        // DRF-format keys: the sliding logs have a hash tag, their companions share it.
        const keys = rates.map((_, i) => `throttle_k${i}_client`);
        const checkOf = (index: number, share: number, record: boolean, allOrNothing: boolean): WindowCheck => {
          const rate = rates[index];
          const check: WindowCheck = { key: keys[index], limit: rate.limit, windowMs: rate.windowMs, record, algorithm: rate.algorithm, cost: costOf(rate, share) };
          return { ...check, ...(rate.burst === undefined ? {} : { burst: rate.burst }), ...(rate.blockMs > 0 ? { blockMs: rate.blockMs } : {}), ...(allOrNothing ? { allOrNothing } : {}) };
        };
        for (const [index, happening] of events.entries()) {
          now += happening.step;
          if (happening.type === 'hit') {
            const checks = happening.checks.map((c) => checkOf(c.key, c.cost, c.record, happening.allOrNothing));
            // A counter's count (units in use, informational) decays during a block that a cached denial answers.
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
        await redis.del(...keys.flatMap((key) => [store.redisKey(key), ...COUNTING_ALGORITHMS.map((algorithm) => store.keyOf(key, algorithm))]), `${store.redisKey(keys[0])}:block`, `${store.redisKey(keys[1])}:block`, `${store.redisKey(keys[2])}:block`);
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  const MODELS: Readonly<Record<CountingAlgorithm, () => AlgorithmModel>> = {
    'sliding-log': () => new SlidingLogModel(),
    'fixed-window': () => new FixedWindowModel(),
    'sliding-window': () => new SlidingWindowModel(),
    gcra: () => new TokenBucketModel(),
  };

  test.each(COUNTING_ALGORITHMS.map((algorithm) => [algorithm]))('%s: for any sequence of (time, cost) one check at a time, the reference model’s outcomes (brute force), with and without blockFor', async (algorithm) => {
    const small = fc.record({
      limit: fc.integer({ min: 1, max: 8 }),
      // As above: a sliding log's list expires in the server's time, 1.5 windows on.
      windowMs: fc.integer({ min: algorithm === 'sliding-log' ? 1000 : 1, max: algorithm === 'sliding-log' ? 1500 : 400 }),
      burst: fc.integer({ min: 1, max: 10 }),
      blockMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2000 })),
    });
    await fc.assert(
      fc.asyncProperty(small, fc.array(fc.record({ step: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 1500 })), cost: fc.integer({ min: 1, max: 10 }) }), { maxLength: 25 }), async (rate, events) => {
        let now = 1_764_000_000_000;
        const store = new RedisThrottleStore(redis, { keyPrefix: `${prefix}${++stores}:`, clock: () => now });
        const model = new BlockForModel(MODELS[algorithm](), rate.blockMs);
        const burst = algorithm === 'gcra' ? rate.burst : undefined;
        const key = 'throttle_model_client';
        for (const { step: ahead, cost } of events) {
          now += ahead;
          // The model's costs stay near the limit: above it they are refused for ever, which the checks above cover.
          const [result] = await store.hit([{ key, limit: rate.limit, windowMs: rate.windowMs, record: true, algorithm, burst, cost, blockMs: rate.blockMs }]);
          const expected = model.hit({ limit: rate.limit, periodMs: rate.windowMs, cost, burst }, now);
          if (algorithm === 'sliding-log' && cost === 1 && rate.blockMs === 0) expect(result.outcome).toBeUndefined();
          else expect({ now, outcome: result.outcome }).toEqual({ now, outcome: expected });
          expect(result.allowed).toBe(expected.allowed);
        }
        await store.reset(key);
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});
