import { Controller, Get, type INestApplication, Module, UseGuards } from '@nestjs/common';
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

  test('@UseGuards(ThrottlingGuard) on a controller as well as the global guard: the 4th request is the first 429', async () => {
    const clock = new FakeClock();
    app = await startApp(platform, testModule({ options: { clock: clock.read }, controllers: [GuardedController] }));
    const guard = spyOnGuard();
    expect(await firstThrottled('/guarded')).toBe(4);
    expect(guard).toHaveBeenCalledTimes(7); // twice for each of 3 allowed requests; the 429 stops at the first
  });
});
