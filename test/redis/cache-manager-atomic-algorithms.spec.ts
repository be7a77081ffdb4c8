import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import KeyvRedis from '@keyv/redis';
import { createCache, type Cache } from 'cache-manager';
import fc from 'fast-check';
import { Keyv } from 'keyv';
import { CacheManagerThrottleStore, type WindowCheck } from '../../lib/index.js';
import type { RedisThrottleStore } from '../../lib/stores/redis/redis-throttle-store.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';
import { FakeClock } from '../support/fake-clock.js';
import { runScenario, scenario } from './support/algorithm-scenarios.js';
import { deleteKeys, runPrefix } from './support/redis-keys.js';

const runs = await serviceAvailable('Redis', REDIS_URL);
const suite = runs ? describe : describe.skip;
const prefix = runPrefix('cachemgr-atomic-algorithms');

/**
 * On a @keyv/redis cache the store goes through RedisThrottleStore's script, which counts every
 * algorithm itself: counter checks take the atomic path too (nothing falls back to the in-process
 * lock, nothing is refused).
 */
suite('CacheManagerThrottleStore on a @keyv/redis cache: every algorithm on the atomic path', () => {
  let keyvRedis: KeyvRedis<unknown>;
  let cache: Cache;
  let stores = 0;

  beforeAll(() => {
    keyvRedis = new KeyvRedis(REDIS_URL);
    cache = createCache({ stores: [new Keyv({ store: keyvRedis, namespace: `${prefix}ns` })] });
  });
  afterAll(async () => {
    await deleteKeys(prefix);
    await keyvRedis.disconnect();
  });

  test('random calls of every algorithm, cost, blockMs and allOrNothing, counted records and peeks: the TypeScript cores\' results', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, (drawn) =>
        runScenario(drawn, (clock) => new CacheManagerThrottleStore(cache, { keyPrefix: `${++stores}:`, clock }) as unknown as RedisThrottleStore, ['client'], false),
      ),
      { numRuns: 25 },
    );
  }, 120_000);

  test('200 concurrent gcra hits with limit 10 admit exactly 10, across two stores on the same cache (two processes)', async () => {
    const clock = new FakeClock();
    clock.now = 1_700_000_000_000;
    const [first, second] = [0, 1].map(() => new CacheManagerThrottleStore(cache, { keyPrefix: 'hot:', clock: clock.read }));
    expect(first.isAtomic).toBe(true);
    const check: WindowCheck = { key: 'gcra', limit: 10, windowMs: 60_000, record: true, algorithm: 'gcra' };
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? first : second).hit([check])));
    expect(results.filter(([result]) => result.allowed)).toHaveLength(10);
    expect(await second.peek('gcra', 60_000, { algorithm: 'gcra', limit: 10 })).toMatchObject({ count: 10, outcome: { allowed: false } });
    await first.reset('gcra');
    expect((await second.peek('gcra', 60_000, { algorithm: 'gcra', limit: 10 })).count).toBe(0);
  });
});
