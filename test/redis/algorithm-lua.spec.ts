import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import type { AlgorithmOutcome, BlockableState } from '../../lib/core/algorithms/algorithm-outcome.js';
import { blockRetentionMs, hitWithBlock } from '../../lib/core/algorithms/block-for.js';
import { fixedWindowRetentionMs, hitFixedWindow, newFixedWindowState } from '../../lib/core/algorithms/fixed-window.js';
import { gcraRetentionMs, hitGcra, newGcraState } from '../../lib/core/algorithms/gcra.js';
import { hitSlidingWindow, newSlidingWindowState, slidingWindowRetentionMs } from '../../lib/core/algorithms/sliding-window.js';
import { ALGORITHM_LUA } from '../../lib/stores/redis/algorithm-lua.js';
import { REDIS_URL, RUN_ID, serviceAvailable } from '../support/services.js';
import { deleteKeys, runPrefix } from './support/redis-keys.js';

const runs = await serviceAvailable('Redis', REDIS_URL);
const suite = runs ? describe : describe.skip;
const prefix = runPrefix('algorithm-lua');

/**
 * A tiny script around the snippets: one check, the time passed in (as text, like the store's test
 * clock), the outcome back as integers in one string.
 * ARGV: algorithm, now, limit, periodMs, cost, burst, blockForMs, commit (1/0).
 */
const TEST_SCRIPT = `${ALGORITHM_LUA}
local name = ARGV[1]
local now, limit, periodMs, cost, burst, blockForMs = ARGV[2] + 0, ARGV[3] + 0, ARGV[4] + 0, ARGV[5] + 0, ARGV[6] + 0, ARGV[7] + 0
local commit = ARGV[8] == '1'
local allowed, reportedLimit, remaining, reset, wait
if name == 'fixed-window' then
  allowed, reportedLimit, remaining, reset, wait = withBlock(KEYS[1], now, blockForMs, limit, commit, fixedWindow, limit, periodMs, cost, commit)
elseif name == 'sliding-window' then
  allowed, reportedLimit, remaining, reset, wait = withBlock(KEYS[1], now, blockForMs, limit, commit, slidingWindow, limit, periodMs, cost, commit)
else
  allowed, reportedLimit, remaining, reset, wait = withBlock(KEYS[1], now, blockForMs, burst, commit, gcra, limit, periodMs, cost, burst, commit)
end
-- The expiry the call left, then none: the test's clock is not the server's, so the key must not
-- vanish in real time while the test replays minutes in a few milliseconds.
local ttl = redis.call('PTTL', KEYS[1])
redis.call('PERSIST', KEYS[1])
return (allowed and '1' or '0') .. ' ' .. integerText(reportedLimit) .. ' ' .. integerText(remaining) .. ' ' .. integerText(reset) .. ' ' .. integerText(wait) .. ' ' .. integerText(ttl)
`;

interface Check {
  readonly limit: number;
  readonly periodMs: number;
  readonly cost: number;
  readonly burst: number;
}

/** One key's TypeScript core, and the expiry (ms) a write at `now` should set: what its state needs. */
interface Core {
  hit(check: Check, now: number, commit?: boolean): AlgorithmOutcome;
  retentionMs(check: Check, now: number): number;
  blockedUntil(): number;
}

function core<S extends BlockableState>(
  state: S,
  blockForMs: number,
  reportedLimit: (check: Check) => number,
  hit: (state: S, check: Check, now: number, commit: boolean) => AlgorithmOutcome,
  retentionMs: (state: S, check: Check, now: number) => number,
): Core {
  return {
    hit: (check, now, commit = true) => hitWithBlock(state, check, now, blockForMs, reportedLimit(check), hit, commit),
    retentionMs: (check, now) => Math.max(retentionMs(state, check, now), blockRetentionMs(state, now)),
    blockedUntil: () => state.blockedUntil,
  };
}

const CORES: Readonly<Record<string, (blockForMs: number) => Core>> = {
  'fixed-window': (b) => core(newFixedWindowState(), b, (c) => c.limit, hitFixedWindow, fixedWindowRetentionMs),
  'sliding-window': (b) => core(newSlidingWindowState(), b, (c) => c.limit, hitSlidingWindow, slidingWindowRetentionMs),
  gcra: (b) => core(newGcraState(), b, (c) => c.burst, hitGcra, (state, _check, now) => gcraRetentionMs(state, now)),
};

