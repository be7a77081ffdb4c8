import { Controller, Get, type INestApplication, Module, type Type, UseGuards } from '@nestjs/common';
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import request from 'supertest';
import { ThrottleClasses, ThrottleConfigError, ThrottlingGuard, ThrottlingModule, type ThrottlingModuleOptions, ThrottlingService, UserThrottle } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { bootError, PLATFORMS, type Platform, startApp } from '../support/http-app.js';
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

  test('equal options from two forRootAsync factories: one store, so the guard and the feature module\'s ThrottlingService see one count', async () => {
    const clock = new FakeClock();
    const options = () => ({ clock: clock.read, rates: { user: '100/day' } });
    class Feature {}
    Module({ imports: [ThrottlingModule.forRootAsync({ useFactory: options })], controllers: [FeatureController] })(Feature);
    app = await startApp(platform, testModule({ throttling: ThrottlingModule.forRootAsync({ useFactory: async () => options() }), imports: [Feature] }));
    expect(await firstThrottled('/feature')).toBe(4);
    for (const service of [app.get(ThrottlingService), app.select(Feature).get(ThrottlingService)]) {
      expect((await service.peek({ identity: '127.0.0.1' }, ThreePerMinute)).count).toBe(3);
    }
  });

  test('@UseGuards(ThrottlingGuard) on a controller as well as the global guard: the 4th request is the first 429', async () => {
    const clock = new FakeClock();
    app = await startApp(platform, testModule({ options: { clock: clock.read }, controllers: [GuardedController] }));
    const guard = spyOnGuard();
    expect(await firstThrottled('/guarded')).toBe(4);
    expect(guard).toHaveBeenCalledTimes(7); // twice for each of 3 allowed requests; the 429 stops at the first
  });
});

describe('ThrottlingModule imported twice with different options fails the boot, naming the difference and both imports', () => {
  // Seen: a feature module's [UserThrottle] at 2/min with the root's user: '1000/day', so 2/min never denied.
  const rootOptions: ThrottlingModuleOptions = { defaultThrottles: [UserThrottle], rates: { user: '1000/day' } };
  const featureOptions: ThrottlingModuleOptions = { defaultThrottles: [UserThrottle], rates: { user: '2/min' } };

  function feature(throttling: ReturnType<typeof ThrottlingModule.forRoot>) {
    class FeatureModule {}
    Module({ imports: [throttling], controllers: [FeatureController] })(FeatureModule);
    return FeatureModule;
  }

  async function message(root: Type<unknown>): Promise<string> {
    const error = await bootError(root);
    expect(error).toBeInstanceOf(ThrottleConfigError);
    return error!.message;
  }

  test.each([
    ['forRoot in the root, then in a feature module', () => ThrottlingModule.forRoot(rootOptions), () => ThrottlingModule.forRoot(featureOptions), 'forRoot', 'forRoot', true],
    ['forRoot in a feature module, then in the root', () => ThrottlingModule.forRoot(rootOptions), () => ThrottlingModule.forRoot(featureOptions), 'forRoot', 'forRoot', false],
    ['forRoot in the root, forRootAsync in a feature module', () => ThrottlingModule.forRoot(rootOptions), () => ThrottlingModule.forRootAsync({ useFactory: () => featureOptions }), 'forRoot', 'forRootAsync', true],
    ['forRootAsync in the root, forRoot in a feature module, feature first', () => ThrottlingModule.forRootAsync({ useFactory: async () => rootOptions }), () => ThrottlingModule.forRoot(featureOptions), 'forRootAsync', 'forRoot', false],
  ])('%s', async (_name, rootImport, featureImport, rootEntry, featureEntry, rootFirst) => {
    const featureModule = feature(featureImport());
    class AppModule {}
    Module({ imports: rootFirst ? [rootImport(), featureModule] : [featureModule, rootImport()] })(AppModule);
    const text = await message(AppModule);
    expect(text).toContain('ThrottlingModule is imported twice with different options');
    expect(text).toContain(`ThrottlingModule.${rootEntry}() in AppModule`);
    expect(text).toContain(`ThrottlingModule.${featureEntry}() in FeatureModule`);
    expect(text).toMatch(/rates\.user: '(1000\/day' vs '2\/min|2\/min' vs '1000\/day)'/);
  });

  test('an option one import sets and the other does not, and two different functions', async () => {
    class AppModule {}
    Module({ imports: [ThrottlingModule.forRoot({ headers: 'both', userId: (_r, user: any) => user?.id }), feature(ThrottlingModule.forRoot({ userId: (_r, user: any) => user?.id }))] })(AppModule);
    const text = await message(AppModule);
    expect(text).toMatch(/headers: ('both' vs not set|not set vs 'both')/);
    expect(text).toContain('userId: ');
    expect(text).toContain('(two different functions)');
  });

  test('enforceAt given to forRootAsync counts as the option it is: the same as forRoot({ enforceAt })', async () => {
    class AppModule {}
    Module({
      imports: [ThrottlingModule.forRoot({ enforceAt: 'interceptor' }), feature(ThrottlingModule.forRootAsync({ enforceAt: 'interceptor', useFactory: () => ({}) }))],
    })(AppModule);
    expect(await bootError(AppModule)).toBeUndefined();
    class OtherModule {}
    Module({ imports: [ThrottlingModule.forRoot({}), feature(ThrottlingModule.forRootAsync({ enforceAt: 'interceptor', useFactory: () => ({}) }))] })(OtherModule);
    expect(await message(OtherModule)).toMatch(/enforceAt: ('guard' vs 'interceptor'|'interceptor' vs 'guard')/);
  });
});
