/**
 * ThrottlingService for support staff: buckets() lists a client's buckets among the app's throttles,
 * grant() forgives a bucket, penalize() counts extra requests; after real requests on Express and
 * Fastify, on the memory store and on Redis, with the injected clock.
 */
import { Controller, Get, type INestApplication } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import request from 'supertest';
import {
  AnonThrottle,
  CacheThrottle,
  RedisThrottleStore,
  ScopedThrottle,
  ThrottleClasses,
  ThrottleConfigError,
  ThrottleScope,
  type ThrottleStore,
  ThrottlingService,
  UserThrottle,
} from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { PLATFORMS, startApp } from '../support/http-app.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';
import { testModule } from '../support/test-app.js';
import { deleteKeys, runPrefix } from '../redis/support/redis-keys.js';

const Burst = UserThrottle.with({ scope: 'burst', rate: '4/min' });
const Logins = CacheThrottle.with({ throttleAt: 2, timeframe: 60, expiration: 120, scope: 'login' });

@Controller()
class ApiController {
  @Get('minute')
  minute() {
    return { ok: true };
  }

  @Get('upload')
  @ThrottleClasses(ScopedThrottle)
  @ThrottleScope('uploads')
  upload() {
    return { ok: true };
  }

  @Get('search')
  @ThrottleClasses(ScopedThrottle, Burst)
  @ThrottleScope('search')
  search() {
    return { ok: true };
  }

  @Get('login')
  @ThrottleClasses(Logins)
  login() {
    return { ok: true };
  }

  @Get('open')
  @ThrottleClasses()
  open() {
    return { ok: true };
  }
}

const rates = { anon: '3/min', user: '5/min', uploads: '2/min', search: '10/hour' };
const redisRuns = await serviceAvailable('Redis', REDIS_URL);
const prefix = runPrefix('admin');
let redis: Redis | undefined;
let appCounter = 0;

beforeAll(() => {
  if (redisRuns) redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  if (redis === undefined) return;
  await deleteKeys(prefix);
  redis.disconnect();
});

const stores: [string, ((clock: FakeClock) => ThrottleStore) | undefined][] = [
  ['the memory store', undefined],
  ...(redisRuns ? [['Redis', (clock: FakeClock) => new RedisThrottleStore(redis!, { keyPrefix: `${prefix}${++appCounter}:`, clock: clock.read })] as [string, (clock: FakeClock) => ThrottleStore]] : []),
];

describe.each(PLATFORMS)('support staff on %s', (platform) => {
  describe.each(stores)('with %s', (_name, makeStore) => {
    let app: INestApplication | undefined;
    afterEach(async () => {
      await app?.close();
      app = undefined;
    });

    async function boot() {
      const clock = new FakeClock();
      clock.set(1_700_000_000);
      const store = makeStore?.(clock);
      app = await startApp(platform, testModule({ options: { rates, clock: clock.read, defaultThrottles: [AnonThrottle, UserThrottle], ...(store ? { store } : {}) }, controllers: [ApiController] }));
      return { clock, server: app.getHttpServer(), service: app.get(ThrottlingService) };
    }

    test("buckets() lists exactly the app's buckets of a user, each with the counts its requests left", async () => {
      const { clock, server, service } = await boot();
      const start = clock.now;
      await request(server).get('/minute').set('x-user-id', 'alice').expect(200);
      clock.advance(10);
      await request(server).get('/minute').set('x-user-id', 'alice').expect(200);
      await request(server).get('/upload').set('x-user-id', 'alice').expect(200);
      await request(server).get('/search').set('x-user-id', 'alice').expect(200);
      await request(server).get('/login').set('x-user-id', 'alice').expect(200);
      await request(server).get('/open').set('x-user-id', 'alice').expect(200);
      await request(server).get('/minute').set('x-user-id', 'bob').expect(200);
      clock.advance(5);

      const buckets = await service.buckets({ identity: 'alice' });
      const byKey = Object.fromEntries(buckets.map(({ key, ...rest }) => [key, rest]));
      expect(Object.keys(byKey).sort()).toEqual([
        'tastypie:login:alice_accesses',
        'throttle_anon_alice',
        'throttle_burst_alice',
        'throttle_search_alice',
        'throttle_uploads_alice',
        'throttle_user_alice',
      ]);
      expect(byKey.throttle_user_alice).toEqual({ throttle: 'UserThrottle', scope: 'user', limit: 5, windowMs: 60_000, count: 2, remaining: 3, oldest: start, now: start + 15_000, resetsInMs: 45_000 });
      expect(byKey.throttle_anon_alice).toMatchObject({ throttle: 'AnonThrottle', scope: 'anon', limit: 3, count: 0, remaining: 3, oldest: null, resetsInMs: 0 });
      expect(byKey.throttle_uploads_alice).toMatchObject({ throttle: 'ScopedThrottle', scope: 'uploads', limit: 2, count: 1, remaining: 1, resetsInMs: 55_000 });
      expect(byKey.throttle_search_alice).toMatchObject({ throttle: 'ScopedThrottle', scope: 'search', limit: 10, windowMs: 3_600_000, count: 1 });
      expect(byKey.throttle_burst_alice).toMatchObject({ throttle: 'UserThrottle(burst, 4/min)', scope: 'burst', limit: 4, count: 1 });
      expect(byKey['tastypie:login:alice_accesses']).toMatchObject({ scope: 'login', limit: 2, windowMs: 60_000, count: 1, remaining: 1 });
      expect((await service.buckets({ identity: 'alice' }, { scope: 'uploads' })).map((bucket) => bucket.key)).toEqual(['throttle_uploads_alice']);
    });

    test("buckets() of an address are the anonymous client's, counted by the guard", async () => {
      const { server, service } = await boot();
      for (let i = 0; i < 2; i++) await request(server).get('/minute').expect(200);
      const buckets = await service.buckets({ ip: '127.0.0.1', headers: {} });
      const counts = Object.fromEntries(buckets.map((bucket) => [bucket.key, bucket.count]));
      expect(counts).toMatchObject({ 'throttle_anon_127.0.0.1': 2, 'throttle_user_127.0.0.1': 2, 'throttle_uploads_127.0.0.1': 0 });
    });

    test('grant() lets a throttled client through again, and counts from zero', async () => {
      const { server, service } = await boot();
      for (let i = 0; i < 2; i++) await request(server).get('/upload').set('x-user-id', 'alice').expect(200);
      await request(server).get('/upload').set('x-user-id', 'alice').expect(429);
      const state = await service.grant({ identity: 'alice' }, ScopedThrottle, { scope: 'uploads' });
      expect(state).toMatchObject({ key: 'throttle_uploads_alice', count: 0, remaining: 2 });
      for (let i = 0; i < 2; i++) await request(server).get('/upload').set('x-user-id', 'alice').expect(200);
      await request(server).get('/upload').set('x-user-id', 'alice').expect(429);
    });

    test('penalize() with requests throttles sooner; without, it fills the window until it frees', async () => {
      const { clock, server, service } = await boot();
      await request(server).get('/minute').set('x-user-id', 'alice').expect(200);
      expect(await service.penalize({ identity: 'alice' }, UserThrottle, { requests: 3 })).toMatchObject({ count: 4, remaining: 1 });
      await request(server).get('/minute').set('x-user-id', 'alice').expect(200);
      await request(server).get('/minute').set('x-user-id', 'alice').expect(429);

      expect(await service.penalize({ identity: 'bob' }, UserThrottle)).toMatchObject({ count: 5, remaining: 0 });
      const denied = await request(server).get('/minute').set('x-user-id', 'bob').expect(429);
      expect(denied.headers['retry-after']).toBe('60');
      clock.advance(59);
      await request(server).get('/minute').set('x-user-id', 'bob').expect(429);
      clock.advance(1);
      await request(server).get('/minute').set('x-user-id', 'bob').expect(200);
    });

    test("penalize() on a Tastypie throttle records accesses that lock the client out for the timeframe", async () => {
      const { clock, server, service } = await boot();
      await service.penalize({ identity: 'alice' }, Logins);
      await request(server).get('/login').set('x-user-id', 'alice').expect(429);
      clock.advance(60);
      await request(server).get('/login').set('x-user-id', 'alice').expect(200);
    });
  });
});

