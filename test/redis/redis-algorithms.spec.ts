import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { RedisThrottleStore, ThrottleConfigError } from '../../lib/index.js';
import type { CountingAlgorithm, WindowCheck } from '../../lib/core/store.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';
import { RedisServerProcess } from './support/redis-server-process.js';

// A redis-server of this suite's own: MONITOR and MEMORY USAGE see our keys and nobody else's, under
// the production prefix 'throttle:'.
const runs = await serviceAvailable('Redis', REDIS_URL);
const suite = runs ? describe : describe.skip;

const MINUTE = 60_000;
const HOUR = 3_600_000;
const T0 = 1_764_000_000_000 - (1_764_000_000_000 % HOUR);
const COUNTERS: readonly Exclude<CountingAlgorithm, 'sliding-log'>[] = ['fixed-window', 'sliding-window', 'gcra'];

suite('RedisThrottleStore: algorithms, cost, blocks, all or nothing, counted records (real Redis)', () => {
  let server: RedisServerProcess;
  let redis: Redis;
  let now = T0;
  let store: RedisThrottleStore;
  const clock = () => now;

  /** The script calls a block of code makes, as MONITOR shows them: [command, packed argument, keys]. */
  async function callsOf(run: () => Promise<unknown>): Promise<{ command: string; packed: string; keys: string[] }[]> {
    const monitor = await redis.monitor();
    const calls: { command: string; packed: string; keys: string[] }[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      const command = args[0].toLowerCase();
      if (command === 'evalsha' || command === 'eval' || command === 'del') {
        const keyCount = command === 'del' ? args.length - 1 : Number(args[2]);
        const keys = command === 'del' ? args.slice(1) : args.slice(3, 3 + keyCount);
        calls.push({ command, packed: command === 'del' ? '' : args[3 + keyCount], keys });
      }
    });
    try {
      await run();
      // MONITOR's feed lags the replies a little: a PING through it marks the end.
      await redis.ping();
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      monitor.disconnect();
    }
    return calls;
  }

  beforeAll(async () => {
    server = await RedisServerProcess.start();
    redis = new Redis(server.url);
  }, 30_000);
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });
  beforeEach(async () => {
    await redis.flushall();
    now = T0;
    store = new RedisThrottleStore(redis, { clock });
  });

  const check = (key: string, extra: Partial<WindowCheck> = {}): WindowCheck => ({ key, limit: 10, windowMs: MINUTE, record: true, ...extra });

  test('a request mixing every algorithm is one EVALSHA; a request of DRF checks keeps the plain mode and its text', async () => {
    const mixed = [
      check('throttle_anon_1.2.3.4'),
      check('throttle_fw_1.2.3.4', { algorithm: 'fixed-window' }),
      check('throttle_sw_1.2.3.4', { algorithm: 'sliding-window', cost: 3 }),
      check('throttle_gc_1.2.3.4', { algorithm: 'gcra', burst: 4, blockMs: 5000 }),
    ];
    await store.hit(mixed); // loads the script
    const calls = await callsOf(() => store.hit(mixed));
    expect(calls).toEqual([
      {
        command: 'evalsha',
        packed: `a ${T0} l 10 60000 1 1 0 = - - f 10 60000 1 1 0 s 10 60000 3 1 0 g 10 60000 1 1 5000 4`,
        keys: [
          'throttle:throttle_anon_{1.2.3.4}',
          'throttle:throttle_anon_{1.2.3.4}',
          'throttle:throttle_anon_{1.2.3.4}',
          'throttle:throttle_fw_{1.2.3.4}:fw',
          'throttle:throttle_sw_{1.2.3.4}:sw',
          'throttle:throttle_gc_{1.2.3.4}:gc',
        ],
      },
    ]);
    // Explicitly the defaults (sliding log, cost 1, no block, not all or nothing): DRF's mode 'h'.
    const drf = [check('throttle_anon_1.2.3.4'), check('throttle_user_7', { algorithm: 'sliding-log', cost: 1, blockMs: 0, allOrNothing: false })];
    expect(await callsOf(() => store.hit(drf))).toEqual([{ command: 'evalsha', packed: `h ${T0} 10 60000 1 = 10 60000 1 =`, keys: ['throttle:throttle_anon_{1.2.3.4}', 'throttle:throttle_user_{7}'] }]);
  });

  test.each(COUNTERS.map((algorithm) => [algorithm]))('%s: a cost takes that many units, all or none, and the outcome says what is left and when', async (algorithm) => {
    const key = 'throttle_upload_42';
    const costly = (cost: number) => check(key, { algorithm, cost, limit: 10, windowMs: HOUR });
    expect((await store.hit([costly(4)]))[0]).toMatchObject({ allowed: true, count: 0, oldest: null, outcome: { allowed: true, limit: 10, remaining: 6 } });
    expect((await store.hit([costly(4)]))[0]).toMatchObject({ allowed: true, count: 4, outcome: { remaining: 2 } });
    const [denied] = await store.hit([costly(4)]);
    expect(denied).toMatchObject({ allowed: false, count: 8, outcome: { allowed: false, remaining: 2 } });
    expect(denied.outcome!.waitMs).toBeGreaterThan(0);
    // What is left still fits a smaller request; one costing more than the limit never does.
    expect((await store.hit([costly(2)]))[0]).toMatchObject({ allowed: true, outcome: { remaining: 0 } });
    expect((await store.hit([costly(11)]))[0].outcome).toMatchObject({ allowed: false, waitMs: null });
  });

  test('a sliding log with a cost records that many hits and reports its outcome; with cost 1 it reports none (DRF)', async () => {
    const key = 'throttle_burst_9';
    const [first] = await store.hit([check(key, { limit: 5, cost: 3 })]);
    expect(first).toEqual({ allowed: true, count: 0, oldest: null, now: T0, outcome: { allowed: true, limit: 5, remaining: 2, resetMs: MINUTE, waitMs: 0 } });
    expect(await redis.lrange(store.redisKey(key), 0, -1)).toEqual([String(T0), String(T0), String(T0)]);
    now += 10_000;
    const [denied] = await store.hit([check(key, { limit: 5, cost: 3 })]);
    expect(denied).toEqual({ allowed: false, count: 3, oldest: T0, now, outcome: { allowed: false, limit: 5, remaining: 2, resetMs: 50_000, waitMs: 50_000 } });
    const [plain] = await store.hit([check(key, { limit: 5 })]);
    expect(plain).toEqual({ allowed: true, count: 3, oldest: T0, now });
  });

  test.each(COUNTERS.map((algorithm) => [algorithm]))('%s with blockMs: a denial blocks for blockMs, a refusal during it does not extend it, and the key counts afresh after', async (algorithm) => {
    const key = 'throttle_login_alice';
    const guarded = check(key, { algorithm, limit: 2, windowMs: MINUTE, blockMs: 10 * MINUTE });
    await store.hit([guarded, guarded]);
    const [denied] = await store.hit([guarded]);
    expect(denied.outcome).toEqual({ allowed: false, limit: 2, remaining: 0, resetMs: 10 * MINUTE, waitMs: 10 * MINUTE });
    now += 5 * MINUTE;
    expect((await store.hit([guarded]))[0].outcome).toEqual({ allowed: false, limit: 2, remaining: 0, resetMs: 5 * MINUTE, waitMs: 5 * MINUTE });
    now += 5 * MINUTE;
    expect((await store.hit([guarded]))[0]).toMatchObject({ allowed: true, count: 0 });
    // The block went with that write: the key holds its counts only.
    expect(await redis.get(store.keyOf(key, algorithm))).not.toMatch(/^b/);
  });

  test('a sliding log with blockMs keeps its block in a key of its own, in the log’s slot, for the block’s time', async () => {
    const key = 'throttle_login_bob';
    const guarded = check(key, { limit: 1, blockMs: 30 * MINUTE });
    await store.hit([guarded]);
    now += 1000;
    expect((await store.hit([guarded]))[0]).toMatchObject({ allowed: false, count: 1, oldest: T0, outcome: { remaining: 0, resetMs: 30 * MINUTE, waitMs: 30 * MINUTE } });
    const blockKey = `${store.redisKey(key)}:block`;
    expect(blockKey).toBe('throttle:throttle_login_{bob}:block');
    expect(await redis.get(blockKey)).toBe(String(now + 30 * MINUTE));
    expect(await redis.pttl(blockKey)).toBeGreaterThan(30 * MINUTE - 1000);
    // Long after the window, still blocked; then free.
    now += 29 * MINUTE;
    expect((await store.hit([guarded]))[0]).toMatchObject({ allowed: false, count: 0, outcome: { waitMs: MINUTE } });
    now += MINUTE;
    expect((await store.hit([guarded]))[0].allowed).toBe(true);
  });

  test('all or nothing: one check denying counts none of the others, and writes its own block; without it, the allowed ones count', async () => {
    const requests = check('throttle_requests_7', { algorithm: 'gcra', limit: 100, windowMs: HOUR });
    const log = check('throttle_log_7', { limit: 100 });
    const uploads = check('throttle_uploads_7', { algorithm: 'fixed-window', limit: 3, windowMs: HOUR, cost: 2, blockMs: MINUTE });
    const together = [requests, log, uploads].map((c) => ({ ...c, allOrNothing: true }));
    expect((await store.hit(together)).map((r) => r.allowed)).toEqual([true, true, true]);
    const peeks = async () => [
      (await store.peek(requests.key, HOUR, { algorithm: 'gcra', limit: 100 })).count,
      (await store.peek(log.key, MINUTE)).count,
      (await store.peek(uploads.key, HOUR, { algorithm: 'fixed-window', limit: 3 })).count,
    ];
    expect(await peeks()).toEqual([1, 1, 2]);
    // The uploads allow 1 more: this request (2) is refused, and the others count nothing.
    const refused = await store.hit(together);
    expect(refused.map((r) => r.allowed)).toEqual([true, true, false]);
    expect(await peeks()).toEqual([1, 1, 2]);
    expect(refused[2].outcome).toMatchObject({ allowed: false, remaining: 0, waitMs: HOUR - (T0 % HOUR) });
    expect(await redis.get(store.keyOf(uploads.key, 'fixed-window'))).toMatch(new RegExp(`^b${T0 + HOUR}\\.`));
    // DRF's rule without allOrNothing: the allowed checks count though the request is refused.
    now += HOUR;
    await store.hit([{ ...uploads, cost: 3 }]);
    expect(await peeks()).toEqual([0, 0, 3]);
    expect((await store.hit([requests, log, uploads])).map((r) => r.allowed)).toEqual([true, true, false]);
    expect(await peeks()).toEqual([1, 1, 3]);
  });

  test('counted records add units past the limit (bytes sent), on every algorithm; the next check waits for them to be earned back', async () => {
    for (const algorithm of COUNTERS) {
      const key = `throttle_bytes_${algorithm}`;
      const budget = { algorithm, limit: 1000, windowMs: MINUTE };
      await store.record([{ key, windowMs: MINUTE, algorithm, limit: 1000, cost: 1500 }]);
      const [peeked] = await Promise.all([store.peek(key, MINUTE, budget)]);
      expect({ algorithm, count: peeked.count, allowed: peeked.outcome!.allowed }).toEqual({ algorithm, count: 1500, allowed: false });
      const [denied] = await store.hit([check(key, { ...budget, record: false })]);
      expect(denied.allowed).toBe(false);
      expect(denied.outcome!.waitMs).toBeGreaterThan(0);
    }
    // A sliding log takes a hit per unit.
    await store.record([{ key: 'throttle_bytes_log', windowMs: MINUTE, cost: 3 }]);
    expect(await redis.llen(store.redisKey('throttle_bytes_log'))).toBe(3);
    // Plain records keep Tastypie's mode 'r'.
    const calls = await callsOf(() => store.record([{ key: 'throttle_tastypie_1', windowMs: MINUTE }]));
    expect(calls.map((call) => call.packed)).toEqual([`r ${T0} 1e308 60000 1 =`]);
  });

  test('peek reads a counter without writing: the units in use and what a check costing 1 would get, a running block included', async () => {
    const key = 'throttle_peek_1';
    const counting = { algorithm: 'sliding-window' as const, limit: 5 };
    expect(await store.peek(key, MINUTE, counting)).toEqual({ count: 0, oldest: null, now: T0, outcome: { allowed: true, limit: 5, remaining: 4, resetMs: 120_000, waitMs: 0 } });
    expect(await redis.exists(store.keyOf(key, 'sliding-window'))).toBe(0);
    await store.hit([check(key, { ...counting, cost: 5, blockMs: HOUR })]);
    const stored = await redis.get(store.keyOf(key, 'sliding-window'));
    expect((await store.peek(key, MINUTE, counting)).outcome).toMatchObject({ allowed: false, remaining: 0 });
    await store.hit([check(key, { ...counting, blockMs: HOUR })]);
    expect((await store.peek(key, MINUTE, counting)).outcome).toEqual({ allowed: false, limit: 5, remaining: 0, resetMs: HOUR, waitMs: HOUR });
    expect(await redis.get(store.keyOf(key, 'sliding-window'))).toBe(`b${T0 + HOUR}.${stored}`);
  });

  test('reset() forgets a key under every algorithm, its pending slots and its block, in one DEL', async () => {
    const key = 'throttle_user_99';
    await store.hit([check(key, { blockMs: MINUTE, limit: 1 }), ...COUNTERS.map((algorithm) => check(key, { algorithm }))]);
    now += 1;
    await store.hit([check(key, { blockMs: MINUTE, limit: 1 })]);
    await store.hit([check(key, { record: false, reserveMs: 5000 })]);
    const names = ['throttle:throttle_user_{99}', ...['fw', 'sw', 'gc', 'pending', 'block'].map((suffix) => `throttle:throttle_user_{99}:${suffix}`)];
    expect(await redis.exists(...names)).toBe(names.length);
    const calls = await callsOf(() => store.reset(key));
    expect(calls).toEqual([{ command: 'del', packed: '', keys: names.slice(0, 4).concat(names.slice(4)) }]);
    expect(await redis.exists(...names)).toBe(0);
  });

  test('a key switched to another algorithm starts afresh, without WRONGTYPE; its old state stays in its own key until it expires', async () => {
    const key = 'throttle_switch_5';
    const seen: [string, boolean, number][] = [];
    for (const algorithm of ['sliding-log', 'fixed-window', 'gcra', 'sliding-window'] as const) {
      for (let i = 0; i < 3; i++) {
        const [result] = await store.hit([check(key, { algorithm, limit: 2 })]);
        seen.push([algorithm, result.allowed, result.count]);
      }
    }
    expect(seen).toEqual(['sliding-log', 'fixed-window', 'gcra', 'sliding-window'].flatMap((algorithm) => [[algorithm, true, 0], [algorithm, true, 1], [algorithm, false, 2]]));
    const types = await Promise.all(['sliding-log', ...COUNTERS].map((algorithm) => redis.type(store.keyOf(key, algorithm as CountingAlgorithm))));
    expect(types).toEqual(['list', 'string', 'string', 'string']);
  });

  test('a reserving check (Tastypie) beside a counter check: one call, the slot held and settled as in DRF’s modes', async () => {
    const tastypie = check('throttle_api_3', { record: false, reserveMs: 10_000, limit: 1 });
    const bytes = check('throttle_bytes_3', { algorithm: 'fixed-window', record: false, limit: 1000 });
    const [held, answered] = await store.hit([tastypie, bytes]);
    expect(held).toMatchObject({ allowed: true, count: 0 });
    expect(held.reservation).toEqual(expect.any(String));
    expect(answered.outcome).toMatchObject({ allowed: true, remaining: 999 });
    expect((await store.hit([tastypie, bytes]))[0]).toMatchObject({ allowed: false, count: 1 });
    await store.settle([{ key: tastypie.key, reservation: held.reservation!, commit: true, windowMs: MINUTE }]);
    expect((await store.peek(tastypie.key, MINUTE)).count).toBe(1);
  });

  test('bad algorithms, costs, bursts, blocks and records are refused naming the value; a foreign key at a counter’s name names the key', async () => {
    const refused = (checks: WindowCheck[]) => expect(store.hit(checks)).rejects.toThrow(ThrottleConfigError);
    await refused([check('throttle_x_1', { algorithm: 'leaky-bucket' as CountingAlgorithm })]);
    await expect(store.hit([check('throttle_x_1', { algorithm: 'leaky-bucket' as CountingAlgorithm })])).rejects.toThrow(/got 'leaky-bucket'/);
    await refused([check('throttle_x_1', { cost: 1.5 })]);
    await refused([check('throttle_x_1', { cost: 0, algorithm: 'gcra' })]);
    await refused([check('throttle_x_1', { algorithm: 'gcra', burst: -2 })]);
    await refused([check('throttle_x_1', { blockMs: Number.NaN })]);
    await expect(store.record([{ key: 'throttle_x_1', windowMs: MINUTE, algorithm: 'gcra', cost: 5 }])).rejects.toThrow(/needs its limit.*got undefined/);
    await redis.rpush('throttle:throttle_x_{2}:gc', 'not ours');
    await expect(store.hit([check('throttle_x_2', { algorithm: 'gcra' })])).rejects.toThrow('key throttle:throttle_x_{2}:gc holds a list, not a counter');
  });

  test('on the server’s time (no clock), counter keys expire when their state no longer matters', async () => {
    const live = new RedisThrottleStore(redis);
    await live.hit(COUNTERS.map((algorithm) => check('throttle_live_1', { algorithm, limit: 100, windowMs: MINUTE })));
    const [fixed, sliding, gcra] = await Promise.all(COUNTERS.map((algorithm) => redis.pttl(live.keyOf('throttle_live_1', algorithm))));
    const intoMinute = Date.now() % MINUTE;
    expect(Math.abs(fixed - (MINUTE - intoMinute))).toBeLessThan(1000);
    expect(Math.abs(sliding - (2 * MINUTE - intoMinute))).toBeLessThan(1000);
    // One unit of 100/min: the TAT is 600 ms ahead.
    expect(gcra).toBeGreaterThan(400);
    expect(gcra).toBeLessThanOrEqual(601);
  });

  test('MEMORY USAGE of an idle counter key at production names: 88 B at the usual limits, where a hash of its fields takes 120 B', async () => {
    // 'throttle:throttle_user_{123456}:fw' and its kin: 34 characters, as a DRF user key with a 6-digit id.
    const figures: string[] = [];
    const usage = (name: string) => redis.call('MEMORY', 'USAGE', name, 'SAMPLES', '0') as Promise<number>;
    for (const algorithm of COUNTERS) {
      const row: number[] = [];
      for (const limit of [10, 10_000, 10_000_000]) {
        await redis.flushall();
        const key = 'throttle_user_123456';
        // An idle key: one request, then the same key near its limit.
        await store.hit([check(key, { algorithm, limit, windowMs: HOUR })]);
        row.push(await usage(store.keyOf(key, algorithm)));
        await store.hit([check(key, { algorithm, limit, windowMs: HOUR, cost: Math.max(1, Math.floor(limit * 0.9) - 1) })]);
        row.push(await usage(store.keyOf(key, algorithm)));
      }
      figures.push(`${algorithm}: ${row.join('/')} B`);
      // One request at any of these limits, and a key near its limit at the usual ones (10, 10k per hour).
      expect({ algorithm, idle: row.filter((_, i) => i % 2 === 0) }).toEqual({ algorithm, idle: [88, 88, 88] });
      expect(Math.max(row[1], row[3])).toBeLessThanOrEqual(100);
    }
    // The hash of the same fields, at the same name, for comparison.
    await redis.hset('throttle:throttle_user_{123456}:fw', 'w', String(T0), 'n', '9');
    figures.push(`hash of two fields: ${await usage('throttle:throttle_user_{123456}:fw')} B`);
    process.stderr.write(`MEMORY USAGE per counter key (idle/near the limit at limits 10, 10k, 10M per hour): ${figures.join('; ')}\n`);
  });
});
