import { CACHE_MANAGER, CacheModule } from '@nestjs/cache-manager';
import { Controller, Get } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { CacheManagerThrottleStore, ThrottleClasses, ThrottleConfigError, ThrottlingModule, UserThrottle } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { appPerTest, bootError, PLATFORMS, type Platform, startApp } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';

@Controller()
class CachedController {
  @Get('items') list() { return []; }
  @Get('hot') @ThrottleClasses(UserThrottle.with({ scope: 'hot', rate: '10/min' })) hot() { return 'hot'; }
}

describe.each(PLATFORMS)('store: CacheManagerThrottleStore with @nestjs/cache-manager on %s', (platform: Platform) => {
  const apps = appPerTest(platform);

  async function boot() {
    const clock = new FakeClock();
    const app = await apps.start(
      testModule({
        imports: [CacheModule.register({ isGlobal: true })],
        options: { clock: clock.read, store: CacheManagerThrottleStore, defaultThrottles: [UserThrottle], rates: { user: '3/min' } },
        controllers: [CachedController],
      }),
    );
    const server = app.getHttpServer();
    return { app, clock, get: (path: string, user?: string) => (user === undefined ? request(server).get(path) : request(server).get(path).set('x-user-id', user)) };
  }

  test('throttles with counts kept in the app\'s cache', async () => {
    const { app, get } = await boot();
    for (let i = 0; i < 3; i++) expect((await get('/items', 'a')).status).toBe(200);
    const throttled = await get('/items', 'a');
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('60');
    expect(throttled.body.message).toBe('Request was throttled. Expected available in 60 seconds.');
    expect((await get('/items', 'b')).status).toBe(200);
    const cache = app.get<Cache>(CACHE_MANAGER);
    expect(await cache.get('throttle_user_a')).toEqual([0, 0, 0]);
    expect(await cache.get('throttle_user_b')).toEqual([0]);
  });

  test('the window slides on the module clock', async () => {
    const { get, clock } = await boot();
    for (let i = 0; i < 3; i++) await get('/items');
    expect((await get('/items')).status).toBe(429);
    clock.set(60);
    expect((await get('/items')).status).toBe(200);
  });

  test('concurrent requests on one key never over-admit: 25 at once with limit 10 let exactly 10 through', async () => {
    const { get } = await boot();
    const statuses = await Promise.all(Array.from({ length: 25 }, () => get('/hot', 'hot-user').then((response) => response.status)));
    expect(statuses.filter((status) => status === 200)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(15);
  });
});

describe('store: CacheManagerThrottleStore wiring', () => {
  test('forRootAsync importing a non-global CacheModule itself', async () => {
    const clock = new FakeClock();
    const throttling = ThrottlingModule.forRootAsync({
      imports: [CacheModule.register()],
      useFactory: () => ({ clock: clock.read, store: CacheManagerThrottleStore, defaultThrottles: [UserThrottle], rates: { user: '1/min' } }),
    });
    const app = await startApp('express', testModule({ throttling, controllers: [CachedController] }));
    try {
      expect((await request(app.getHttpServer()).get('/items')).status).toBe(200);
      expect((await request(app.getHttpServer()).get('/items')).status).toBe(429);
    } finally {
      await app.close();
    }
  });

  test('without a CACHE_MANAGER the module can see, the boot fails naming the store and the token', async () => {
    const error = await bootError(testModule({ options: { store: CacheManagerThrottleStore }, controllers: [CachedController] }));
    expect(error).toBeInstanceOf(ThrottleConfigError);
    expect(error!.message).toMatch(/^ThrottlingModule: cannot create store CacheManagerThrottleStore: it needs CACHE_MANAGER, which ThrottlingModule cannot see: register the cache for the whole app \(CacheModule.register\(\{ isGlobal: true \}\)/);
    // Not Nest's wording, which names an internal class of this module.
    expect(error!.message).not.toContain('StoreDependencies');
  });
});
