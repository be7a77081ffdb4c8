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
 * clock), the outcome back as integers in one string. The key is read and written with the store's
 * own loadCounter()/storeCounter(), as the store's script does.
 * ARGV: kind ('f', 's', 'g'), now, limit, periodMs, cost, burst, blockForMs, commit (1/0).
 */
const TEST_SCRIPT = `${ALGORITHM_LUA}
local kind = ARGV[1]
local now, limit, periodMs, cost, burst, blockForMs = ARGV[2] + 0, ARGV[3] + 0, ARGV[4] + 0, ARGV[5] + 0, ARGV[6] + 0, ARGV[7] + 0
local commit = ARGV[8] == '1'
local scale = kind == 'g' and gcraScale(limit, periodMs) or 1
local state = loadCounter(KEYS[1], kind, limit, scale)
local reported = kind == 'g' and burst or limit
local allowed, reportedLimit, remaining, reset, wait, counted, blockedUntil = withBlock(state, now, blockForMs, reported, CORES[kind], limit, periodMs, cost, burst, false)
if commit then
  if counted then
    storeCounter(KEYS[1], kind, counted, now, periodMs, scale, 1)
  elseif blockedUntil then
    storeCounter(KEYS[1], kind, withBlockedUntil(kind, state, blockedUntil), now, periodMs, scale, 1)
  end
end
-- The expiry the call left, then none: the test's clock is not the server's, so the key must not
-- vanish in real time while the test replays minutes in a few milliseconds.
local ttl = redis.call('PTTL', KEYS[1])
redis.call('PERSIST', KEYS[1])
return (allowed and '1' or '0') .. ' ' .. integerText(reportedLimit) .. ' ' .. integerText(remaining) .. ' ' .. integerText(reset) .. ' ' .. integerText(wait) .. ' ' .. integerText(ttl)
`;

const KINDS: Readonly<Record<string, string>> = { 'fixed-window': 'f', 'sliding-window': 's', gcra: 'g' };

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
    redis.eval(TEST_SCRIPT, 1, key, KINDS[name], String(now), check.limit, check.periodMs, check.cost, check.burst, blockForMs, commit ? '1' : '0').then((reply) => parse(reply as string));

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
          // A write (an admission, or a block starting) sets the expiry to what the state needs, its
          // counts and its block (less the ms the script took); a refusal writes nothing, so the key
          // keeps none (the test script persisted it) or does not exist.
          if ((expected.allowed && commit) || typescript.blockedUntil() !== blockedBefore) expectAbout(ttl, typescript.retentionMs(check, now));
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

  test('a key holding a string of another shape starts afresh; a key of another type fails the call, naming it', async () => {
    const check = { limit: 2, periodMs: 60_000, cost: 2, burst: 2 };
    const now = 1_764_000_000_000;
    for (const [i, name] of Object.keys(CORES).entries()) {
      const key = `${prefix}foreign:${name}:throttle_user_{9}`;
      await redis.set(key, i === 0 ? 'not a state' : i === 1 ? '' : 'b17.');
      expect((await hit(name, key, check, now, 0)).outcome).toMatchObject({ allowed: true, remaining: 0 });
      // Now its own state: the next request finds it.
      expect((await hit(name, key, check, now + 1, 0)).outcome.allowed).toBe(false);
    }
    const list = `${prefix}foreign:list:throttle_user_{9}`;
    await redis.rpush(list, '1');
    await expect(hit('gcra', list, check, now, 0)).rejects.toThrow(`key ${list} holds a list, not a counter`);
  });

  test('a block is written in front of the counts, and the next write after it is over leaves it out', async () => {
    const key = `${prefix}unblock:throttle_user_{10}`;
    const single = { limit: 1, periodMs: 1000, cost: 1, burst: 1 };
    const now = 1_764_000_000_000;
    await hit('fixed-window', key, single, now, 5000);
    const counted = await redis.get(key);
    expect((await hit('fixed-window', key, single, now, 5000)).outcome.allowed).toBe(false);
    expect(await redis.get(key)).toBe(`b${now + 5000}.${counted}`);
    expect((await hit('fixed-window', key, single, now + 5000, 5000)).outcome.allowed).toBe(true);
    expect(await redis.get(key)).not.toMatch(/^b/);
  });

  test('a state is one decimal string: an integer to Redis at the usual sizes, exact at any size', async () => {
    const now = 1_764_000_000_123;
    const key = `${prefix}codec:throttle_user_{11}`;
    const encodings: Record<string, string[]> = {};
    for (const name of Object.keys(CORES)) {
      encodings[name] = [];
      for (const limit of [100, 10_000_000, 9_007_199_251]) {
        await redis.del(key);
        // Half the limit at once, then the outcome of a request for the rest read back from the stored state.
        const half = Math.floor(limit / 2);
        const check = { limit, periodMs: 3_600_000, cost: half, burst: limit };
        await hit(name, key, check, now, 0);
        encodings[name].push((await redis.object('ENCODING', key)) as string);
        const core = CORES[name](0);
        core.hit(check, now);
        const rest = { ...check, cost: limit - half };
        expect((await hit(name, key, rest, now + 1, 0, false)).outcome).toEqual(core.hit(rest, now + 1, false));
      }
    }
    await redis.del(key);
    // 19 digits at most is an integer to Redis (its 16 B object); larger counts make a longer text.
    expect(encodings).toEqual({
      'fixed-window': ['int', 'int', 'embstr'],
      'sliding-window': ['int', 'int', 'embstr'],
      gcra: ['int', 'int', 'embstr'],
    });
  });
});
