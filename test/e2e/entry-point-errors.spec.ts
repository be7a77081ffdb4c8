import { Controller, Get, Inject, Injectable, Module } from '@nestjs/common';
import { describe, expect, test } from '@jest/globals';
import { CacheDBThrottle, type Throttle, ThrottleClasses, ThrottleConfigError, type ThrottleContext, ThrottlingModule, UserThrottle } from '../../lib/index.js';
import { bootError } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';

@Controller('burst')
class BurstController {
  @Get() @ThrottleClasses(UserThrottle.with({ scope: 'burst' })) list() { return 'ok'; }
}

@Controller('audited')
class AuditedController {
  @Get() @ThrottleClasses(CacheDBThrottle) list() { return 'ok'; }
}

async function failure(throttling: ReturnType<typeof ThrottlingModule.forRoot>, controllers: any[] = [], imports: any[] = []): Promise<string> {
  const error = await bootError(testModule({ throttling, controllers, imports }));
  expect(error).toBeInstanceOf(ThrottleConfigError);
  return error!.message;
}

describe('errors raised under forRootAsync name forRootAsync, not forRoot', () => {
  const async = (options: object) => ThrottlingModule.forRootAsync({ useFactory: async () => options });

  test('a scope with no rate', async () => {
    const message = await failure(async({ rates: { user: '10/min' } }), [BurstController]);
    expect(message).toContain("add it to the options your ThrottlingModule.forRootAsync() factory returns ({ rates: { burst: '100/day' } })");
    expect(message).not.toContain('forRoot(');
    // forRoot keeps its message.
    expect(await failure(ThrottlingModule.forRoot({ rates: { user: '10/min' } }), [BurstController])).toContain("add it to ThrottlingModule.forRoot({ rates: { burst: '100/day' } })");
  });

  test('CacheDBThrottle without an access log', async () => {
    const message = await failure(ThrottlingModule.forRootAsync({ useFactory: () => ({}) }), [AuditedController]);
    expect(message).toContain('AuditedController.list');
    expect(message).toContain('ThrottlingModule.forRootAsync() factory returns ({ accessLog: { connectionString: process.env.DATABASE_URL } })');
    expect(message).not.toContain('forRoot(');
  });

  test('an accessLog that is not an access log', async () => {
    expect(await failure(async({ accessLog: 5 }))).toMatch(/^ThrottlingModule\.forRootAsync\(\): accessLog must be PostgresAccessLog options or an AccessLog instance, got 5/);
    expect(await failure(ThrottlingModule.forRoot({ accessLog: 5 as never }))).toMatch(/^ThrottlingModule: accessLog must be/);
  });

  test('the settings: an unknown option, a bad value, a malformed rate no route uses', async () => {
    expect(await failure(async({ rats: {} }))).toMatch(/^ThrottlingModule\.forRootAsync\(\): unknown option 'rats'/);
    expect(await failure(async({ numProxies: -1 }))).toMatch(/^ThrottlingModule\.forRootAsync\(\): numProxies must be a non-negative integer, got -1/);
    expect(await failure(async({ rates: { uploads: '1/dya' } }))).toMatch(/^ThrottlingModule\.forRootAsync\(\): rates\.uploads: .*'1\/dya'/);
  });

  test('defaultThrottles that record accesses without recordAccesses: true', async () => {
    expect(await failure(async({ defaultThrottles: [CacheDBThrottle], accessLog: { write() {}, async flush() {}, async close() {} } }))).toMatch(
      /^ThrottlingModule\.forRootAsync\(\): defaultThrottles include CacheDBThrottle, .*pass recordAccesses: true to ThrottlingModule\.forRootAsync\(\)/,
    );
  });
});

describe('a throttle whose dependency is missing: the error names the dependency and the module', () => {
  @Injectable()
  class FlagsService {}

  @Injectable()
  class FlagThrottle implements Throttle {
    constructor(readonly flags: FlagsService) {}
    allowRequest(_ctx: ThrottleContext) { return true; }
  }

  @Injectable()
  class TokenThrottle implements Throttle {
    constructor(readonly flags: FlagsService, @Inject('PLANS') readonly plans: unknown) {}
    allowRequest(_ctx: ThrottleContext) { return true; }
  }

  @Injectable()
  class PropertyThrottle implements Throttle {
    @Inject('PLANS') readonly plans!: unknown;
    allowRequest(_ctx: ThrottleContext) { return true; }
  }

  test.each([
    ['a constructor argument', FlagThrottle, [], "FlagThrottle needs FlagsService (constructor argument #1), which FeatureModule cannot see"],
    ['a token', TokenThrottle, [FlagsService], "TokenThrottle needs \"PLANS\" (constructor argument #2), which FeatureModule cannot see"],
    ['an injected property', PropertyThrottle, [], "PropertyThrottle needs \"PLANS\" (property plans), which FeatureModule cannot see"],
  ])('%s', async (_name, throttle, providers, expected) => {
    @Controller('feature')
    class FeatureController {
      @Get() @ThrottleClasses(throttle) get() { return 'ok'; }
    }
    @Module({ controllers: [FeatureController], providers })
    class FeatureModule {}
    const message = await failure(ThrottlingModule.forRoot({}), [], [FeatureModule]);
    expect(message).toContain(`FeatureController.get: cannot create throttle ${throttle.name}: `);
    expect(message).toContain(expected);
    expect(message).toContain('provide it in FeatureModule, or import the module that exports it there');
    expect(message).not.toContain('List it in the providers');
  });
});
