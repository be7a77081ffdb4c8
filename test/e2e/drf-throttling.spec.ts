/**
 * Django REST framework's own throttling tests (tests/test_throttling.py), ported to this API and
 * run through real HTTP on Express and on Fastify. DRF mocks the throttle's timer; here the module's
 * `clock` option does the same.
 */
import { Controller, Get, type INestApplication } from '@nestjs/common';
import { afterEach, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import {
  MemoryThrottleStore,
  ScopedThrottle,
  type Throttle,
  ThrottleClasses,
  ThrottleRegistry,
  ThrottleScope,
  type ThrottlingModuleOptions,
  UserThrottle,
} from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { type AppOptions, PLATFORMS, type Platform, startApp } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';

// DRF's User3SecRateThrottle, User3MinRateThrottle and User6MinRateThrottle. The last two share
// DRF's scope 'minutes' with two rates: each names the scope itself, so the app boots (with a warning).
const User3SecThrottle = UserThrottle.with({ scope: 'seconds', rate: '3/sec' });
const User3MinThrottle = UserThrottle.with({ scope: 'minutes', rate: '3/min' });
const User6MinThrottle = UserThrottle.with({ scope: 'minutes', rate: '6/min' });

/** DRF's NonTimeThrottle: allows the very first request, then nothing, and knows no wait. */
class NonTimeThrottle implements Throttle {
  called = false;
  allowRequest(): boolean {
    if (this.called) return false;
    this.called = true;
    return true;
  }
}

@Controller()
class MockViews {
  @Get('mock') @ThrottleClasses(User3SecThrottle) mock() { return 'foo'; }
  @Get('double') @ThrottleClasses(User3SecThrottle, User6MinThrottle) double() { return 'foo'; }
  @Get('minute') @ThrottleClasses(User3MinThrottle) minute() { return 'foo'; }
  @Get('non-time') @ThrottleClasses(NonTimeThrottle) nonTime() { return 'foo'; }
}

// DRF's XYScopedRateThrottle views.
@Controller()
@ThrottleClasses(ScopedThrottle)
class ScopedViews {
  @Get('x') @ThrottleScope('x') x() { return 'x'; }
  @Get('y') @ThrottleScope('y') y() { return 'y'; }
  @Get('unscoped') unscoped() { return 'unscoped'; }
  @Get('as-user') @ThrottleScope('user') asUser() { return 'user'; }
}

// DRF's XffTestingBase view: ScopedRateThrottle with 'test_limit': '1/day'.
@Controller()
@ThrottleClasses(ScopedThrottle)
@ThrottleScope('test_limit')
class XffView {
  @Get('some_uri') someUri() { return 'ok'; }
}

describe.each(PLATFORMS)('DRF throttling tests on %s', (platform: Platform) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function boot(options: ThrottlingModuleOptions = {}, appOptions: AppOptions = {}) {
    const clock = new FakeClock();
    // Every scope a route uses needs a rate at boot, so all the views' rates are always given.
    const rates = { x: '3/min', y: '1/min', user: '5/min', test_limit: '1/day', ...options.rates };
    app = await startApp(platform, testModule({ options: { clock: clock.read, ...options, rates }, controllers: [MockViews, ScopedViews, XffView] }), appOptions);
    const server = app.getHttpServer();
    const get = (path: string, user?: string, headers: Record<string, string> = {}) => {
      const call = request(server).get(path).set(headers);
      return user === undefined ? call : call.set('x-user-id', user);
    };
    return { clock, get, app };
  }

  describe('ThrottlingTests', () => {
    test('requests are throttled: the fourth request in a second gets 429', async () => {
      const { get } = await boot();
      for (let i = 0; i < 3; i++) expect((await get('/mock')).status).toBe(200);
      expect((await get('/mock')).status).toBe(429);
    });

    test('request throttling expires after the window', async () => {
      const { get, clock } = await boot();
      for (let i = 0; i < 4; i++) await get('/mock');
      expect((await get('/mock')).status).toBe(429);
      clock.set(1);
      expect((await get('/mock')).status).toBe(200);
    });

    test('request throttling is per user', async () => {
      const { get } = await boot();
      for (let i = 0; i < 3; i++) await get('/mock', 'a');
      expect((await get('/mock', 'a')).status).toBe(429);
      expect((await get('/mock', 'b')).status).toBe(200);
    });

    test('multiple throttles: every throttle sees every request (Retry-After 1, 59, 58)', async () => {
      const { get, clock } = await boot();
      let response = await get('/double');
      for (let i = 0; i < 3; i++) response = await get('/double');
      expect(response.status).toBe(429);
      expect(response.headers['retry-after']).toBe('1');

      // Four requests were made in the first second (one throttled), all counted by 6/min.
      clock.set(1);
      for (let i = 0; i < 2; i++) expect((await get('/double')).status).toBe(200);
      response = await get('/double');
      expect(response.status).toBe(429);
      expect(response.headers['retry-after']).toBe('59');

      clock.set(2);
      response = await get('/double');
      expect(response.status).toBe(429);
      expect(response.headers['retry-after']).toBe('58');
    });

    test('throttle rate change negative: a rate lowered below the history keeps Retry-After 60', async () => {
      const { get, app: booted } = await boot();
      let response = await get('/double');
      for (let i = 0; i < 23; i++) response = await get('/double');
      expect(response.status).toBe(429);
      expect(response.headers['retry-after']).toBe('60');

      // Lower User3SecThrottle's rate on its singleton: its own wait becomes null (limit - count + 1 <= 0).
      const throttle = (await booted.get(ThrottleRegistry).resolve(User3SecThrottle)) as InstanceType<typeof User3SecThrottle>;
      throttle.rate = '1/sec';
      for (let i = 0; i < 24; i++) response = await get('/double');
      expect(response.status).toBe(429);
      expect(response.headers['retry-after']).toBe('60');
    });

    test('1 request in 2 seconds gives Retry-After 2', async () => {
      const { get } = await boot();
      const booted = app!;
      const throttle = (await booted.get(ThrottleRegistry).resolve(User3MinThrottle)) as InstanceType<typeof User3MinThrottle>;
      const previous = throttle.rate;
      throttle.rate = '1/2s';
      try {
        expect((await get('/minute')).status).toBe(200);
        const response = await get('/minute');
        expect(response.status).toBe(429);
        expect(response.headers['retry-after']).toBe('2');
      } finally {
        throttle.rate = previous;
      }
    });

    async function expectRetryAfterSequence(path: string, steps: [number, string | undefined][]) {
      const { get, clock } = await boot();
      for (const [second, retryAfter] of steps) {
        clock.set(second);
        const response = await get(path);
        expect([second, response.headers['retry-after']]).toEqual([second, retryAfter]);
        expect(response.status).toBe(retryAfter === undefined ? 200 : 429);
      }
    }

    test('seconds fields: (None, None, None, 1)', async () => {
      await expectRetryAfterSequence('/mock', [[0, undefined], [0, undefined], [0, undefined], [0, '1']]);
    });

    test('minutes fields: (None, None, None, 60)', async () => {
      await expectRetryAfterSequence('/minute', [[0, undefined], [0, undefined], [0, undefined], [0, '60']]);
    });

    test('next rate remains constant if followed: 3/min at t=0, 20, 40, 60, 80 is never throttled', async () => {
      await expectRetryAfterSequence('/minute', [[0, undefined], [20, undefined], [40, undefined], [60, undefined], [80, undefined]]);
    });

    test('non-time throttle: the second request is denied with no Retry-After and the bare message', async () => {
      const { get } = await boot();
      const first = await get('/non-time');
      expect(first.status).toBe(200);
      expect(first.headers['retry-after']).toBeUndefined();
      const second = await get('/non-time');
      expect(second.status).toBe(429);
      expect(second.headers['retry-after']).toBeUndefined();
      expect(second.body.message).toBe('Request was throttled.');
    });
  });

  describe('ScopedRateThrottleTests', () => {
    const rates = { x: '3/min', y: '1/min', user: '5/min' };

    test('scoped rate throttle: x allows 3 per minute, y 1 per minute, both reset after the minute', async () => {
      const { get, clock } = await boot({ rates });
      const step = async (path: string, status: number, advance = 1) => {
        expect([path, clock.now, (await get(path)).status]).toEqual([path, clock.now, status]);
        clock.advance(advance);
      };
      await step('/x', 200);
      await step('/x', 200);
      await step('/x', 200);
      await step('/x', 429);
      await step('/y', 200);
      await step('/y', 429, 55);
      await step('/x', 200);
      await step('/x', 200);
      await step('/x', 200);
      await step('/x', 429);
      await step('/y', 200);
      await step('/y', 429);
    });

    test('unscoped view is not throttled', async () => {
      const { get, clock } = await boot({ rates });
      for (let i = 0; i < 10; i++) {
        clock.advance(1);
        expect((await get('/unscoped')).status).toBe(200);
      }
    });

    test("cache key is 'throttle_user_<id>' for an authenticated user", async () => {
      const clock = new FakeClock();
      const store = new MemoryThrottleStore({ clock: clock.read });
      const { get } = await boot({ rates, store, clock: clock.read });
      expect((await get('/as-user', '42')).status).toBe(200);
      expect(store.peek('throttle_user_42', 60_000).count).toBe(1);
      expect(store.peek('throttle_user_127.0.0.1', 60_000).count).toBe(0);
    });
  });

  describe('X-Forwarded-For (NUM_PROXIES), REMOTE being the loopback socket', () => {
    const rates = { test_limit: '1/day' };
    const xff = (value: string) => ({ 'x-forwarded-for': value });
    const XFF = xff('0.0.0.0, 1.1.1.1, 2.2.2.2');

    test('0 proxies: accepts a request under the limit and denies one over it', async () => {
      const { get } = await boot({ rates, numProxies: 0 });
      expect((await get('/some_uri', undefined, XFF)).status).toBe(200);
      expect((await get('/some_uri', undefined, XFF)).status).toBe(429);
    });

    test('0 proxies: a different X-Forwarded-For is still the same socket', async () => {
      const { get } = await boot({ rates, numProxies: 0 });
      await get('/some_uri', undefined, XFF);
      expect((await get('/some_uri', undefined, xff('9.9.9.9'))).status).toBe(429);
    });

    test('spoofing X-Forwarded-For does not change the machine id with one app proxy', async () => {
      const { get } = await boot({ rates, numProxies: 1 });
      await get('/some_uri', undefined, XFF);
      expect((await get('/some_uri', undefined, xff('4.4.4.4, 5.5.5.5, 2.2.2.2'))).status).toBe(429);
    });

    test('spoofing X-Forwarded-For does not change the machine id with two app proxies', async () => {
      const { get } = await boot({ rates, numProxies: 2 });
      await get('/some_uri', undefined, XFF);
      expect((await get('/some_uri', undefined, xff('4.4.4.4, 1.1.1.1, 2.2.2.2'))).status).toBe(429);
    });

    test('unique clients are counted independently with one proxy', async () => {
      const { get } = await boot({ rates, numProxies: 1 });
      await get('/some_uri', undefined, XFF);
      expect((await get('/some_uri', undefined, xff('0.0.0.0, 1.1.1.1, 7.7.7.7'))).status).toBe(200);
    });

    test('unique clients are counted independently with two proxies', async () => {
      const { get } = await boot({ rates, numProxies: 2 });
      await get('/some_uri', undefined, XFF);
      expect((await get('/some_uri', undefined, xff('0.0.0.0, 7.7.7.7, 2.2.2.2'))).status).toBe(200);
    });

    test('more proxies than addresses: the leftmost address identifies the client', async () => {
      const { get } = await boot({ rates, numProxies: 5 });
      await get('/some_uri', undefined, XFF);
      expect((await get('/some_uri', undefined, xff('0.0.0.0, 8.8.8.8'))).status).toBe(429);
      expect((await get('/some_uri', undefined, xff('6.6.6.6, 1.1.1.1, 2.2.2.2'))).status).toBe(200);
    });

    test('numProxies set but no header: the socket address', async () => {
      const { get } = await boot({ rates, numProxies: 1 });
      expect((await get('/some_uri')).status).toBe(200);
      expect((await get('/some_uri')).status).toBe(429);
      expect((await get('/some_uri', undefined, xff('127.0.0.1'))).status).toBe(429);
    });

    test("numProxies unset without trust proxy: X-Forwarded-For is ignored (req.ip is the socket)", async () => {
      const { get } = await boot({ rates });
      expect((await get('/some_uri', undefined, xff('7.7.7.7'))).status).toBe(200);
      expect((await get('/some_uri', undefined, xff('8.8.8.8'))).status).toBe(429);
    });

    test("numProxies unset with the adapter's trust proxy: req.ip from X-Forwarded-For is honoured", async () => {
      const { get } = await boot({ rates }, { trustProxy: true });
      expect((await get('/some_uri', undefined, xff('7.7.7.7'))).status).toBe(200);
      expect((await get('/some_uri', undefined, xff('8.8.8.8'))).status).toBe(200);
      expect((await get('/some_uri', undefined, xff('7.7.7.7'))).status).toBe(429);
    });

    test('a proxy that appends the client port: a new connection (a new port) is still the same client', async () => {
      const { get } = await boot({ rates, numProxies: 1 });
      expect((await get('/some_uri', undefined, xff('203.0.113.7:51234'))).status).toBe(200);
      expect((await get('/some_uri', undefined, xff('203.0.113.7:51300'))).status).toBe(429);
      expect((await get('/some_uri', undefined, xff('[2001:db8::7]:443'))).status).toBe(200);
      expect((await get('/some_uri', undefined, xff('[2001:db8::7]:444'))).status).toBe(429);
    });

    test("the same, with the adapter's trust proxy and numProxies unset", async () => {
      const { get } = await boot({ rates }, { trustProxy: true });
      expect((await get('/some_uri', undefined, xff('203.0.113.7:51234'))).status).toBe(200);
      expect((await get('/some_uri', undefined, xff('203.0.113.7:51300'))).status).toBe(429);
    });
  });
});
