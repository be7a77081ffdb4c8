/**
 * Algorithms, burst, cost and blockFor through real HTTP on Express and Fastify, on the default
 * memory store, with the module's fake clock: the status, Retry-After, DRF's message and the IETF
 * headers each algorithm gives, gcra's burst, @ThrottleCost consumed all or nothing across the
 * throttles of a request, a block that outlasts the window, and the module-wide algorithm.
 */
import { Controller, Get } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import request from 'supertest';
import {
  CacheThrottle,
  type CountingAlgorithm,
  RedisThrottleStore,
  ThrottleClasses,
  ThrottleCost,
  type ThrottlingModuleOptions,
  ThrottlingService,
  type ThrottleStore,
  UserThrottle,
} from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { appPerTest, PLATFORMS, type Platform } from '../support/http-app.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';
import { testModule } from '../support/test-app.js';
import { deleteKeys, runPrefix } from '../redis/support/redis-keys.js';

// The memory store the module builds, and Redis (its script on the test's clock) where it runs.
type StoreKind = 'memory' | 'redis';
const STORES: StoreKind[] = (await serviceAvailable('Redis', REDIS_URL)) ? ['memory', 'redis'] : ['memory'];
const prefix = runPrefix('algorithms-e2e');
let redis: Redis | undefined;
let apps = 0;
beforeAll(() => {
  if (STORES.includes('redis')) redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  if (redis === undefined) return;
  await deleteKeys(prefix);
  redis.disconnect();
});

// 6,000 s since the epoch: a whole number of minutes, so fixed windows start with the test.
const START = 6_000;

const perAlgorithm = {
  'sliding-log': UserThrottle.with({ scope: 'log', rate: '3/min', algorithm: 'sliding-log' }),
  'sliding-window': UserThrottle.with({ scope: 'window', rate: '3/min', algorithm: 'sliding-window' }),
  gcra: UserThrottle.with({ scope: 'gcra', rate: '3/min', algorithm: 'gcra' }),
  'fixed-window': UserThrottle.with({ scope: 'fixed', rate: '3/min', algorithm: 'fixed-window' }),
};

@Controller('algo')
class AlgorithmController {
  @Get('sliding-log') @ThrottleClasses(perAlgorithm['sliding-log']) log() { return 'ok'; }
  @Get('sliding-window') @ThrottleClasses(perAlgorithm['sliding-window']) window() { return 'ok'; }
  @Get('gcra') @ThrottleClasses(perAlgorithm.gcra) gcra() { return 'ok'; }
  @Get('fixed-window') @ThrottleClasses(perAlgorithm['fixed-window']) fixed() { return 'ok'; }
  // 6/min, 2 at once: one every 10 s, the burst refilled in 20 s.
  @Get('burst') @ThrottleClasses(UserThrottle.with({ scope: 'bursty', rate: '6/min', algorithm: 'gcra', burst: 2 })) burst() { return 'ok'; }
}

const Exports = UserThrottle.with({ scope: 'exports', rate: '10/min', algorithm: 'fixed-window' });
const Minute = UserThrottle.with({ scope: 'minute', rate: '10/min' });
const Hourly = UserThrottle.with({ scope: 'hourly', rate: '5/hour', algorithm: 'gcra' });

@Controller('cost')
@ThrottleClasses(Exports)
class CostController {
  @Get('export') @ThrottleCost(4) export() { return 'ok'; }
  @Get('read') read() { return 'ok'; }
  // Two throttles, one weighed request: consumed by both or by neither.
  @Get('both') @ThrottleCost(3) @ThrottleClasses(Minute, Hourly) both() { return 'ok'; }
  @Get('both-free') @ThrottleClasses(Minute, Hourly) bothFree() { return 'ok'; }
}

@Controller('login')
class LoginController {
  @Get('fixed') @ThrottleClasses(UserThrottle.with({ scope: 'login-fixed', rate: '3/min', algorithm: 'fixed-window', blockFor: 300 })) fixed() { return 'ok'; }
  @Get('log') @ThrottleClasses(UserThrottle.with({ scope: 'login-log', rate: '3/min', blockFor: 300 })) log() { return 'ok'; }
}

@Controller('defaults')
class DefaultsController {
  @Get() list() { return 'ok'; }
  @Get('tastypie') @ThrottleClasses(CacheThrottle.with({ throttleAt: 2, timeframe: 60 })) tastypie() { return 'ok'; }
}

const RUNS = PLATFORMS.flatMap((platform) => STORES.map((store) => [platform, store] as const));

