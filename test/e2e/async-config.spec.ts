import { Controller, Get, Injectable, type INestApplication, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { afterEach, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { ThrottleConfigError, ThrottlingModule, type ThrottlingModuleOptions, type ThrottlingOptionsFactory, UserThrottle } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { bootError, PLATFORMS, type Platform, startApp } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';

/** One clock for the spec: tests run one after another and each app starts it at 0. */
const clock = new FakeClock();

/** Configuration as an app would load it (no .env file: the test must not depend on the machine). */
const configModule = (rate: string) => ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ THROTTLE_USER_RATE: rate })] });

function optionsFrom(config: ConfigService): ThrottlingModuleOptions {
  return { defaultThrottles: [UserThrottle], rates: { user: config.getOrThrow<string>('THROTTLE_USER_RATE') }, clock: clock.read };
}

@Injectable()
class ThrottlingConfig implements ThrottlingOptionsFactory {
  constructor(private readonly config: ConfigService) {}
  createThrottlingOptions(): ThrottlingModuleOptions {
    return optionsFrom(this.config);
  }
}

@Module({ imports: [configModule('3/min')], providers: [ThrottlingConfig], exports: [ThrottlingConfig] })
class ThrottlingConfigModule {}

@Controller('items')
class ItemsController {
  @Get() list() { return []; }
}

const variants = {
  'useFactory with inject': () =>
    ThrottlingModule.forRootAsync({ imports: [configModule('3/min')], inject: [ConfigService], useFactory: (config: ConfigService) => optionsFrom(config) }),
  'async useFactory': () =>
    ThrottlingModule.forRootAsync({ imports: [configModule('3/min')], inject: [ConfigService], useFactory: async (config: ConfigService) => optionsFrom(config) }),
  useClass: () => ThrottlingModule.forRootAsync({ imports: [configModule('3/min')], useClass: ThrottlingConfig }),
  useExisting: () => ThrottlingModule.forRootAsync({ imports: [ThrottlingConfigModule], useExisting: ThrottlingConfig }),
};

describe.each(PLATFORMS)('ThrottlingModule.forRootAsync with @nestjs/config on %s', (platform: Platform) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  test.each(Object.keys(variants))('%s: the rate from ConfigService is enforced', async (variant) => {
    clock.now = 0;
    const throttling = variants[variant as keyof typeof variants]();
    app = await startApp(platform, testModule({ throttling, controllers: [ItemsController] }));
    const server = app.getHttpServer();
    for (let i = 0; i < 3; i++) expect((await request(server).get('/items')).status).toBe(200);
    const throttled = await request(server).get('/items');
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('60');
    expect(throttled.headers['ratelimit-policy']).toBe('"user";q=3;w=60');
  });
});

describe('ThrottlingModule.forRootAsync misuse', () => {
  test('a bad rate from the configuration fails the boot, quoting it', async () => {
    const throttling = ThrottlingModule.forRootAsync({ imports: [configModule('3/mni')], inject: [ConfigService], useFactory: optionsFrom });
    const error = await bootError(testModule({ throttling, controllers: [ItemsController] }));
    expect(error).toBeInstanceOf(ThrottleConfigError);
    expect(error!.message).toContain("scope 'user'");
    expect(error!.message).toContain("'3/mni'");
  });

  test('an unknown option returned by the factory fails the boot', async () => {
    const throttling = ThrottlingModule.forRootAsync({ useFactory: () => ({ rats: {} }) as never });
    const error = await bootError(testModule({ throttling, controllers: [ItemsController] }));
    expect(error?.message).toContain("unknown option 'rats'");
  });

  test('none of useFactory, useClass, useExisting throws', () => {
    expect(() => ThrottlingModule.forRootAsync({})).toThrow(ThrottleConfigError);
    expect(() => ThrottlingModule.forRootAsync({ imports: [] })).toThrow('needs exactly one of useFactory, useClass or useExisting, got none');
  });

  test('two of them throws, naming both', () => {
    expect(() => ThrottlingModule.forRootAsync({ useFactory: () => ({}), useClass: ThrottlingConfig })).toThrow('got useFactory and useClass');
    expect(() => ThrottlingModule.forRootAsync({ useClass: ThrottlingConfig, useExisting: ThrottlingConfig })).toThrow('got useClass and useExisting');
  });
});