describe('support staff: throttles used by hand, and bad input', () => {
  let app: INestApplication | undefined;
  beforeAll(async () => {
    app = await startApp('express', testModule({ options: { rates }, controllers: [ApiController] }));
  });
  afterAll(async () => {
    await app?.close();
  });

  test('a bad target, spec or count is refused with an error that names it', async () => {
    const service = app!.get(ThrottlingService);
    await expect(service.buckets(null as never)).rejects.toThrow(new TypeError('ThrottlingService: the target must be a request or { identity }, got null'));
    await expect(service.buckets({ identity: '' })).rejects.toThrow(TypeError);
    await expect(service.grant({ identity: 'a' }, { rate: '1/min' } as never)).rejects.toThrow(ThrottleConfigError);
    await expect(service.grant({ identity: 'a' }, UserThrottle, { requests: 2 } as never)).rejects.toThrow(/grant\(\): forgives the whole window, so it takes no requests count \(got 2\)/);
    for (const requests of [0, -1, 1.5, Number.NaN, '3']) {
      await expect(service.penalize({ identity: 'a' }, UserThrottle, { requests: requests as number })).rejects.toThrow(/ThrottlingService\.penalize\(\): requests must be a whole number of at least 1, got/);
    }
    await expect(service.penalize({ identity: 'a' }, AnonThrottle, { requests: 1 })).resolves.toMatchObject({ count: 1 });
    await expect(service.penalize({ identity: 'a' }, ScopedThrottle)).rejects.toThrow('ThrottlingService: ScopedThrottle does not throttle this target, so it has no bucket');
  });

  test('buckets() also lists a throttle class used only through ThrottlingService, once it has been used; a { scope, rate } spec is not kept', async () => {
    const service = app!.get(ThrottlingService);
    const ByHand = CacheThrottle.with({ throttleAt: 3, timeframe: 60, scope: 'by-hand' });
    const keys = async () => (await service.buckets({ identity: 'dora' })).map((bucket) => bucket.key);
    expect(await keys()).not.toContain('tastypie:by-hand:dora_accesses');
    await service.accessed({ identity: 'dora' }, ByHand);
    await service.check({ identity: 'dora' }, { scope: 'computed', rate: '7/min' });
    expect(await keys()).toContain('tastypie:by-hand:dora_accesses');
    expect(await keys()).not.toContain('throttle_computed_dora');
    expect((await service.buckets({ identity: 'dora' }, { scope: 'by-hand' }))[0]).toMatchObject({ count: 1, limit: 3, remaining: 2 });
  });

  test('penalize() records at most the limit: more would change no decision', async () => {
    const service = app!.get(ThrottlingService);
    expect(await service.penalize({ identity: 'c' }, UserThrottle, { requests: 1_000_000 })).toMatchObject({ count: 5, remaining: 0 });
  });
});
