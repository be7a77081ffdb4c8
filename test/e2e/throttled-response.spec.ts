import { type ArgumentsHost, Catch, Controller, type ExceptionFilter, Get, ImATeapotException, type INestApplication, Injectable, type Provider } from '@nestjs/common';
import { APP_FILTER, HttpAdapterHost } from '@nestjs/core';
import { afterEach, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { type RateLimitHeaderMode, type Throttle, ThrottleClasses, type ThrottleDecision, ThrottledException, UserThrottle } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { PLATFORMS, type Platform, startApp } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';

const RATE_HEADERS = ['ratelimit', 'ratelimit-policy', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];

/** A custom throttle that refuses every request with a wait of zero seconds. */
class ZeroWaitThrottle implements Throttle {
  allowRequest(): ThrottleDecision { return { allowed: false, wait: 0 }; }
}

/** A custom throttle whose check fails with an HTTP error of its own. */
class TeapotThrottle implements Throttle {
  async allowRequest(): Promise<boolean> { throw new ImATeapotException(); }
}

@Controller()
class ResponseController {
  @Get('minute') @ThrottleClasses(UserThrottle.with({ scope: 'minute', rate: '3/min' })) minute() { return 'ok'; }
  @Get('second') @ThrottleClasses(UserThrottle.with({ scope: 'second', rate: '1/sec' })) second() { return 'ok'; }
  @Get('ten') @ThrottleClasses(UserThrottle.with({ scope: 'ten', rate: '3/10s' })) ten() { return 'ok'; }
  @Get('once') @ThrottleClasses(UserThrottle.with({ scope: 'once', rate: '1/min' })) once() { return 'ok'; }
  @Get('pair') @ThrottleClasses(UserThrottle.with({ scope: 'burst', rate: '2/sec' }), UserThrottle.with({ scope: 'sustained', rate: '5/min' })) pair() { return 'ok'; }
  @Get('free') @ThrottleClasses() free() { return 'ok'; }
  @Get('zero-wait') @ThrottleClasses(ZeroWaitThrottle) zeroWait() { return 'ok'; }
  @Get('teapot') @ThrottleClasses(TeapotThrottle) teapot() { return 'ok'; }
}

/** The README's recipe for a 429 body of your own: an exception filter for ThrottledException. */
@Catch(ThrottledException)
@Injectable()
class RateLimitedBodyFilter implements ExceptionFilter {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: ThrottledException, host: ArgumentsHost): void {
    const body = { error: 'rate_limited', retryAfterSeconds: exception.wait };
    this.adapterHost.httpAdapter.reply(host.switchToHttp().getResponse(), body, exception.getStatus());
  }
}

function rateHeaders(headers: Record<string, string | string[] | undefined>): Record<string, unknown> {
  return Object.fromEntries(RATE_HEADERS.filter((name) => headers[name] !== undefined).map((name) => [name, headers[name]]));
}

