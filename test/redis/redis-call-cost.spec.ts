import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { RedisThrottleStore, type HitResult, type WindowState } from '../../lib/index.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';
import { RedisServerProcess } from './support/redis-server-process.js';

// SLOWLOG on a redis-server of this suite's own: every command is logged there, and nobody else's.
const runs = await serviceAvailable('Redis', REDIS_URL);
const suite = runs ? describe : describe.skip;

const HOUR = 3_600_000;
const HITS = 1_000_000;
const T0 = 1_700_000_000_000;
/** The i-th hit of the full window: a million spread over the hour before T0 + HOUR. */
const hitTime = (i: number) => T0 + Math.floor((i * HOUR) / HITS);

/** lib/core/sliding-log.ts's rules on a plain sorted array: the reference the store must match. */
class ReferenceLog {
  private start = 0;
  constructor(private readonly times: number[]) {}
  private firstAfter(cutoff: number): number {
    let low = this.start;
    let high = this.times.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.times[mid] <= cutoff) low = mid + 1;
      else high = mid;
    }
    return low;
  }
  hit(limit: number, windowMs: number, now: number): { allowed: boolean; count: number; oldest: number | null } {
    this.start = this.firstAfter(now - windowMs);
    const count = this.times.length - this.start;
    const oldest = count === 0 ? null : this.times[this.start];
    if (count >= limit) return { allowed: false, count, oldest };
    this.times.push(now);
    return { allowed: true, count, oldest };
  }
  peek(windowMs: number, now: number): { count: number; oldest: number | null } {
    const first = this.firstAfter(now - windowMs);
    return { count: this.times.length - first, oldest: first === this.times.length ? null : this.times[first] };
  }
  record(windowMs: number, now: number): void {
    this.start = this.firstAfter(now - windowMs);
    this.times.push(now);
  }
}

suite('one call holds Redis for a few milliseconds at most, whatever the limit (SLOWLOG)', () => {
  let server: RedisServerProcess;
  let redis: Redis;

  beforeAll(async () => {
    server = await RedisServerProcess.start();
    redis = new Redis(server.url);
    await redis.config('SET', 'slowlog-log-slower-than', '0');
    await redis.config('SET', 'slowlog-max-len', '10000');
  }, 30_000);
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  test('a 1,000,000-hit window at 1,000,000/hour sliding out: every script call under 5 ms, every count exact', async () => {
    let now = T0 + HOUR;
    const store = new RedisThrottleStore(redis, { keyPrefix: 'cost:', clock: () => now });
    const key = 'throttle_huge_1';
    const redisKey = store.redisKey(key);
    // The full window, built directly in the script's format (times in ms, oldest first).
    const times = Array.from({ length: HITS }, (_, i) => hitTime(i));
    for (let i = 0; i < HITS; i += 10_000) await redis.rpush(redisKey, ...times.slice(i, i + 10_000).map(String));
    await redis.pexpire(redisKey, 2 * HOUR);
    const reference = new ReferenceLog(times);
    const LIMIT = 1_000_000;
    const check = { key, limit: LIMIT, windowMs: HOUR, record: true };
    await redis.slowlog('RESET');

    const same = (actual: HitResult | WindowState, expected: { count: number; oldest: number | null; allowed?: boolean }, at: number) =>
      expect({ at, ...actual, now: undefined }).toEqual({ at, ...expected, now: undefined });

    // Full: denied. Then the window slides: a few hits out, a quarter, then the whole window at once.
    const steps = [0, 1_000, 1_001, HOUR / 4, HOUR / 4, HOUR / 4 + 10, HOUR / 2, HOUR, HOUR + 1, HOUR + 2];
    for (const step of steps) {
      now = T0 + HOUR + step;
      for (let i = 0; i < 3; i++) {
        const [result] = await store.hit([check]);
        same(result, reference.hit(LIMIT, HOUR, now), now);
        same(await store.peek(key, HOUR), reference.peek(HOUR, now), now);
      }
      // Tastypie's accessed (the 'r' mode): drops by the same bound.
      await store.record([{ key, windowMs: HOUR }]);
      reference.record(HOUR, now);
      same(await store.peek(key, HOUR), reference.peek(HOUR, now), now);
    }

    const entries = (await redis.slowlog('GET', '-1')) as [number, number, number, string[]][];
    const scripts = entries.filter(([, , , args]) => /^eval/i.test(args[0]));
    const slowestMs = Math.max(...scripts.map(([, , micros]) => micros)) / 1000;
    expect(slowestMs).toBeLessThan(5);
    expect(scripts.length).toBeGreaterThanOrEqual(steps.length * 8);
  }, 120_000);
});
