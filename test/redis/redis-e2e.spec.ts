import { Controller, Get, type INestApplication } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import request from 'supertest';
import { AnonThrottle, RedisThrottleStore, ThrottleClasses, ThrottleScope, ScopedThrottle, UserThrottle, type ThrottlingModuleOptions } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { PLATFORMS, startApp } from '../support/http-app.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';
import { testModule } from '../support/test-app.js';
import { deleteKeys, runPrefix } from './support/redis-keys.js';
import { RedisServerProcess } from './support/redis-server-process.js';

const runs = await serviceAvailable('Redis', REDIS_URL);
const suite = runs ? describe : describe.skip;
const prefix = runPrefix('e2e');

@Controller()
class ApiController {
  @Get('pair')
  @ThrottleClasses(UserThrottle.with({ scope: 'burst', rate: '3/sec' }), UserThrottle.with({ scope: 'sustained', rate: '6/min' }))
  pair() {
    return { ok: true };
  }

  @Get('minute')
  @ThrottleClasses(AnonThrottle, UserThrottle)
  minute() {
    return { ok: true };
  }

  @Get('upload')
  @ThrottleClasses(ScopedThrottle)
  @ThrottleScope('uploads')
  upload() {
    return { ok: true };
  }
}

const rates = { anon: '3/min', user: '5/min', uploads: '2/min' };
let appCounter = 0;

suite.each(PLATFORMS)('RedisThrottleStore through Nest on %s', (platform) => {
  let redis: Redis;
  let app: INestApplication | undefined;

  const boot = async (options: ThrottlingModuleOptions) => {
    app = await startApp(platform, testModule({ options: { rates, ...options }, controllers: [ApiController] }));
    return app.getHttpServer();
  };
  const freshPrefix = () => `${prefix}${platform}:${++appCounter}:`;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  afterAll(async () => {
    await deleteKeys(`${prefix}${platform}:`);
    redis.disconnect();
  });

  test('DRF pair 3/sec + 6/min: Retry-After 1, then 59 and 58 (store clock driven by the test)', async () => {
    const clock = new FakeClock();
    clock.set(1_700_000_000);
    const server = await boot({ store: new RedisThrottleStore(redis, { keyPrefix: freshPrefix(), clock: clock.read }), clock: clock.read });
    for (let i = 0; i < 3; i++) await request(server).get('/pair').expect(200);
    const burst = await request(server).get('/pair').expect(429);
    expect(burst.headers['retry-after']).toBe('1');
    expect(burst.body.message).toBe('Request was throttled. Expected available in 1 second.');
    // Four requests in the first second (one throttled by 3/sec) were all counted by 6/min.
    clock.advance(1);
    for (let i = 0; i < 2; i++) await request(server).get('/pair').expect(200);
    const sustained = await request(server).get('/pair').expect(429);
    expect(sustained.headers['retry-after']).toBe('59');
    clock.advance(1);
    expect((await request(server).get('/pair').expect(429)).headers['retry-after']).toBe('58');
  });

  test('on the server clock: anon 3/min admits three, then 429 with Retry-After 60 and RateLimit headers', async () => {
    const server = await boot({ store: new RedisThrottleStore(redis, { keyPrefix: freshPrefix() }) });
    for (let i = 0; i < 3; i++) await request(server).get('/minute').expect(200);
    const denied = await request(server).get('/minute').expect(429);
    // 60 s minus the (real) time the four requests took: 60, or 59 on a very slow machine.
    expect(['60', '59']).toContain(denied.headers['retry-after']);
    expect(denied.headers['ratelimit-policy']).toBeDefined();
    // The user throttle recorded every request too (DRF: all throttles see every request).
    const store = new RedisThrottleStore(redis, { keyPrefix: `${prefix}${platform}:${appCounter}:` });
    expect((await store.peek('throttle_user_127.0.0.1', 60_000)).count).toBe(4);
  });

  test('authenticated users are counted per user, in one bucket across routes of a scope', async () => {
    const server = await boot({ store: new RedisThrottleStore(redis, { keyPrefix: freshPrefix() }) });
    for (let i = 0; i < 2; i++) await request(server).get('/upload').set('x-user-id', 'alice').expect(200);
    await request(server).get('/upload').set('x-user-id', 'alice').expect(429);
    await request(server).get('/upload').set('x-user-id', 'bob').expect(200);
  });

  test('an identity longer than the bound is hashed, so the client does not choose the key size', async () => {
    const keyPrefix = freshPrefix();
    const server = await boot({ store: new RedisThrottleStore(redis, { keyPrefix }) });
    await request(server).get('/upload').set('x-user-id', 'u'.repeat(5000)).expect(200);
    const keys = await redis.keys(`${keyPrefix}*`);
    expect(keys).toHaveLength(1);
    expect(keys[0].length).toBeLessThan(keyPrefix.length + 100);
  });

  describe('when Redis fails', () => {
    let broken: RedisServerProcess;
    let brokenClient: Redis;

    beforeAll(async () => {
      broken = await RedisServerProcess.start();
      // disconnectTimeout: a socket to the killed server may never close by itself; ioredis waits 2 s by default.
      brokenClient = new Redis(broken.url, { maxRetriesPerRequest: 1, connectTimeout: 200, retryStrategy: () => 100, disconnectTimeout: 50 });
      brokenClient.on('error', () => undefined);
      await brokenClient.ping();
      await broken.kill();
    });
    afterAll(async () => {
      brokenClient.disconnect();
      await broken.stop();
    });

    const failing = (onStoreError: 'allow' | 'deny' | 'local'): ThrottlingModuleOptions => ({
      store: new RedisThrottleStore(brokenClient, { keyPrefix: freshPrefix() }),
      onStoreError,
      storeTimeout: 50,
    });

    test("onStoreError 'deny' answers 503 Service Unavailable, never 429 or 500, with a Retry-After of the next probe", async () => {
      const server = await boot(failing('deny'));
      for (let i = 0; i < 3; i++) {
        const response = await request(server).get('/minute').expect(503);
        // The module probes Redis again once a second: that is when to come back.
        expect(response.headers['retry-after']).toBe('1');
      }
    });

    test("onStoreError 'allow' lets every request through", async () => {
      const server = await boot(failing('allow'));
      for (let i = 0; i < 6; i++) await request(server).get('/minute').expect(200);
    });

    test("onStoreError 'local' (the default) keeps limiting, in this process", async () => {
      const server = await boot({ ...failing('local'), onStoreError: undefined });
      for (let i = 0; i < 3; i++) await request(server).get('/minute').expect(200);
      expect(['60', '59']).toContain((await request(server).get('/minute').expect(429)).headers['retry-after']);
    });

    test('routes without throttles never touch the store', async () => {
      const server = await boot({ ...failing('deny'), defaultThrottles: [] });
      // No throttles on the route: no store call, so no 503.
      await request(server).get('/nothing').expect(404);
    });
  });
});
