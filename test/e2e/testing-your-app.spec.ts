/**
 * What an app's own test suite does with this module, through @nestjs/testing: turn throttling off
 * with overrideProvider(ThrottlingGuard) (Nest's way for a global enhancer registered with
 * useExisting), or keep it and drive its clock with overrideProvider(THROTTLING_OPTIONS).
 */
import { Controller, Get, type INestApplication, Injectable, Module } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { afterEach, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import {
  AnonThrottle,
  MemoryThrottleStore,
  THROTTLING_OPTIONS,
  ThrottleClasses,
  ThrottlingGuard,
  ThrottlingInterceptor,
  ThrottlingModule,
  type ThrottlingModuleOptions,
  type ThrottlingOptionsFactory,
} from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { PLATFORMS, type Platform } from '../support/http-app.js';

@Controller()
class LimitedController {
  @Get('limited') @ThrottleClasses(AnonThrottle) limited() { return 'ok'; }
}

/** The app as its author wrote it: real time, 3 requests a minute. */
function appModule(options: Partial<ThrottlingModuleOptions> = {}) {
  @Module({ imports: [ThrottlingModule.forRoot({ rates: { anon: '3/min' }, ...options })], controllers: [LimitedController] })
  class AppModule {}
  return AppModule;
}

/** One module class, as an app has, used by every test below that needs no other options. */
const AppModule = appModule();

/** An app on forRootAsync with a factory: it exports the factory, so its tests can call it. */
const throttlingOptionsFrom = (config: ConfigService): ThrottlingModuleOptions => ({ rates: { anon: config.get('ANON_RATE', '3/min') } });

@Module({
  imports: [
    ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ ANON_RATE: '3/min' })] }),
    ThrottlingModule.forRootAsync({ imports: [ConfigModule], inject: [ConfigService], useFactory: throttlingOptionsFrom }),
  ],
  controllers: [LimitedController],
})
class AsyncFactoryAppModule {}

/** An app on forRootAsync with an options class (useClass): its tests replace the class. */
@Injectable()
class ThrottlingConfig implements ThrottlingOptionsFactory {
  createThrottlingOptions(): ThrottlingModuleOptions {
    return { rates: { anon: '3/min' } };
  }
}

@Module({ imports: [ThrottlingModule.forRootAsync({ useClass: ThrottlingConfig })], controllers: [LimitedController] })
class AsyncClassAppModule {}

describe.each(PLATFORMS)('testing an app that uses the module, on %s', (platform: Platform) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function start(builder: TestingModuleBuilder) {
    const testing = await builder.compile();
    app = testing.createNestApplication(platform === 'express' ? new ExpressAdapter() : new FastifyAdapter(), { logger: false });
    await app.init();
    if (platform === 'fastify') await (app.getHttpAdapter().getInstance() as { ready(): Promise<unknown> }).ready();
    return (path: string) => request(app!.getHttpServer()).get(path);
  }

  async function statuses(get: (path: string) => request.Test, count: number) {
    const seen: number[] = [];
    for (let i = 0; i < count; i++) seen.push((await get('/limited')).status);
    return seen;
  }

  test('overrideProvider(ThrottlingGuard) turns throttling off', async () => {
    const get = await start(Test.createTestingModule({ imports: [AppModule] }).overrideProvider(ThrottlingGuard).useValue({ canActivate: () => true }));
    expect(await statuses(get, 5)).toEqual([200, 200, 200, 200, 200]);
  });

  test("overrideProvider(ThrottlingInterceptor) turns it off under enforceAt: 'interceptor'", async () => {
    const builder = Test.createTestingModule({ imports: [appModule({ enforceAt: 'interceptor' })] })
      .overrideProvider(ThrottlingInterceptor)
      .useValue({ intercept: (_context: unknown, next: { handle(): unknown }) => next.handle() });
    const get = await start(builder);
    expect(await statuses(get, 5)).toEqual([200, 200, 200, 200, 200]);
  });

  test('without an override the app throttles as written', async () => {
    const get = await start(Test.createTestingModule({ imports: [AppModule] }));
    expect(await statuses(get, 4)).toEqual([200, 200, 200, 429]);
  });

  test('two apps built from the same module count apart, so tests that start an app each share no counts', async () => {
    const first = await start(Test.createTestingModule({ imports: [AppModule] }));
    expect(await statuses(first, 4)).toEqual([200, 200, 200, 429]);
    const firstApp = app;
    const second = await start(Test.createTestingModule({ imports: [AppModule] }));
    expect(await statuses(second, 1)).toEqual([200]);
    await firstApp?.close();
  });

  test('overrideProvider(THROTTLING_OPTIONS) swaps the options, a fake clock included, without touching the app', async () => {
    const clock = new FakeClock();
    const builder = Test.createTestingModule({ imports: [AppModule] })
      .overrideProvider(THROTTLING_OPTIONS)
      .useValue({ rates: { anon: '3/min' }, clock: clock.read });
    const get = await start(builder);
    expect(await statuses(get, 4)).toEqual([200, 200, 200, 429]);
    clock.now += 60_000;
    expect(await statuses(get, 1)).toEqual([200]);
  });

  test('a forRootAsync factory app: overrideProvider(THROTTLING_OPTIONS).useFactory() calls the exported factory, then adds a fake clock and a store', async () => {
    const clock = new FakeClock();
    // A store the options hand over keeps its own clock (the clock option reaches only the store the module builds).
    const store = new MemoryThrottleStore({ clock: clock.read });
    const builder = Test.createTestingModule({ imports: [AsyncFactoryAppModule] })
      .overrideProvider(THROTTLING_OPTIONS)
      .useFactory({ factory: (config: ConfigService) => ({ ...throttlingOptionsFrom(config), clock: clock.read, store }), inject: [ConfigService] });
    const get = await start(builder);
    expect(await statuses(get, 4)).toEqual([200, 200, 200, 429]);
    expect(store.size).toBe(1); // the counts are in the test's store
    clock.now += 60_000;
    expect(await statuses(get, 1)).toEqual([200]);
  });

  test('a forRootAsync useClass app: overrideProvider(ThrottlingConfig) swaps the options class, a fake clock included', async () => {
    const clock = new FakeClock();
    const builder = Test.createTestingModule({ imports: [AsyncClassAppModule] })
      .overrideProvider(ThrottlingConfig)
      .useValue({ createThrottlingOptions: () => ({ rates: { anon: '3/min' }, clock: clock.read }) });
    const get = await start(builder);
    expect(await statuses(get, 4)).toEqual([200, 200, 200, 429]);
    clock.now += 60_000;
    expect(await statuses(get, 1)).toEqual([200]);
  });
});