function expectAbout(ttl: number, retentionMs: number): void {
  expect(ttl).toBeLessThanOrEqual(retentionMs);
  expect(ttl).toBeGreaterThanOrEqual(retentionMs - 5);
}

function parse(reply: string): { outcome: AlgorithmOutcome; ttl: number } {
  const [allowed, limit, remaining, resetMs, waitMs, ttl] = reply.split(' ').map(Number);
  return { outcome: { allowed: allowed === 1, limit, remaining, resetMs, waitMs: waitMs === -1 ? null : waitMs }, ttl };
}

suite('the algorithms in Lua, on real Redis', () => {
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  let keyNumber = 0;

  beforeAll(async () => {
    await redis.connect();
  });

  afterAll(async () => {
    redis.disconnect();
    await deleteKeys(prefix);
  });

  const hit = (name: string, key: string, check: Check, now: number, blockForMs: number, commit = true) =>
    redis.eval(TEST_SCRIPT, 1, key, name, String(now), check.limit, check.periodMs, check.cost, check.burst, blockForMs, commit ? '1' : '0').then((reply) => parse(reply as string));

  // Limits and periods up to production sizes: the Lua must stay exact where the models cannot go.
  const scenario = fc
    .record({
      limit: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 10_000_000 })),
      periodMs: fc.oneof(fc.integer({ min: 1, max: 3000 }), fc.constantFrom(60_000, 3_600_000, 86_400_000)),
      burstFactor: fc.double({ min: 0.1, max: 2.5, noNaN: true }),
      blockForMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 100_000 })),
      start: fc.integer({ min: 1_600_000_000_000, max: 2_000_000_000_000 }),
    })
    .chain((rate) =>
      fc.record({
        rate: fc.constant(rate),
        events: fc.array(
          fc.record({
            step: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: Math.ceil(rate.periodMs / rate.limit) * 3 }), fc.integer({ min: 0, max: 3 * rate.periodMs })),
            key: fc.constantFrom('a', 'b'),
            cost: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: rate.limit + 2 }), fc.integer({ min: 1, max: Math.max(1, Math.ceil(rate.limit / 3)) })),
            // Some checks only answer, as a request's first pass over its throttles does.
            commit: fc.boolean(),
          }),
          { maxLength: 30 },
        ),
      }),
    );

  test.each(Object.keys(CORES))('%s gives the TypeScript core’s outcomes for any sequence of (time, key, cost), with and without blockFor', async (name) => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ rate, events }) => {
        const run = keyNumber++;
        const cores = new Map<string, Core>();
        let now = rate.start;
        for (const { step, key, cost, commit } of events) {
          now += step;
          if (!cores.has(key)) cores.set(key, CORES[name](rate.blockForMs));
          const check = { limit: rate.limit, periodMs: rate.periodMs, cost, burst: Math.max(1, Math.round(rate.limit * rate.burstFactor)) };
          const redisKey = `${prefix}${name}:${run}:throttle_user_{${key}}`;
          const { outcome, ttl } = await hit(name, redisKey, check, now, rate.blockForMs, commit);
          const typescript = cores.get(key)!;
          const blockedBefore = typescript.blockedUntil();
          const expected = typescript.hit(check, now, commit);
          expect(outcome).toEqual(expected);
          // A write (an admission, or a block starting) sets the expiry to what the state needs (less
          // the ms the script took); a refusal writes nothing, so the key keeps none (the test script
          // persisted it) or does not exist.
          if (expected.allowed && commit) expectAbout(ttl, typescript.retentionMs(check, now));
          else if (typescript.blockedUntil() !== blockedBefore) expectAbout(ttl, typescript.blockedUntil() - now);
          else expect(ttl).toBeLessThan(0);
        }
      }),
      { numRuns: 40 },
    );
  });

  test('every write sets an expiry, so idle keys vanish, and a block outlives the counts it follows', async () => {
    const now = Date.now();
    const check = { limit: 10, periodMs: 60_000, cost: 1, burst: 10 };
    const ttls: Record<string, number> = {};
    for (const name of Object.keys(CORES)) ttls[name] = (await hit(name, `${prefix}expiry:${name}:throttle_user_{7}`, check, now, 0)).ttl;
    // Until the window ends; until the next window has left the period too; until the TAT (6 s on).
    expectAbout(ttls['fixed-window'], 60_000 - (now % 60_000));
    expectAbout(ttls['sliding-window'], 120_000 - (now % 60_000));
    expectAbout(ttls.gcra, 6001);
    const blocked = `${prefix}expiry:block:throttle_user_{8}`;
    const single = { limit: 1, periodMs: 1000, cost: 1, burst: 1 };
    expect((await hit('gcra', blocked, single, now, 600_000)).ttl).toBeLessThanOrEqual(1001);
    expectAbout((await hit('gcra', blocked, single, now, 600_000)).ttl, 600_000);
  });

  test('a key left by another algorithm starts afresh instead of failing the script', async () => {
    const key = `${prefix}switch:throttle_user_{9}`;
    const check = { limit: 2, periodMs: 60_000, cost: 2, burst: 2 };
    const now = 1_764_000_000_000;
    for (const [i, name] of ['fixed-window', 'sliding-window', 'gcra'].entries()) {
      // Each finds only the others' fields (the window start included) and counts from 0.
      expect((await hit(name, key, check, now + i, 0)).outcome.allowed).toBe(true);
    }
    // Back to an algorithm whose own state is still current: its count holds.
    expect((await hit('fixed-window', key, check, now + 3, 0)).outcome.allowed).toBe(false);
  });

  test('a block that is over leaves the key: its field is removed on the next request', async () => {
    const key = `${prefix}unblock:throttle_user_{10}`;
    const single = { limit: 1, periodMs: 1000, cost: 1, burst: 1 };
    const now = 1_764_000_000_000;
    await hit('fixed-window', key, single, now, 5000);
    expect((await hit('fixed-window', key, single, now, 5000)).outcome.allowed).toBe(false);
    expect(await redis.hexists(key, 'b')).toBe(1);
    expect((await hit('fixed-window', key, single, now + 5000, 5000)).outcome.allowed).toBe(true);
    expect(await redis.hexists(key, 'b')).toBe(0);
  });

  test('a key costs the same memory at any limit: MEMORY USAGE per algorithm', async () => {
    const now = 1_764_000_000_123;
    // MEMORY USAGE counts the key's name too: measured at the lengths of production keys,
    // 'throttle:throttle_user_{42}' (27 characters) and 'throttle:throttle_user_{203.0.113.42}' (37),
    // with names of this run's own (a short unique start, padded).
    const ownStart = `n${process.pid}${Date.now() % 1_000_000}:{`;
    const keyOfLength = (length: number) => `${ownStart}${'x'.repeat(length - ownStart.length - 1)}}`;
    const figures: string[] = [];
    for (const length of [27, 37]) {
      const key = keyOfLength(length);
      try {
        for (const name of Object.keys(CORES)) {
          const usage: number[] = [];
          const blocked: number[] = [];
          for (const limit of [10, 10_000, 10_000_000]) {
            await redis.del(key);
            // A used key (3 units per request), and then the same key with a block written too.
            for (let i = 0; i < 3; i++) await hit(name, key, { limit, periodMs: 3_600_000, cost: 3, burst: limit }, now + i * 997, 0);
            usage.push((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) as number);
            // Two at once on a limit of 1: the second is refused and starts a block.
            for (let i = 0; i < 2; i++) await hit(name, key, { limit: 1, periodMs: 3_600_000, cost: 1, burst: 1 }, now + 5000, 60_000);
            expect(await redis.hexists(key, 'b')).toBe(1);
            blocked.push((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) as number);
          }
          figures.push(`${name}, ${length}-character key: ${usage.join('/')} B (with a block: ${blocked.join('/')} B) at limits 10/10k/10M`);
          // Bounded whatever the limit: the same fields, whose integers grow by a few bytes at most.
          expect(Math.max(...usage, ...blocked) - Math.min(...usage)).toBeLessThanOrEqual(16);
        }
      } finally {
        await redis.del(key);
      }
    }
    process.stderr.write(`MEMORY USAGE per key (Redis hash): ${figures.join('; ')}\n`);
  });
});
