import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { RedisThrottleStore } from '../../lib/index.js';
import { COUNTING_ALGORITHMS, type CountingAlgorithm } from '../../lib/core/store.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';
import { BlockForModel, FixedWindowModel, SlidingLogModel, SlidingWindowModel, TokenBucketModel, type AlgorithmModel } from '../support/algorithm-models.js';
import { runScenario, scenario } from './support/algorithm-scenarios.js';
import { deleteKeys, runPrefix } from './support/redis-keys.js';

const runs = await serviceAvailable('Redis', REDIS_URL);
const suite = runs ? describe : describe.skip;
const prefix = runPrefix('algorithm-properties');

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
      fc.asyncProperty(scenario, (drawn) => runScenario(drawn, (clock) => new RedisThrottleStore(redis, { keyPrefix: `${prefix}${++stores}:`, clock, denyCache }), ['client'], denyCache)),
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
