/**
 * The recipes of docs/coming-from-nestjs-throttler.md, each run through real HTTP on Express and
 * Fastify: keying everyone by address, two named limits, skipping a route or one of the limits, a
 * per-route override, and skipIf / ignoreUserAgents as a throttle that returns no key.
 */
import { Controller, Get, Injectable } from '@nestjs/common';
import { describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { SimpleRateThrottle, type ThrottleContext, ThrottleClasses } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { appPerTest, PLATFORMS, type Platform } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';

/** @nestjs/throttler keys every request by req.ip, signed in or not: the same, as a throttle. */
@Injectable()
class IpThrottle extends SimpleRateThrottle {
  override scope = 'ip';

  getCacheKey(ctx: ThrottleContext): string | null {
    return this.formatKey(this.scopeFor(ctx)!, ctx.ident);
  }
}

/** skipIf / ignoreUserAgents: a throttle whose getCacheKey() returns null lets the request through uncounted. */
@Injectable()
class IgnoreCrawlersThrottle extends IpThrottle {
  override scope = 'crawl';

  override getCacheKey(ctx: ThrottleContext): string | null {
    const agent = ctx.request?.headers?.['user-agent'];
    if (typeof agent === 'string' && /googlebot|bingbot/i.test(agent)) return null;
    return super.getCacheKey(ctx);
  }
}

// ThrottlerModule.forRoot([{ name: 'short', ttl: 1000, limit: 3 }, { name: 'long', ttl: 60000, limit: 5 }])
const Short = IpThrottle.with({ scope: 'short', rate: '3/s' });
const Long = IpThrottle.with({ scope: 'long', rate: '5/min' });

@Controller()
class MigratedController {
  @Get('default') byDefault() { return 'ok'; }

  // @SkipThrottle()
  @Get('skipped') @ThrottleClasses() skipped() { return 'ok'; }

  // @SkipThrottle({ short: true })
  @Get('long-only') @ThrottleClasses(Long) longOnly() { return 'ok'; }

  // @Throttle({ default: { limit: 1, ttl: 60000 } })
  @Get('login') @ThrottleClasses(IpThrottle.with({ scope: 'login', rate: '1/min' })) login() { return 'ok'; }

  @Get('crawl') @ThrottleClasses(IgnoreCrawlersThrottle) crawl() { return 'ok'; }
}

describe.each(PLATFORMS)('coming from @nestjs/throttler, on %s', (platform: Platform) => {
  const apps = appPerTest(platform);

  async function boot() {
    const clock = new FakeClock();
    const app = await apps.start(testModule({ options: { defaultThrottles: [Short, Long], rates: { crawl: '1/min' }, clock: clock.read }, controllers: [MigratedController] }));
    const server = app.getHttpServer();
    const get = (path: string, headers: Record<string, string> = {}) => request(server).get(path).set(headers);
    const statuses = async (count: number, path: string, headers?: Record<string, string>) => {
      const seen: number[] = [];
      for (let i = 0; i < count; i++) seen.push((await get(path, headers)).status);
      return seen;
    };
    return { clock, get, statuses };
  }

  test('two named limits both apply; the short one frees up after its second, the long one does not', async () => {
    const { clock, get, statuses } = await boot();
    expect(await statuses(4, '/default')).toEqual([200, 200, 200, 429]);
    clock.now += 1_000;
    // The long limit (5 a minute) passed the 4th request and counted it, although the short one
    // denied it: every throttle is evaluated and every one that passes records (DRF). @nestjs/throttler
    // stops at the first limit exceeded, so there the long one would not have counted it.
    expect(await statuses(3, '/default')).toEqual([200, 429, 429]);
    const throttled = await get('/default');
    expect(throttled.headers['ratelimit-policy']).toBe('"short";q=3;w=1, "long";q=5;w=60');
  });

  test('like req.ip tracking, signed-in users behind one address share its bucket', async () => {
    const { statuses } = await boot();
    expect(await statuses(2, '/default', { 'x-user-id': 'alice' })).toEqual([200, 200]);
    expect(await statuses(2, '/default', { 'x-user-id': 'bob' })).toEqual([200, 429]);
  });

  test('@ThrottleClasses() is @SkipThrottle(); naming one limit skips the other', async () => {
    const { statuses } = await boot();
    expect(await statuses(10, '/skipped')).toEqual(Array(10).fill(200));
    expect(await statuses(6, '/long-only')).toEqual([200, 200, 200, 200, 200, 429]);
  });

  test('a variant on the handler overrides the defaults, like @Throttle()', async () => {
    const { statuses } = await boot();
    expect(await statuses(2, '/login')).toEqual([200, 429]);
  });

  test('skipIf / ignoreUserAgents: requests the throttle returns no key for are neither limited nor counted', async () => {
    const { statuses } = await boot();
    expect(await statuses(5, '/crawl', { 'user-agent': 'Mozilla/5.0 (compatible; Googlebot/2.1)' })).toEqual(Array(5).fill(200));
    expect(await statuses(2, '/crawl', { 'user-agent': 'curl/8.5.0' })).toEqual([200, 429]);
  });
});