describe.each(PLATFORMS)('throttled responses on %s', (platform: Platform) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function boot(headers?: RateLimitHeaderMode, providers: Provider[] = []) {
    const clock = new FakeClock();
    app = await startApp(platform, testModule({ options: { clock: clock.read, ...(headers === undefined ? {} : { headers }) }, controllers: [ResponseController], providers }));
    const server = app.getHttpServer();
    return { clock, get: (path: string) => request(server).get(path) };
  }

  describe('message and Retry-After', () => {
    test("429 with DRF's message, plural seconds, and Retry-After", async () => {
      const { get } = await boot();
      for (let i = 0; i < 3; i++) await get('/minute');
      const response = await get('/minute');
      expect(response.status).toBe(429);
      expect(response.body).toEqual({ statusCode: 429, error: 'Too Many Requests', message: 'Request was throttled. Expected available in 60 seconds.' });
      expect(response.headers['retry-after']).toBe('60');
    });

    test("'1 second' is singular", async () => {
      const { get } = await boot();
      await get('/second');
      const response = await get('/second');
      expect(response.body.message).toBe('Request was throttled. Expected available in 1 second.');
      expect(response.headers['retry-after']).toBe('1');
    });

    test('Retry-After and the message round a fractional wait up', async () => {
      const { get, clock } = await boot();
      for (let i = 0; i < 3; i++) await get('/ten');
      clock.now = 7_500; // wait = (10 - 7.5) / 1 = 2.5 s
      const response = await get('/ten');
      expect(response.status).toBe(429);
      expect(response.headers['retry-after']).toBe('3');
      expect(response.body.message).toBe('Request was throttled. Expected available in 3 seconds.');
      clock.now = 9_100; // wait = 0.9 s -> 1
      const later = await get('/ten');
      expect(later.headers['retry-after']).toBe('1');
      expect(later.body.message).toBe('Request was throttled. Expected available in 1 second.');
    });

    test('Retry-After rounds up, never to the nearest second: 29.4 s is 30, 0.3 s is 1', async () => {
      const { get, clock } = await boot();
      await get('/once').expect(200);
      clock.now = 30_600; // wait = 60 - 30.6 = 29.4 s
      const throttled = await get('/once');
      expect(throttled.status).toBe(429);
      expect(throttled.headers['retry-after']).toBe('30');
      clock.now = 59_700; // wait = 0.3 s: a Retry-After of 0 would tell the client to retry at once
      const almost = await get('/once');
      expect(almost.status).toBe(429);
      expect(almost.headers['retry-after']).toBe('1');
    });

    test('an exception filter for ThrottledException writes its own body; Retry-After and RateLimit stay', async () => {
      const { get } = await boot(undefined, [{ provide: APP_FILTER, useClass: RateLimitedBodyFilter }]);
      for (let i = 0; i < 3; i++) await get('/minute');
      const response = await get('/minute');
      expect(response.status).toBe(429);
      expect(response.body).toEqual({ error: 'rate_limited', retryAfterSeconds: 60 });
      expect(response.headers['retry-after']).toBe('60');
      expect(response.headers.ratelimit).toBe('"minute";r=0;t=60');
    });

    test('a throttle that refuses with a wait of 0 seconds gets a 429 with no Retry-After', async () => {
      const { get } = await boot();
      const response = await get('/zero-wait');
      expect(response.status).toBe(429);
      expect(response.headers['retry-after']).toBeUndefined();
    });

    test("an async throttle that rejects with an HTTP error sends that error, not a 429 or a 500", async () => {
      const { get } = await boot();
      const response = await get('/teapot');
      expect(response.status).toBe(418);
      expect(response.body.message).toBe("I'm a teapot");
    });

    test('allowed requests carry no Retry-After', async () => {
      const { get } = await boot();
      const response = await get('/minute');
      expect(response.status).toBe(200);
      expect(response.headers['retry-after']).toBeUndefined();
    });
  });

  describe("headers option", () => {
    test("default 'ietf': RateLimit-Policy and RateLimit on allowed and throttled responses", async () => {
      const { get, clock } = await boot();
      expect(rateHeaders((await get('/minute')).headers)).toEqual({ 'ratelimit-policy': '"minute";q=3;w=60', ratelimit: '"minute";r=2;t=60' });
      clock.set(20);
      expect(rateHeaders((await get('/minute')).headers)).toEqual({ 'ratelimit-policy': '"minute";q=3;w=60', ratelimit: '"minute";r=1;t=40' });
      await get('/minute');
      expect(rateHeaders((await get('/minute')).headers)).toEqual({ 'ratelimit-policy': '"minute";q=3;w=60', ratelimit: '"minute";r=0;t=40' });
    });

    test("'ietf' lists every policy of the route", async () => {
      const { get } = await boot('ietf');
      expect(rateHeaders((await get('/pair')).headers)).toEqual({
        'ratelimit-policy': '"burst";q=2;w=1, "sustained";q=5;w=60',
        ratelimit: '"burst";r=1;t=1, "sustained";r=4;t=60',
      });
    });

    test("'legacy': X-RateLimit-* of the most restrictive policy", async () => {
      const { get } = await boot('legacy');
      expect(rateHeaders((await get('/pair')).headers)).toEqual({ 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '1', 'x-ratelimit-reset': '1' });
      const throttled = await get('/pair').then(() => get('/pair'));
      expect(throttled.status).toBe(429);
      expect(rateHeaders(throttled.headers)).toEqual({ 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1' });
    });

    test("'both': IETF and legacy headers together", async () => {
      const { get } = await boot('both');
      expect(rateHeaders((await get('/minute')).headers)).toEqual({
        'ratelimit-policy': '"minute";q=3;w=60',
        ratelimit: '"minute";r=2;t=60',
        'x-ratelimit-limit': '3',
        'x-ratelimit-remaining': '2',
        'x-ratelimit-reset': '60',
      });
    });

    test('false: no rate-limit headers, but a throttled response still has Retry-After', async () => {
      const { get } = await boot(false);
      expect(rateHeaders((await get('/second')).headers)).toEqual({});
      const throttled = await get('/second');
      expect(throttled.status).toBe(429);
      expect(rateHeaders(throttled.headers)).toEqual({});
      expect(throttled.headers['retry-after']).toBe('1');
    });

    test('routes with throttling off get no rate-limit headers', async () => {
      const { get } = await boot('both');
      expect(rateHeaders((await get('/free')).headers)).toEqual({});
    });
  });
});
