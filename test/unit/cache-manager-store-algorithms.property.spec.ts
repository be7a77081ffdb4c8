import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { createCache } from 'cache-manager';
import fc from 'fast-check';
import { CacheManagerThrottleStore, type WindowCheck } from '../../lib/index.js';
import type { CacheLike } from '../../lib/stores/cache-manager-throttle-store.js';
import { COUNTING_ALGORITHMS, type CountingAlgorithm, type PeekCounting, type RecordedHit } from '../../lib/core/store.js';
import { FakeClock } from '../support/fake-clock.js';
import { ReferenceStore } from '../redis/support/reference-store.js';

/**
 * Random calls against CacheManagerThrottleStore and the TypeScript cores (ReferenceStore, the
 * oracle of the Redis store), compared call for call: hit() with 1-3 checks over three keys, each
 * check of any algorithm (so keys switch algorithms), cost, blockMs and all or nothing, with DRF's
 * plain checks among them; counted records, peeks and resets; on a fake clock.
 */

/** The rate a key has under one algorithm: fixed, as a throttle's is. */
interface Rate {
  readonly limit: number;
  readonly windowMs: number;
  readonly burst: number | undefined;
  /** The block its checks ask for when they ask for one (0: a check names blockMs 0). */
  readonly blockMs: number;
}

const rateOf = (algorithm: CountingAlgorithm) =>
  fc
    .record({
      // A sliding log appends a hit per unit: its limits stay small; the counters go to production sizes.
      limit: algorithm === 'sliding-log' ? fc.integer({ min: 1, max: 12 }) : fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 10_000_000 })),
      windowMs: fc.oneof(fc.integer({ min: 1, max: 3000 }), fc.constantFrom(60_000, 3_600_000)),
      burstFactor: fc.double({ min: 0.1, max: 2.5, noNaN: true }),
      blockMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 100_000 })),
    })
    .map(({ limit, windowMs, burstFactor, blockMs }): Rate => ({ limit, windowMs, blockMs, burst: algorithm === 'gcra' ? Math.max(1, Math.round(limit * burstFactor)) : undefined }));

/** A key's rates, one per algorithm, and the algorithm its checks use most often (a switch now and then). */
const keyRates = fc.record({
  usual: fc.constantFrom(...COUNTING_ALGORITHMS),
  'sliding-log': rateOf('sliding-log'),
  'sliding-window': rateOf('sliding-window'),
  gcra: rateOf('gcra'),
  'fixed-window': rateOf('fixed-window'),
});

const KEYS = ['throttle_user_1', 'throttle_user_2', 'throttle_anon_10.0.0.1'];
const keyIndex = fc.integer({ min: 0, max: KEYS.length - 1 });
const algorithm = fc.oneof({ weight: 3, arbitrary: fc.constant('usual' as const) }, { weight: 1, arbitrary: fc.constantFrom(...COUNTING_ALGORITHMS) });
/** A cost as a share of the rate's limit: absent or 1 most often, sometimes up to a little over the limit. */
const costShare = fc.oneof(fc.constant(undefined), fc.constant(0), fc.double({ min: 0, max: 1.2, noNaN: true }));
const costOf = (rate: Rate, share: number | undefined) => (share === undefined ? undefined : share === 0 ? 1 : Math.max(1, Math.ceil((rate.burst ?? rate.limit) * share)));
const step = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 0, max: 200_000 }));

const event = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      type: fc.constant('hit' as const),
      step,
      checks: fc.array(
        fc.record({
          key: keyIndex,
          algorithm,
          // A sliding log is named or left to the default (DRF's plain check when nothing else is set).
          named: fc.boolean(),
          cost: costShare,
          record: fc.oneof(fc.constant(true), fc.constant(true), fc.constant(false)),
          // The rate's block most often; else none, by omission or as 0.
          blocks: fc.oneof(fc.constant(true), fc.constant(true), fc.constant(false), fc.constant(undefined)),
          allOrNothing: fc.oneof(fc.constant(undefined), fc.constant(undefined), fc.boolean()),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('record' as const), step, key: keyIndex, algorithm, cost: costShare }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('peek' as const), step, key: keyIndex, algorithm, named: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('reset' as const), step, key: keyIndex }) },
);

