import { Controller, Get, Injectable, Logger, type DynamicModule } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ExpressAdapter } from '@nestjs/platform-express';
import { describe, expect, jest, test } from '@jest/globals';
import {
  CacheDBThrottle,
  CacheThrottle,
  parseRate,
  ScopedThrottle,
  ThrottleClasses,
  ThrottleConfigError,
  type ThrottleContext,
  ThrottleRegistry,
  ThrottleScope,
  ThrottlingModule,
  type ThrottlingModuleOptions,
  ThrottlingService,
  UserThrottle,
} from '../../lib/index.js';
import { bootError } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';

const TenPerMinute = UserThrottle.with({ rate: '10/min' });
const TwentyPerDay = UserThrottle.with({ rate: '20/day' });

@Controller('items')
class ItemsController {
  @Get() @ThrottleClasses(TenPerMinute) list() { return 'ok'; }
}

@Controller('reports')
class ReportsController {
  @Get() @ThrottleClasses(TwentyPerDay) list() { return 'ok'; }
  @Get('export') @ThrottleClasses(TwentyPerDay) export() { return 'ok'; }
}

@Controller('plain')
class PlainController {
  @Get() list() { return 'ok'; }
}

/** The same options through forRoot and through forRootAsync. */
const entryPoints = {
  forRoot: (options: ThrottlingModuleOptions): DynamicModule => ThrottlingModule.forRoot(options),
  forRootAsync: (options: ThrottlingModuleOptions): DynamicModule => ThrottlingModule.forRootAsync({ useFactory: async () => options }),
};

async function failure(throttling: DynamicModule, controllers: any[]): Promise<string> {
  const error = await bootError(testModule({ throttling, controllers }));
  expect(error).toBeInstanceOf(ThrottleConfigError);
  return error!.message;
}

describe.each(Object.keys(entryPoints))('two throttles that count in the same keys with different limits fail the boot (%s)', (entry) => {
  const throttling = entryPoints[entry as keyof typeof entryPoints];

  test('two .with() variants of UserThrottle inheriting scope user', async () => {
    const message = await failure(throttling({ rates: { user: '1000/day' } }), [ItemsController, ReportsController]);
    expect(message).toContain('UserThrottle(10/min)');
    expect(message).toContain('UserThrottle(20/day)');
    expect(message).toContain("throttle_user_<user id or address> (scope 'user')");
    expect(message).toContain("rate '10/min' (on ItemsController.list)");
    expect(message).toContain("rate '20/day' (on ReportsController.list, ReportsController.export)");
    expect(message).toContain("UserThrottle.with({ scope: 'user-2', rate: '20/day' })");
  });

  test('a variant and the plain class reading rates.user', async () => {
    const message = await failure(throttling({ defaultThrottles: [UserThrottle], rates: { user: '100/day' } }), [PlainController, ItemsController]);
    expect(message).toContain("UserThrottle with rates.user '100/day' (on PlainController.list)");
    expect(message).toContain("UserThrottle(10/min) with rate '10/min' (on ItemsController.list)");
    expect(message).toContain("scope 'user'");
  });

  test('two ScopedThrottle variants with rates of their own on routes of one scope', async () => {
    @Controller('a')
    @ThrottleScope('uploads')
    class A {
      @Get() @ThrottleClasses(ScopedThrottle.with({ rate: '5/min' })) get() { return 'ok'; }
    }
    @Controller('b')
    @ThrottleScope('uploads')
    class B {
      @Get() @ThrottleClasses(ScopedThrottle.with({ rate: '50/hour' })) get() { return 'ok'; }
    }
    const message = await failure(throttling({}), [A, B]);
    expect(message).toContain("scope 'uploads'");
    expect(message).toContain("rate '5/min' (on A.get)");
    expect(message).toContain("rate '50/hour' (on B.get)");
    expect(message).toContain("@ThrottleScope('uploads-2')");
  });

  test('throttles that each name the shared scope themselves (DRF\'s own fixtures, Tastypie\'s per-identifier keys) boot, with a warning naming both', async () => {
    // DRF's test suite gives User3MinRateThrottle (3/min) and User6MinRateThrottle (6/min) one scope, 'minutes'.
    class User3MinRateThrottle extends UserThrottle {
      override scope = 'minutes';
      override rate = '3/min';
    }
    class User6MinRateThrottle extends UserThrottle {
      override scope = 'minutes';
      override rate = '6/min';
    }
    @Controller('login')
    class Login {
      @Get() @ThrottleClasses(CacheThrottle.with({ throttleAt: 5, timeframe: 900 })) get() { return 'ok'; }
      @Get('other') @ThrottleClasses(CacheThrottle) other() { return 'ok'; }
      @Get('minute') @ThrottleClasses(User3MinRateThrottle) minute() { return 'ok'; }
      @Get('double') @ThrottleClasses(User6MinRateThrottle) double() { return 'ok'; }
    }
    const module = entry === 'forRoot' ? ThrottlingModule.forRoot({}) : ThrottlingModule.forRootAsync({ useFactory: () => ({}), recordAccesses: true });
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      expect(await bootError(testModule({ throttling: module, controllers: [Login] }))).toBeUndefined();
      const warnings = warn.mock.calls.map(([message]) => String(message));
      const tastypie = warnings.find((message) => message.includes('tastypie:<identifier>_accesses (no scope)'));
      expect(tastypie).toContain('throttleAt 5, timeframe 900, expiration 604800 (on Login.get)');
      expect(tastypie).toContain('CacheThrottle with throttleAt 150, timeframe 3600, expiration 604800 (on Login.other)');
      expect(tastypie).toContain("CacheThrottle.with({ scope: 'own-2'");
      const drf = warnings.find((message) => message.includes("(scope 'minutes')"));
      expect(drf).toContain("User3MinRateThrottle with rate '3/min' (on Login.minute)");
      expect(drf).toContain("User6MinRateThrottle with rate '6/min' (on Login.double)");
      expect(warnings.filter((message) => message.includes("(scope 'minutes')"))).toHaveLength(1);
    } finally {
      warn.mockRestore();
    }
  });

  test('a throttle that inherits a scope another throttle names itself, with another rate, fails the boot', async () => {
    class Minutes extends UserThrottle {
      override scope = 'minutes';
      override rate = '3/min';
    }
    const Inheriting = Minutes.with({ rate: '6/min' });
    @Controller('mixed')
    class Mixed {
      @Get('a') @ThrottleClasses(Minutes) a() { return 'ok'; }
      @Get('b') @ThrottleClasses(Inheriting) b() { return 'ok'; }
    }
    const message = await failure(throttling({}), [Mixed]);
    expect(message).toContain("(scope 'minutes')");
    expect(message).toContain("rate '6/min' (on Mixed.b)");
  });
});

