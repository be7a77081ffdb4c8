import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { MemoryThrottleStore } from '../../lib/stores/memory-throttle-store.js';
import { COUNTING_ALGORITHMS, type CountingAlgorithm, type RecordedHit, type WindowCheck } from '../../lib/core/store.js';
import { ReferenceStore } from '../redis/support/reference-store.js';
import { FakeClock } from '../support/fake-clock.js';

/**
 * The memory store keeps counter keys as rows of typed arrays (lib/stores/memory/key-rows.ts) and
 * sliding logs as objects, in one recency list: it must decide exactly as the TypeScript cores do
 * (ReferenceStore, the oracle of the Redis store), and evict and sweep every kind alike.
 */

/** One key's rate under one algorithm (a key's throttle does not change while it keeps an algorithm). */
interface KeyRate {
  readonly limit: number;
  readonly windowMs: number;
  readonly burst: number | undefined;
  readonly blockMs: number;
}

const keyRate = (algorithm: CountingAlgorithm): fc.Arbitrary<KeyRate> =>
  fc
    .record({
      limit: algorithm === 'sliding-log' ? fc.integer({ min: 1, max: 12 }) : fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 10_000_000 })),
      windowMs: fc.oneof(fc.integer({ min: 1, max: 3000 }), fc.constantFrom(60_000, 3_600_000)),
      burstFactor: fc.double({ min: 0.1, max: 2.5, noNaN: true }),
      blockMs: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 100_000 })),
    })
    .map(({ limit, windowMs, burstFactor, blockMs }) => ({ limit, windowMs, blockMs, burst: algorithm === 'gcra' ? Math.max(1, Math.round(limit * burstFactor)) : undefined }));

/** Every algorithm's rate for one key, so a key may switch algorithm mid-scenario. */
const keyRates = fc.record({
  'sliding-log': keyRate('sliding-log'),
  'fixed-window': keyRate('fixed-window'),
  'sliding-window': keyRate('sliding-window'),
  gcra: keyRate('gcra'),
});

const KEYS = 3;
const keyIndex = fc.integer({ min: 0, max: KEYS - 1 });
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
      checks: fc.array(fc.record({ key: keyIndex, cost: costShare, record: fc.oneof(fc.constant(true), fc.constant(true), fc.constant(false)) }), { minLength: 1, maxLength: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('record' as const), step, key: keyIndex, cost: costShare }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('peek' as const), step, key: keyIndex, algorithm: fc.constantFrom(...COUNTING_ALGORITHMS) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('reset' as const), step, key: keyIndex }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('switch' as const), step, key: keyIndex, algorithm: fc.constantFrom(...COUNTING_ALGORITHMS) }) },
);