const scenario = fc.record({
  rates: fc.tuple(keyRates, keyRates, keyRates),
  start: fc.integer({ min: 1_600_000_000_000, max: 2_000_000_000_000 }),
  events: fc.array(event, { maxLength: 30 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/**
 * A cache whose entries expire on the test's clock (at set time + ttl, as the embedded store
 * expires its keys): the TTLs the store writes must keep every state as long as it decides anything.
 */
class ClockedCache implements CacheLike {
  private readonly entries = new Map<string, { value: unknown; expiresAt: number }>();
  constructor(private readonly clock: () => number) {}
  async get<T>(key: string): Promise<T | undefined> {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.expiresAt <= this.clock()) return undefined;
    return structuredClone(entry.value) as T;
  }
  async set<T>(key: string, value: T, ttl?: number): Promise<void> {
    expect(ttl).toBeGreaterThan(0);
    this.entries.set(key, { value: structuredClone(value), expiresAt: this.clock() + ttl! });
  }
  async del(key: string): Promise<void> {
    this.entries.delete(key);
  }
}

/**
 * Keyv expires its entries by Date.now: the test moves Date (and only Date) with the store's clock,
 * so the cache forgets an entry when the store's TTL says, on the same clock.
 */
function keyvOnTestClock(clock: () => number): CacheLike {
  jest.useFakeTimers({ now: clock(), doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
  return createCache();
}

async function run({ rates, start, events }: Scenario, makeCache: (clock: () => number) => CacheLike, onTick: (now: number) => void = () => {}): Promise<void> {
  const clock = new FakeClock();
  clock.now = start;
  const store = new CacheManagerThrottleStore(makeCache(clock.read), { clock: clock.read, keyPrefix: 'rl:' });
  const reference = new ReferenceStore();
  const algorithmOf = (key: number, picked: CountingAlgorithm | 'usual'): CountingAlgorithm => (picked === 'usual' ? rates[key].usual : picked);
  for (const [index, happening] of events.entries()) {
    clock.now += happening.step;
    const now = clock.now;
    onTick(now);
    if (happening.type === 'hit') {
      const checks = happening.checks.map((c): WindowCheck => {
        const name = algorithmOf(c.key, c.algorithm);
        const rate = rates[c.key][name];
        const check: WindowCheck = { key: KEYS[c.key], limit: rate.limit, windowMs: rate.windowMs, record: c.record };
        const named = name !== 'sliding-log' || c.named;
        const cost = costOf(rate, c.cost);
        const blockMs = c.blocks === undefined ? undefined : c.blocks ? rate.blockMs : 0;
        return {
          ...check,
          ...(named ? { algorithm: name } : {}),
          ...(rate.burst === undefined ? {} : { burst: rate.burst }),
          ...(cost === undefined ? {} : { cost }),
          ...(blockMs === undefined ? {} : { blockMs }),
          ...(c.allOrNothing === undefined ? {} : { allOrNothing: c.allOrNothing }),
        };
      });
      const actual = await store.hit(checks);
      expect({ index, results: actual }).toEqual({ index, results: reference.hit(checks, now) });
    } else if (happening.type === 'record') {
      const name = algorithmOf(happening.key, happening.algorithm);
      const rate = rates[happening.key][name];
      const cost = costOf(rate, happening.cost);
      const hit: RecordedHit = { key: KEYS[happening.key], windowMs: rate.windowMs, algorithm: name, limit: rate.limit, burst: rate.burst, ...(cost === undefined ? {} : { cost }) };
      await store.record([hit]);
      reference.record([hit], now);
    } else if (happening.type === 'peek') {
      const name = algorithmOf(happening.key, happening.algorithm);
      const rate = rates[happening.key][name];
      const counting: PeekCounting | undefined = name === 'sliding-log' && !happening.named ? undefined : { algorithm: name, limit: rate.limit, burst: rate.burst };
      const actual = await store.peek(KEYS[happening.key], rate.windowMs, counting);
      expect({ index, peek: actual }).toEqual({ index, peek: reference.peek(KEYS[happening.key], rate.windowMs, now, counting) });
    } else {
      await store.reset(KEYS[happening.key]);
      reference.reset(KEYS[happening.key]);
    }
  }
}

describe('CacheManagerThrottleStore decides as the TypeScript cores (the Redis store\'s oracle)', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  test('over cache-manager 7 in memory (Keyv, expiring on the test clock): every call, result for result', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, (s) => run(s, keyvOnTestClock, (now) => jest.setSystemTime(now))),
      { numRuns: 300 },
    );
  }, 60_000);

  test('over a cache that expires entries on the test clock: no state is forgotten while it still decides', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, (s) => run(s, (clock) => new ClockedCache(clock))),
      { numRuns: 300 },
    );
  }, 60_000);
});
