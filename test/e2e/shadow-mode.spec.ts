import { Controller, Get, type INestApplication, Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import request from 'supertest';
import { CacheThrottle, THROTTLING_RUNTIME, ThrottleClasses, ThrottleConfigError, ThrottleShadow, type ThrottlingModuleOptions, type ThrottlingRuntime, UserThrottle } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { bootError, PLATFORMS, type Platform, startApp } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';

const ShadowBurst = UserThrottle.with({ scope: 'shadow-burst', rate: '2/min', mode: 'shadow' });
const EnforcedSustained = UserThrottle.with({ scope: 'sustained', rate: '3/min' });
const EnforcedOnce = UserThrottle.with({ scope: 'enforced-once', rate: '1/min' });

@Controller()
class ShadowController {
  @Get('shadow') @ThrottleClasses(ShadowBurst) shadow() { return 'ok'; }
  @Get('mixed') @ThrottleClasses(UserThrottle.with({ scope: 'mixed-shadow', rate: '1/min', mode: 'shadow' }), EnforcedSustained) mixed() { return 'ok'; }
  @Get('tastypie') @ThrottleClasses(CacheThrottle.with({ scope: 'shadowtp', throttleAt: 2, mode: 'shadow' })) tastypie() { return 'ok'; }
}

/** @ThrottleShadow() on the controller puts its enforcing throttles in shadow; the handler's beats it. */
@Controller('route')
@ThrottleShadow()
class ShadowRouteController {
  @Get('shadowed') @ThrottleClasses(EnforcedOnce) shadowed() { return 'ok'; }
  @Get('enforced') @ThrottleShadow(false) @ThrottleClasses(UserThrottle.with({ scope: 'route-enforced', rate: '1/min', mode: 'shadow' })) enforced() { return 'ok'; }
}

@Controller('plain')
class PlainController {
  @Get() @ThrottleClasses(UserThrottle.with({ scope: 'plain', rate: '1/min' })) plain() { return 'ok'; }
}

describe.each(PLATFORMS)('shadow mode on %s', (platform: Platform) => {
  let app: INestApplication | undefined;
  let warnings: string[];
  let clock: FakeClock;
  beforeEach(() => {
    warnings = [];
    clock = new FakeClock();
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(function (this: Logger, message: unknown) {
      warnings.push(String(message));
    });
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await app?.close();
    app = undefined;
  });

  async function boot(options: ThrottlingModuleOptions = {}, controllers: Function[] = [ShadowController, ShadowRouteController]) {
    app = await startApp(platform, testModule({ options: { clock: clock.read, ...options }, controllers: controllers as any }));
    return app.getHttpServer();
  }
  const shadowWarnings = () => warnings.filter((message) => message.startsWith('Shadow throttle would deny'));

  test('a shadow throttle over its limit lets requests through with its headers, and logs the would-be denial once per policy per second', async () => {
    const server = await boot();
    const statuses: number[] = [];
    let last: request.Response | undefined;
    for (let i = 0; i < 5; i++) {
      last = await request(server).get('/shadow').set('x-user-id', 'u1');
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    // The headers say what an enforced limit would: nothing left.
    expect(last!.headers['ratelimit-policy']).toBe('"shadow-burst";q=2;w=60');
    expect(last!.headers['ratelimit']).toMatch(/^"shadow-burst";r=0;t=\d+$/);
    expect(last!.headers['retry-after']).toBeUndefined();
    // Three would-be denials within one second: one line, naming the policy and the route.
    expect(shadowWarnings()).toHaveLength(1);
    expect(shadowWarnings()[0]).toContain("policy 'shadow-burst' on ShadowController.shadow");
    clock.advance(1);
    expect((await request(server).get('/shadow').set('x-user-id', 'u1')).status).toBe(200);
    expect(shadowWarnings()).toHaveLength(2);
  });

  test('with shadowHeaders false, a shadow throttle sends no headers', async () => {
    const server = await boot({ shadowHeaders: false });
    const response = await request(server).get('/shadow').set('x-user-id', 'u1');
    expect(response.status).toBe(200);
    expect(response.headers['ratelimit-policy']).toBeUndefined();
  });

  test('a request denied only by a shadow throttle goes through; one an enforcing throttle denies gets a 429 with the enforcing wait', async () => {
    const server = await boot();
    const statuses: number[] = [];
    let last: request.Response | undefined;
    for (let i = 0; i < 4; i++) {
      clock.advance(5);
      last = await request(server).get('/mixed').set('x-user-id', 'u1');
      statuses.push(last.status);
    }
    // The shadow 1/min denies from the 2nd request on; the enforcing 3/min from the 4th.
    expect(statuses).toEqual([200, 200, 200, 429]);
    // Retry-After is the enforcing throttle's: its oldest hit (t=5 s) frees at 65 s, 45 s after t=20 s.
    expect(last!.headers['retry-after']).toBe('45');
    expect(shadowWarnings().some((message) => message.includes("policy 'mixed-shadow'"))).toBe(true);
  });

  test('@ThrottleShadow() on a controller shadows its enforcing throttles; @ThrottleShadow(false) on a handler enforces a shadow throttle', async () => {
    const server = await boot();
    const shadowed = [];
    for (let i = 0; i < 3; i++) shadowed.push((await request(server).get('/route/shadowed').set('x-user-id', 'u1')).status);
    expect(shadowed).toEqual([200, 200, 200]);
    const enforced = [];
    for (let i = 0; i < 2; i++) enforced.push((await request(server).get('/route/enforced').set('x-user-id', 'u1')).status);
    expect(enforced).toEqual([200, 429]);
  });

  test("the module's mode 'shadow' lets every throttle's denials through", async () => {
    const server = await boot({ mode: 'shadow' }, [PlainController]);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await request(server).get('/plain').set('x-user-id', 'u1')).status);
    expect(statuses).toEqual([200, 200, 200]);
    expect(shadowWarnings()[0]).toContain("policy 'plain' on PlainController.plain");
  });

  test('a Tastypie throttle in shadow lets the request through and records its access as when it passes', async () => {
    const server = await boot();
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await request(server).get('/tastypie').set('x-user-id', 'u1')).status);
    expect(statuses).toEqual([200, 200, 200, 200]);
    const runtime = app!.get<ThrottlingRuntime>(THROTTLING_RUNTIME);
    // Every served request was committed: four accesses, none left pending.
    const state = await runtime.store.peek('tastypie:shadowtp:u1_accesses', 3600_000);
    expect(state.count).toBe(4);
    expect(shadowWarnings()).toHaveLength(1);
  });
});

describe('shadow mode options', () => {
  test('a bad mode on .with() names the value', () => {
    expect(() => UserThrottle.with({ scope: 'x', mode: 'off' as never })).toThrow(new ThrottleConfigError("UserThrottle.with(): mode must be 'enforce' or 'shadow', got 'off'"));
    expect(() => CacheThrottle.with({ mode: 'dry-run' as never })).toThrow(/mode must be 'enforce' or 'shadow', got 'dry-run'/);
  });

  test("a bad module mode fails the boot naming the value", async () => {
    const error = await bootError(testModule({ options: { mode: 'audit' as never }, controllers: [PlainController] }));
    expect(error?.message).toBe("ThrottlingModule: mode must be 'enforce' or 'shadow', got 'audit'");
  });

  test('@ThrottleShadow() takes only a boolean', () => {
    expect(() => ThrottleShadow('yes' as never)).toThrow("@ThrottleShadow() takes true (the default) or false, got 'yes'");
  });
});
