/**
 * The brute-force lock under concurrency: 200 wrong passwords at once against
 * CacheThrottle.with({ throttleAt: 5, timeframe: 900 }) through ThrottlingService.attempt() check
 * exactly 5 passwords, on every store that runs in one process (Redis across processes: see
 * test/redis/redis-multi-process.spec.ts).
 */
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import KeyvRedis from '@keyv/redis';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import { CacheManagerThrottleStore, CacheThrottle, MemoryThrottleStore, type ThrottleStore, ThrottlingModule, ThrottlingService } from '../../lib/index.js';
import { deleteKeys, runPrefix } from '../redis/support/redis-keys.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';

const LoginThrottle = CacheThrottle.with({ throttleAt: 5, timeframe: 900, scope: 'login' });
const redisRuns = await serviceAvailable('Redis', REDIS_URL);
const prefix = runPrefix('attempts');

/** Boots ThrottlingService on the store and runs `attempts` concurrent logins with a wrong password; returns the password checks made. */
async function concurrentWrongPasswords(store: ThrottleStore, attempts: number, identity: string): Promise<{ checked: number; throttled: number; recorded: number }> {
  @Module({ imports: [ThrottlingModule.forRoot({ store })] })
  class LoginModule {}
  const app = await NestFactory.createApplicationContext(LoginModule, { logger: false });
  try {
    const throttling = app.get(ThrottlingService);
    let checked = 0;
    let throttled = 0;
    const login = async () => {
      let attempt;
      try {
        attempt = await throttling.attempt({ identity }, LoginThrottle);
      } catch (error) {
        if ((error as { status?: number }).status !== 429) throw error;
        throttled++;
        return;
      }
      checked++;
      // The password check takes a while (a hash), during which the other attempts arrive.
      await new Promise<void>((resolve) => setTimeout(resolve, 20));
      await attempt.commit();
    };
    await Promise.all(Array.from({ length: attempts }, login));
    const recorded = (await throttling.peek({ identity }, LoginThrottle)).count;
    return { checked, throttled, recorded };
  } finally {
    await app.close();
  }
}

describe('200 concurrent wrong passwords through ThrottlingService.attempt() check exactly throttleAt passwords', () => {
  test('on the memory store', async () => {
    expect(await concurrentWrongPasswords(new MemoryThrottleStore(), 200, 'alice')).toEqual({ checked: 5, throttled: 195, recorded: 5 });
  });

  test('on the cache-manager store over an in-memory Keyv cache', async () => {
    expect(await concurrentWrongPasswords(new CacheManagerThrottleStore(createCache()), 200, 'alice')).toEqual({ checked: 5, throttled: 195, recorded: 5 });
  });

  (redisRuns ? describe : describe.skip)('on the cache-manager store over a Redis-backed Keyv cache (atomic path)', () => {
    let keyv: KeyvRedis<unknown>;
    beforeAll(() => {
      keyv = new KeyvRedis(REDIS_URL);
    });
    afterAll(async () => {
      await deleteKeys(prefix);
      await keyv.disconnect();
    });

    test('exactly 5 checked', async () => {
      const store = new CacheManagerThrottleStore(createCache({ stores: [new Keyv({ store: keyv, namespace: `${prefix}ns` })] }));
      expect(await concurrentWrongPasswords(store, 200, 'alice')).toEqual({ checked: 5, throttled: 195, recorded: 5 });
    });
  });
});
