/**
 * Where an app's global auth guard must be registered for the throttles to see req.user under the
 * default enforceAt: 'guard' (README, "Signed-in users"): Nest runs global guards in the order it
 * registers their modules, the root module first, then its imports in order.
 */
import { type CanActivate, Controller, type ExecutionContext, Get, Injectable, type INestApplication, Module, type Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { afterEach, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { ThrottleClasses, ThrottlingModule, UserThrottle } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { PLATFORMS, type Platform, startApp } from '../support/http-app.js';

/** An application's global auth guard: sets req.user from x-user-id. */
@Injectable()
class UserFromTokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    const id = request.headers['x-user-id'];
    if (typeof id === 'string') request.user = { id };
    return true;
  }
}

@Controller('profile')
@ThrottleClasses(UserThrottle)
class ProfileController {
  @Get() get() { return { ok: true }; }
}

const authGuard = { provide: APP_GUARD, useClass: UserFromTokenGuard };
@Module({ providers: [authGuard] })
class AuthModule {}

function throttling(clock: FakeClock) {
  return ThrottlingModule.forRoot({ clock: clock.read, rates: { user: '2/min' } });
}

describe.each(PLATFORMS)('where the global auth guard is registered, on %s', (platform: Platform) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  /** Two users from one address, three requests each: per-user buckets let 2 + 2 through. */
  async function statuses(root: Type<unknown>) {
    app = await startApp(platform, root);
    const seen: number[] = [];
    for (const user of ['ann', 'bob']) for (let i = 0; i < 3; i++) seen.push((await request(app.getHttpServer()).get('/profile').set('x-user-id', user)).status);
    return seen;
  }

  test("in the root module's own providers: it runs first, each user has a bucket", async () => {
    @Module({ imports: [throttling(new FakeClock())], providers: [authGuard], controllers: [ProfileController] })
    class AppModule {}
    expect(await statuses(AppModule)).toEqual([200, 200, 429, 200, 200, 429]);
  });

  test('in a module imported before ThrottlingModule: it runs first, each user has a bucket', async () => {
    @Module({ imports: [AuthModule, throttling(new FakeClock())], controllers: [ProfileController] })
    class AppModule {}
    expect(await statuses(AppModule)).toEqual([200, 200, 429, 200, 200, 429]);
  });

  test('in a module imported after ThrottlingModule: it runs second, so both users count as the anonymous address', async () => {
    @Module({ imports: [throttling(new FakeClock()), AuthModule], controllers: [ProfileController] })
    class AppModule {}
    expect(await statuses(AppModule)).toEqual([200, 200, 429, 429, 429, 429]);
  });
});
