/**
 * DRF throttles after authentication. In Nest a global guard runs before controller-level guards, so
 * an AuthGuard on a controller has not set req.user yet when the throttling guard runs
 * (@nestjs/throttler issue #522). `enforceAt: 'interceptor'` throttles after every guard.
 */
import { type CanActivate, Controller, type ExecutionContext, Get, Injectable, type INestApplication, UseGuards } from '@nestjs/common';
import { afterEach, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { type EnforcementPoint, ThrottleClasses, ThrottlingModule, UserThrottle } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { PLATFORMS, type Platform, startApp } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';

/** An application's auth guard, bound on the controller: sets req.user from x-user-id. */
@Injectable()
class AuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    const id = request.headers['x-user-id'];
    if (typeof id === 'string') request.user = { id };
    return true;
  }
}

let handled = 0;

@Controller('profile')
@UseGuards(AuthGuard)
@ThrottleClasses(UserThrottle)
class ProfileController {
  @Get() get() {
    handled++;
    return { ok: true };
  }
}

describe.each(PLATFORMS)('enforceAt with a controller-level AuthGuard on %s', (platform: Platform) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function boot(enforceAt: EnforcementPoint | undefined, async = false) {
    const clock = new FakeClock();
    const options = { clock: clock.read, rates: { user: '3/min' }, ...(enforceAt === undefined ? {} : { enforceAt }) };
    const throttling = async ? ThrottlingModule.forRootAsync({ enforceAt, useFactory: () => ({ clock: clock.read, rates: { user: '3/min' } }) }) : undefined;
    app = await startApp(platform, testModule({ options, throttling, controllers: [ProfileController], auth: false }));
    const server = app.getHttpServer();
    return (user: string) => request(server).get('/profile').set('x-user-id', user);
  }

  test("'interceptor': per-user throttling works, each user has a bucket", async () => {
    const get = await boot('interceptor');
    for (let i = 0; i < 3; i++) expect((await get('a')).status).toBe(200);
    const throttled = await get('a');
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('60');
    expect(throttled.body.message).toBe('Request was throttled. Expected available in 60 seconds.');
    const other = await get('b');
    expect(other.status).toBe(200);
    expect(other.headers['ratelimit']).toBe('"user";r=2;t=60');
  });

  test("'interceptor' through forRootAsync: per-user throttling works", async () => {
    const get = await boot('interceptor', true);
    for (let i = 0; i < 3; i++) await get('a');
    expect((await get('a')).status).toBe(429);
    expect((await get('b')).status).toBe(200);
  });

  test("'interceptor': a throttled request never reaches the handler", async () => {
    const get = await boot('interceptor');
    handled = 0;
    for (let i = 0; i < 5; i++) await get('a');
    expect(handled).toBe(3);
  });

  test("default 'guard': the throttling guard runs before the controller's AuthGuard, so users look anonymous and share the client's bucket", async () => {
    const get = await boot(undefined);
    for (let i = 0; i < 3; i++) expect((await get('a')).status).toBe(200);
    const other = await get('b');
    expect(other.status).toBe(429);
  });
});
