import { Controller, Get, type INestApplication, Logger, Module, UseGuards } from '@nestjs/common';
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import request from 'supertest';
import { ThrottleClasses, ThrottlingGuard, ThrottlingModule, type ThrottlingModuleOptions, UserThrottle } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { PLATFORMS, type Platform, startApp } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';

const ThreePerMinute = UserThrottle.with({ scope: 'three', rate: '3/min' });

@Controller('feature')
@ThrottleClasses(ThreePerMinute)
class FeatureController {
  @Get() get() { return 'feature'; }
}

@Controller('guarded')
@UseGuards(ThrottlingGuard)
@ThrottleClasses(ThreePerMinute)
class GuardedController {
  @Get() get() { return 'guarded'; }
}

function featureModule(options: ThrottlingModuleOptions) {
  class FeatureModule {}
  Module({ imports: [ThrottlingModule.forRoot(options)], controllers: [FeatureController] })(FeatureModule);
  return FeatureModule;
}

describe.each(PLATFORMS)('a request is counted once on %s', (platform: Platform) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    jest.restoreAllMocks();
    await app?.close();
    app = undefined;
  });

  /** Counts guard runs, to show the guard really ran twice per request while the request counted once. */
  const spyOnGuard = () => jest.spyOn(ThrottlingGuard.prototype, 'canActivate');

  async function firstThrottled(path: string): Promise<number> {
    const server = app!.getHttpServer();
    for (let i = 1; i <= 6; i++) if ((await request(server).get(path)).status === 429) return i;
    return Number.POSITIVE_INFINITY;
  }

  test('ThrottlingModule.forRoot imported twice with the same options: the 4th request is the first 429', async () => {
    const clock = new FakeClock();
    const options = { clock: clock.read };
    app = await startApp(platform, testModule({ options, imports: [featureModule(options)] }));
    expect(await firstThrottled('/feature')).toBe(4);
  });

  test('ThrottlingModule.forRoot imported twice with different options (two global guards): still counted once', async () => {
    const clock = new FakeClock();
    app = await startApp(platform, testModule({ options: { clock: clock.read }, imports: [featureModule({ clock: clock.read, headers: 'both' })] }));
    const guard = spyOnGuard();
    expect(await firstThrottled('/feature')).toBe(4);
    expect(guard).toHaveBeenCalledTimes(7); // twice for each of 3 allowed requests; the 429 stops at the first
  });

  test('with different options, the first import decides, and a warning says the others do nothing', async () => {
    const clock = new FakeClock();
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const legacyHeaders = (response: request.Response) => response.headers['x-ratelimit-limit'] !== undefined;

    // The root's own import first: its options (IETF headers only) apply.
    app = await startApp(platform, testModule({ options: { clock: clock.read }, imports: [featureModule({ clock: clock.read, headers: 'both' })] }));
    expect(legacyHeaders(await request(app.getHttpServer()).get('/feature'))).toBe(false);
    await app.close();

    // The feature module's import first: its options ('both') apply.
    class FeatureFirst {}
    Module({ imports: [featureModule({ clock: clock.read, headers: 'both' }), ThrottlingModule.forRoot({ clock: clock.read })] })(FeatureFirst);
    app = await startApp(platform, FeatureFirst);
    expect(legacyHeaders(await request(app.getHttpServer()).get('/feature'))).toBe(true);

    const warnings = warn.mock.calls.map(([message]) => String(message)).filter((message) => message.startsWith('ThrottlingModule is imported'));
    expect(warnings).toEqual([expect.stringContaining('ThrottlingModule is imported 2 times with different options'), expect.stringContaining('imported 2 times')]);
  });

  test('the same options object imported twice draws no warning', async () => {
    const clock = new FakeClock();
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const options = { clock: clock.read };
    app = await startApp(platform, testModule({ options, imports: [featureModule(options)] }));
    expect(warn.mock.calls.filter(([message]) => String(message).startsWith('ThrottlingModule is imported'))).toEqual([]);
  });

  test('@UseGuards(ThrottlingGuard) on a controller as well as the global guard: the 4th request is the first 429', async () => {
    const clock = new FakeClock();
    app = await startApp(platform, testModule({ options: { clock: clock.read }, controllers: [GuardedController] }));
    const guard = spyOnGuard();
    expect(await firstThrottled('/guarded')).toBe(4);
    expect(guard).toHaveBeenCalledTimes(7); // twice for each of 3 allowed requests; the 429 stops at the first
  });
});