describe('MemoryThrottleStore, every algorithm', () => {
  test('decides every call exactly as the cores do (ReferenceStore), a key checked with another algorithm starting afresh', () => {
    fc.assert(
      fc.property(
        fc.array(keyRates, { minLength: KEYS, maxLength: KEYS }),
        fc.array(fc.constantFrom(...COUNTING_ALGORITHMS), { minLength: KEYS, maxLength: KEYS }),
        fc.integer({ min: 1_600_000_000_000, max: 2_000_000_000_000 }),
        fc.array(event, { maxLength: 30 }),
        (rates, initialAlgorithms, start, events) => {
          const clock = new FakeClock();
          clock.now = start;
          const store = new MemoryThrottleStore({ clock: clock.read, maxKeys: 1_000 });
          const reference = new ReferenceStore();
          const keys = rates.map((_, i) => `throttle_k${i}`);
          const algorithms = [...initialAlgorithms];
          // The algorithm the store holds each key under: counted under another one, the store starts the
          // key afresh (a peek does not), so the oracle, which keeps a state per algorithm, forgets it then too.
          const held = new Array<CountingAlgorithm | undefined>(KEYS).fill(undefined);
          const counted = (index: number) => {
            if (held[index] !== undefined && held[index] !== algorithms[index]) reference.reset(keys[index]);
            held[index] = algorithms[index];
          };
          const rateOf = (index: number) => rates[index][algorithms[index]];
          const checkOf = (index: number, share: number, record: boolean, allOrNothing: boolean): WindowCheck => {
            const rate = rateOf(index);
            return {
              key: keys[index],
              limit: rate.limit,
              windowMs: rate.windowMs,
              record,
              algorithm: algorithms[index],
              cost: costOf(rate, share),
              ...(rate.burst === undefined ? {} : { burst: rate.burst }),
              ...(rate.blockMs > 0 ? { blockMs: rate.blockMs } : {}),
              ...(allOrNothing ? { allOrNothing } : {}),
            };
          };
          for (const [index, happening] of events.entries()) {
            clock.now += happening.step;
            if (happening.type === 'hit') {
              happening.checks.forEach((c) => counted(c.key));
              const checks = happening.checks.map((c) => checkOf(c.key, c.cost, c.record, happening.allOrNothing));
              expect({ index, results: store.hit(checks) }).toEqual({ index, results: reference.hit(checks, clock.now) });
            } else if (happening.type === 'record') {
              counted(happening.key);
              const rate = rateOf(happening.key);
              const hit: RecordedHit = { key: keys[happening.key], windowMs: rate.windowMs, algorithm: algorithms[happening.key], limit: rate.limit, burst: rate.burst, cost: costOf(rate, happening.cost) };
              store.record([hit]);
              reference.record([hit], clock.now);
            } else if (happening.type === 'peek') {
              const rate = rates[happening.key][happening.algorithm];
              const counting = { algorithm: happening.algorithm, limit: rate.limit, burst: rate.burst };
              const key = keys[happening.key];
              expect({ index, peek: store.peek(key, rate.windowMs, counting) }).toEqual({ index, peek: reference.peek(key, rate.windowMs, clock.now, counting) });
            } else if (happening.type === 'reset') {
              store.reset(keys[happening.key]);
              reference.reset(keys[happening.key]);
              held[happening.key] = undefined;
            } else if (happening.algorithm !== algorithms[happening.key]) {
              algorithms[happening.key] = happening.algorithm;
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** The store's recency list (white-box: lib/stores/memory/key-rows.ts; a key is a log's entry or a counter's row). */
type ListedKey = object | number;
interface ListedRows {
  oldest: ListedKey | null;
  newerOf(node: ListedKey): ListedKey | null;
  keyOf(node: ListedKey): string;
}

function listedKeys(store: MemoryThrottleStore): string[] {
  const rows = (store as unknown as { rows: ListedRows }).rows;
  const keys: string[] = [];
  for (let node = rows.oldest; node !== null && keys.length <= store.size; node = rows.newerOf(node)) keys.push(rows.keyOf(node));
  return keys;
}

/** A check every algorithm admits many times over (nothing expires while the clock stands still). */
const roomyCheck = (key: string, algorithm: CountingAlgorithm): WindowCheck => ({ key, limit: 1_000, windowMs: 3_600_000, record: true, algorithm });
const idleCounting = (algorithm: CountingAlgorithm) => ({ algorithm, limit: 1_000 });

describe('MemoryThrottleStore, eviction and sweep across kinds', () => {
  test('never holds more than maxKeys, and evicts the least recently used key whatever its algorithm', () => {
    const operation = fc.oneof(
      { weight: 5, arbitrary: fc.record({ type: fc.constant('hit' as const), key: fc.integer({ min: 0, max: 7 }), algorithm: fc.constantFrom(...COUNTING_ALGORITHMS) }) },
      { weight: 2, arbitrary: fc.record({ type: fc.constant('record' as const), key: fc.integer({ min: 0, max: 7 }), algorithm: fc.constantFrom(...COUNTING_ALGORITHMS) }) },
      { weight: 1, arbitrary: fc.record({ type: fc.constant('peek' as const), key: fc.integer({ min: 0, max: 7 }) }) },
      { weight: 1, arbitrary: fc.record({ type: fc.constant('reset' as const), key: fc.integer({ min: 0, max: 7 }) }) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(operation, { maxLength: 60 }), (maxKeys, operations) => {
        const clock = new FakeClock();
        clock.now = 1_700_000_000_000;
        const store = new MemoryThrottleStore({ clock: clock.read, maxKeys });
        // The model: keys oldest first, with the algorithm each holds.
        let model: { key: string; algorithm: CountingAlgorithm }[] = [];
        const use = (key: string, algorithm: CountingAlgorithm) => {
          model = model.filter((held) => held.key !== key);
          model.push({ key, algorithm });
          if (model.length > maxKeys) model.shift();
        };
        for (const op of operations) {
          const key = `k${op.key}`;
          if (op.type === 'hit') {
            expect(store.hit([roomyCheck(key, op.algorithm)])[0].allowed).toBe(true);
            use(key, op.algorithm);
          } else if (op.type === 'record') {
            store.record([{ key, windowMs: 3_600_000, limit: 1_000, algorithm: op.algorithm }]);
            use(key, op.algorithm);
          } else if (op.type === 'reset') {
            store.reset(key);
            model = model.filter((held) => held.key !== key);
          } else {
            // A peek reads without touching; an evicted or reset key reads fresh under every algorithm.
            const held = model.find((entry) => entry.key === key);
            for (const algorithm of COUNTING_ALGORITHMS) {
              const count = store.peek(key, 3_600_000, idleCounting(algorithm)).count;
              expect(count).toBe(held?.algorithm === algorithm ? count : 0);
              if (held?.algorithm === algorithm) expect(count).toBeGreaterThan(0);
            }
          }
          expect(store.size).toBeLessThanOrEqual(maxKeys);
          expect(listedKeys(store)).toEqual(model.map((held) => held.key));
        }
      }),
      { numRuns: 300 },
    );
  });

  test('an expired key of any kind reads fresh, and the sweep reclaims every expired key within a pass or two', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ algorithm: fc.constantFrom(...COUNTING_ALGORITHMS), windowMs: fc.integer({ min: 1, max: 100_000 }), blockMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 100_000 })), hits: fc.integer({ min: 1, max: 4 }) }), { minLength: 1, maxLength: 20 }),
        (keys) => {
          const clock = new FakeClock();
          clock.now = 1_700_000_000_000;
          const store = new MemoryThrottleStore({ clock: clock.read, maxKeys: 1_000 });
          const checkOf = (i: number): WindowCheck => {
            const { algorithm, windowMs, blockMs } = keys[i];
            return { key: `k${i}`, limit: 2, windowMs, record: true, algorithm, ...(blockMs > 0 ? { blockMs } : {}) };
          };
          // Some keys are driven past their limit, so some hold blocks.
          keys.forEach((key, i) => {
            for (let n = 0; n < key.hits; n++) store.hit([checkOf(i)]);
          });
          expect(store.size).toBe(keys.length);
          // Past every window (a sliding window keeps two), TAT and block.
          clock.now += 2 * 100_000 + 100_000 + 1;
          keys.forEach(({ algorithm, windowMs }, i) => {
            const peeked = store.peek(`k${i}`, windowMs, { algorithm, limit: 2 });
            expect(peeked.count).toBe(0);
            if (algorithm !== 'sliding-log') expect(peeked.outcome).toMatchObject({ allowed: true, remaining: 1 });
          });
          for (let n = 0; n < keys.length + 2; n++) store.hit([{ key: 'live', limit: 1_000_000, windowMs: 1_000_000, record: true }]);
          expect(listedKeys(store)).toEqual(['live']);
          keys.forEach((_, i) => expect(store.hit([checkOf(i)])[0]).toMatchObject({ allowed: true, count: 0 }));
        },
      ),
      { numRuns: 200 },
    );
  });
});