describe('throttles that share keys with one limit, or cannot be known, boot', () => {
  test('the same rate from .with() and from rates, and Tastypie throttles apart by scope or with equal settings', async () => {
    @Controller('fine')
    class Fine {
      @Get('a') @ThrottleClasses(UserThrottle.with({ rate: '100/day' })) a() { return 'ok'; }
      @Get('b') @ThrottleClasses(UserThrottle.with({ rate: { limit: 100, duration: 86_400 } })) b() { return 'ok'; }
      @Get('c') @ThrottleClasses(UserThrottle.with({ scope: 'burst', rate: '10/min' })) c() { return 'ok'; }
      @Get('d') @ThrottleClasses(CacheThrottle.with({ scope: 'login', throttleAt: 5 })) d() { return 'ok'; }
      @Get('e') @ThrottleClasses(CacheThrottle, CacheDBThrottle) e() { return 'ok'; }
      @Get('f') @ThrottleClasses(UserThrottle.with({ rate: null })) f() { return 'ok'; }
    }
    const module = ThrottlingModule.forRoot({ defaultThrottles: [UserThrottle], rates: { user: '100/day' }, accessLog: { write() {}, async flush() {}, async close() {} } as never });
    expect(await bootError(testModule({ throttling: module, controllers: [PlainController, Fine] }))).toBeUndefined();
  });

  test('a subclass that picks its rate per request (rateFor) is left out: the library cannot know its limit', async () => {
    @Injectable()
    class PlanThrottle extends UserThrottle {
      override rate = '5/min';
      override rateFor(scope: string | undefined, ctx?: ThrottleContext) {
        return ctx ? parseRate('50/min') : super.rateFor(scope);
      }
    }
    @Controller('plans')
    class Plans {
      @Get() @ThrottleClasses(PlanThrottle) get() { return 'ok'; }
    }
    expect(await bootError(testModule({ options: { defaultThrottles: [UserThrottle], rates: { user: '100/day' } }, controllers: [PlainController, Plans] }))).toBeUndefined();
  });
});

describe('after boot: handlers planned on first use and ThrottlingService specs are checked then', () => {
  async function app(controllers: any[]) {
    const testing = await Test.createTestingModule({ imports: [testModule({ options: { defaultThrottles: [UserThrottle], rates: { user: '100/day' } }, controllers })] }).compile();
    const nest = testing.createNestApplication(new ExpressAdapter(), { logger: false });
    await nest.init();
    return nest;
  }

  test('a handler planned lazily whose throttle shares keys with another limit throws a ThrottleConfigError, and only there', async () => {
    const nest = await app([PlainController]);
    try {
      class LazyGateway {
        @ThrottleClasses(TenPerMinute) handle() { return 'ok'; }
        other() { return 'ok'; }
      }
      const registry = nest.get(ThrottleRegistry);
      const planned = Promise.resolve(registry.planFor(LazyGateway, LazyGateway.prototype.handle));
      await expect(planned).rejects.toThrow(ThrottleConfigError);
      await expect(planned).rejects.toThrow("LazyGateway.handle: two throttles count in the same keys, throttle_user_<user id or address> (scope 'user')");
      // The other handler (defaultThrottles) still plans: the failed one recorded nothing.
      expect((await registry.planFor(LazyGateway, LazyGateway.prototype.other)).throttles).toHaveLength(1);
    } finally {
      await nest.close();
    }
  });

  test('a { scope, rate } spec with another limit in a scope the routes count in throws when first used', async () => {
    const nest = await app([PlainController]);
    try {
      const throttling = nest.get(ThrottlingService);
      await expect(throttling.check({ identity: 'alice' }, { scope: 'user', rate: '5/min' })).rejects.toThrow(
        "ThrottlingService: two throttles count in the same keys, throttle_user_<user id or address> (scope 'user')",
      );
      await expect(throttling.check({ identity: 'alice' }, TwentyPerDay)).rejects.toThrow(ThrottleConfigError);
      // The routes' own limit, and named rates computed per call in a scope of their own, are fine.
      expect((await throttling.check({ identity: 'alice' }, { scope: 'user' })).allowed).toBe(true);
      expect((await throttling.check({ identity: 'alice' }, { scope: 'plan', rate: '5/min' })).allowed).toBe(true);
      expect((await throttling.check({ identity: 'bob' }, { scope: 'plan', rate: '50/min' })).allowed).toBe(true);
    } finally {
      await nest.close();
    }
  });
});
