import { Controller, Get, type INestApplication, Module, UseGuards } from '@nestjs/common';
import { afterEach, describe, expect, test } from '@jest/globals';
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
    await app?.close();
    app = undefined;
  });

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
    expect(await firstThrottled('/feature')).toBe(4);
  });

  test('@UseGuards(ThrottlingGuard) on a controller as well as the global guard: the 4th request is the first 429', async () => {
    const clock = new FakeClock();
    app = await startApp(platform, testModule({ options: { clock: clock.read }, controllers: [GuardedController] }));
    expect(await firstThrottled('/guarded')).toBe(4);
  });
});