describe.each(RUNS)('algorithms and cost on %s, %s store', (platform: Platform, storeKind: StoreKind) => {
  const started = appPerTest(platform);

  async function boot(options: ThrottlingModuleOptions = {}) {
    const clock = new FakeClock();
    clock.set(START);
    const store: ThrottleStore | undefined = storeKind === 'redis' ? new RedisThrottleStore(redis!, { keyPrefix: `${prefix}${++apps}:`, clock: clock.read }) : undefined;
    const controllers = [AlgorithmController, CostController, LoginController, DefaultsController];
    const app = await started.start(testModule({ options: { clock: clock.read, ...(store === undefined ? {} : { store }), ...options }, controllers }));
    const get = (path: string) => request(app.getHttpServer()).get(path);
    return { clock, get, service: app.get(ThrottlingService) };
  }

  const expectThrottled = (response: request.Response, seconds: number) => {
    expect(response.status).toBe(429);
    expect(response.headers['retry-after']).toBe(String(seconds));
    expect(response.body.message).toBe(`Request was throttled. Expected available in ${seconds} second${seconds === 1 ? '' : 's'}.`);
  };

  // Three requests at once on 3/min, then the fourth: what each algorithm tells the client.
  test.each([
    // DRF: the oldest hit's 60 s shared among the 1 request left.
    ['sliding-log', 60, '"log";q=3;w=60', '"log";r=0;t=60'],
    // The previous window's 3 must weigh at most 2: 1/3 into the next window.
    ['sliding-window', 80, '"window";q=3;w=60', '"window";r=0;t=80'],
    // One unit every 20 s: the first is back after 20 s.
    ['gcra', 20, '"gcra";q=3;w=60', '"gcra";r=0;t=20'],
    // Everything comes back when the window ends.
    ['fixed-window', 60, '"fixed";q=3;w=60', '"fixed";r=0;t=60'],
  ] as const)('%s: the fourth of three at once is a 429 with Retry-After %i', async (algorithm, wait, policy, state) => {
    const { get, clock } = await boot();
    const path = `/algo/${algorithm as CountingAlgorithm}`;
    for (let i = 0; i < 3; i++) expect((await get(path)).status).toBe(200);
    const refused = await get(path);
    expectThrottled(refused, wait);
    expect(refused.headers['ratelimit-policy']).toBe(policy);
    expect(refused.headers.ratelimit).toBe(state);

    clock.advance(wait - 1);
    expect((await get(path)).status).toBe(429);
    clock.advance(1);
    expect((await get(path)).status).toBe(200);
  });

  test('the headers of an allowed request count down in each algorithm', async () => {
    const { get } = await boot();
    const first = await get('/algo/gcra');
    expect(first.headers['ratelimit-policy']).toBe('"gcra";q=3;w=60');
    expect(first.headers.ratelimit).toBe('"gcra";r=2;t=20');
    const fixed = await get('/algo/fixed-window');
    expect(fixed.headers.ratelimit).toBe('"fixed";r=2;t=60');
    const window = await get('/algo/sliding-window');
    expect(window.headers.ratelimit).toMatch(/^"window";r=2;t=\d+$/);
  });

  test('gcra burst: two at once, then one every 10 s; the policy window is the burst refill time', async () => {
    const { get, clock } = await boot();
    const first = await get('/algo/burst');
    expect(first.headers['ratelimit-policy']).toBe('"bursty";q=2;w=20');
    expect(first.headers.ratelimit).toBe('"bursty";r=1;t=10');
    expect((await get('/algo/burst')).status).toBe(200);
    expectThrottled(await get('/algo/burst'), 10);
    clock.advance(10);
    expect((await get('/algo/burst')).status).toBe(200);
    expectThrottled(await get('/algo/burst'), 10);
    // Idle for the whole refill time: the burst is back.
    clock.advance(20);
    expect((await get('/algo/burst')).status).toBe(200);
    expect((await get('/algo/burst')).status).toBe(200);
    expect((await get('/algo/burst')).status).toBe(429);
  });

  test('@ThrottleCost(4) consumes 4 of the limit; a refused weighed request leaves room for a cheaper one', async () => {
    const { get } = await boot();
    expect((await get('/cost/export')).headers.ratelimit).toBe('"exports";r=6;t=60');
    expect((await get('/cost/export')).headers.ratelimit).toBe('"exports";r=2;t=60');
    const refused = await get('/cost/export');
    expectThrottled(refused, 60);
    // Refused, it consumed nothing: 2 units are left, and a plain read takes 1 of them.
    expect(refused.headers.ratelimit).toBe('"exports";r=2;t=60');
    expect((await get('/cost/read')).headers.ratelimit).toBe('"exports";r=1;t=60');
  });

  test('a weighed request denied by one throttle consumes nothing from the others', async () => {
    const { get, service } = await boot();
    const who = { identity: '127.0.0.1' };
    // Hourly (gcra 5/hour): 3 + 3 > 5, so the second weighed request is refused by Hourly alone.
    expect((await get('/cost/both')).status).toBe(200);
    const refused = await get('/cost/both');
    expect(refused.status).toBe(429);
    // Minute (a sliding log, 10/min) allowed it, yet counted nothing: 3 units used, not 6.
    expect(await service.peek(who, Minute)).toMatchObject({ count: 3, remaining: 7 });
    expect(await service.peek(who, Hourly)).toMatchObject({ remaining: 2, algorithm: 'gcra', limit: 5 });
    // A request without a cost keeps DRF's rule: each throttle that allows counts it.
    expect((await get('/cost/both-free')).status).toBe(200);
    expect(await service.peek(who, Minute)).toMatchObject({ count: 4 });
  });

  test.each(['fixed', 'log'])('blockFor (%s): once denied, refused for 300 s, and a refusal meanwhile does not extend the block', async (kind) => {
    const { get, clock } = await boot();
    const path = `/login/${kind}`;
    for (let i = 0; i < 3; i++) expect((await get(path)).status).toBe(200);
    const blocked = await get(path);
    expectThrottled(blocked, 300);
    expect(blocked.headers.ratelimit).toBe(`"login-${kind}";r=0;t=300`);
    // Long after the window, still blocked; retrying then does not move the end of the block.
    clock.advance(200);
    expectThrottled(await get(path), 100);
    clock.advance(99);
    expectThrottled(await get(path), 1);
    clock.advance(1);
    expect((await get(path)).status).toBe(200);
  });

  test("the module's algorithm applies to the default throttles; Tastypie throttles keep their access log", async () => {
    const { get, clock } = await boot({ algorithm: 'fixed-window', defaultThrottles: [UserThrottle], rates: { user: '2/min' } });
    clock.advance(50);
    expect((await get('/defaults')).status).toBe(200);
    expect((await get('/defaults')).status).toBe(200);
    // A fixed window ends on the minute: 10 s, where DRF's log would say 60.
    const refused = await get('/defaults');
    expectThrottled(refused, 10);
    expect(refused.headers['ratelimit-policy']).toBe('"user";q=2;w=60');
    clock.advance(10);
    expect((await get('/defaults')).status).toBe(200);

    // CacheThrottle: 2 accesses in 60 s, counted after the handler, the third waits for the first to leave.
    expect((await get('/defaults/tastypie')).status).toBe(200);
    clock.advance(15);
    expect((await get('/defaults/tastypie')).status).toBe(200);
    expectThrottled(await get('/defaults/tastypie'), 45);
  });

  test('ThrottlingService reads, penalizes and grants a gcra bucket in units', async () => {
    const { get, service } = await boot();
    const who = { identity: '127.0.0.1' };
    const Gcra = perAlgorithm.gcra;
    await get('/algo/gcra');
    expect(await service.peek(who, Gcra)).toMatchObject({ key: 'throttle_gcra_127.0.0.1', algorithm: 'gcra', limit: 3, remaining: 2, resetsInMs: 20_000 });
    expect(await service.penalize(who, Gcra)).toMatchObject({ remaining: 0 });
    expectThrottled(await get('/algo/gcra'), 20);
    expect(await service.grant(who, Gcra)).toMatchObject({ remaining: 3 });
    expect((await get('/algo/gcra')).status).toBe(200);
    expect((await service.buckets(who, { scope: 'gcra' }))[0]).toMatchObject({ throttle: 'UserThrottle(gcra, 3/min, gcra)', algorithm: 'gcra', remaining: 2 });
  });

  test('a { scope, rate, algorithm, blockFor } spec counts as a throttle with those options would', async () => {
    const { service, clock } = await boot();
    const login = { scope: 'by-hand', rate: '2/min', algorithm: 'fixed-window', blockFor: 120 } as const;
    const who = { identity: 'mallory' };
    expect((await service.check(who, login)).allowed).toBe(true);
    expect((await service.check(who, login)).allowed).toBe(true);
    expect(await service.check(who, login)).toMatchObject({ allowed: false, retryAfter: 120 });
    clock.advance(60);
    expect(await service.check(who, login)).toMatchObject({ allowed: false, retryAfter: 60 });
    expect(await service.check(who, login, { cost: 3 })).toMatchObject({ allowed: false, wait: 60 });
  });
});
