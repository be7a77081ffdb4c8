import { Controller, Get, Inject, Injectable, Scope } from '@nestjs/common';
import { REQUEST } from '@nestjs/core';
import { describe, expect, test } from '@jest/globals';
import request from 'supertest';
import {
  CacheThrottle,
  MemoryThrottleStore,
  ScopedThrottle,
  type Throttle,
  THROTTLE_CLASSES_METADATA,
  ThrottleClasses,
  ThrottleConfigError,
  type ThrottleContext,
  ThrottleScope,
  ThrottlingModule,
  type ThrottlingModuleOptions,
  UserThrottle,
} from '../../lib/index.js';
import { bootError, startApp } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';
import { FakeClock } from '../support/fake-clock.js';

@Controller('defaults')
class DefaultsController {
  @Get() list() { return 'ok'; }
}

class NotAThrottle {
  check() { return true; }
}

/** Boots an app and returns the message of the error that stopped it. */
async function failure(options: ThrottlingModuleOptions, controllers: any[] = [DefaultsController], providers: any[] = []): Promise<string> {
  const error = await bootError(testModule({ options, controllers, providers }));
  expect(error).toBeInstanceOf(ThrottleConfigError);
  return error!.message;
}

describe('options are validated at boot, naming the throttle, the scope and the bad value', () => {
  test('a valid configuration boots', async () => {
    expect(await bootError(testModule({ options: { defaultThrottles: [UserThrottle], rates: { user: '100/day' } }, controllers: [DefaultsController] }))).toBeUndefined();
  });

  test('a malformed rate for a scope in use', async () => {
    const message = await failure({ defaultThrottles: [UserThrottle], rates: { user: '100/dya' } });
    expect(message).toContain('UserThrottle');
    expect(message).toContain("scope 'user'");
    expect(message).toContain("'100/dya'");
    expect(message).toContain('DefaultsController.list');
  });

  test.each(['-1/min', '1.5/min', 'abc', '5/ms'])('a malformed rate %j', async (rate) => {
    const message = await failure({ defaultThrottles: [UserThrottle], rates: { user: rate } });
    expect(message).toContain("scope 'user'");
    expect(message).toContain(`'${rate}'`);
  });

  test('a malformed rate that no route uses still fails the boot', async () => {
    const message = await failure({ defaultThrottles: [UserThrottle], rates: { user: '10/min', uploads: '20/dya' } });
    expect(message).toContain('rates.uploads');
    expect(message).toContain("'20/dya'");
  });

  test('a malformed rate fixed on a throttle class', async () => {
    const message = await failure({ defaultThrottles: [UserThrottle.with({ scope: 'burst', rate: '60/mni' })] });
    expect(message).toContain('UserThrottle(burst, 60/mni)');
    expect(message).toContain("scope 'burst'");
    expect(message).toContain("'60/mni'");
  });

  test('a scope with no rate (defaultThrottles)', async () => {
    const message = await failure({ defaultThrottles: [UserThrottle], rates: {} });
    expect(message).toContain('UserThrottle');
    expect(message).toContain("scope 'user'");
    expect(message).toContain('has no rate');
  });

  test('a @ThrottleScope with no rate (ScopedThrottle)', async () => {
    @Controller('uploads')
    @ThrottleClasses(ScopedThrottle)
    class UploadsController {
      @Get() @ThrottleScope('uploads') upload() { return 'ok'; }
    }
    const message = await failure({ rates: { contacts: '10/min' } }, [UploadsController]);
    expect(message).toContain('UploadsController.upload');
    expect(message).toContain('ScopedThrottle');
    expect(message).toContain("'uploads'");
  });

  test('a .with({ scope }) variant whose scope has no rate', async () => {
    const message = await failure({ defaultThrottles: [UserThrottle.with({ scope: 'burst' })], rates: { user: '10/min' } });
    expect(message).toContain('UserThrottle(burst)');
    expect(message).toContain("'burst'");
  });

  test('a scope with no rate is named after the route exactly once', async () => {
    @Controller('burst')
    class BurstController {
      @Get() @ThrottleClasses(UserThrottle.with({ scope: 'burst' })) list() { return 'ok'; }
    }
    expect(await failure({ rates: { user: '10/min' } }, [BurstController])).toBe(
      "BurstController.list: UserThrottle(burst) uses scope 'burst', which has no rate: add it to ThrottlingModule.forRoot({ rates: { burst: '100/day' } }) or set it to null to switch it off",
    );
  });

  test('a malformed rate for a scope whose routes all carry their own rate still fails the boot', async () => {
    @Controller('uploads')
    class OwnRateController {
      @Get() @ThrottleClasses(UserThrottle.with({ scope: 'uploads', rate: '5/min' })) upload() { return 'ok'; }
    }
    const message = await failure({ rates: { uploads: 'nonsense' } }, [OwnRateController]);
    expect(message).toMatch(/^ThrottlingModule: rates\.uploads: .*'nonsense'/);
  });

  test('a route whose throttle has its own rate boots and is limited by it, whatever the scope\'s rate', async () => {
    @Controller('uploads')
    class OwnRateController {
      @Get() @ThrottleClasses(UserThrottle.with({ scope: 'uploads', rate: '5/min' })) upload() { return 'ok'; }
    }
    const app = await startApp('express', testModule({ options: { rates: { uploads: '1/min' } }, controllers: [OwnRateController] }));
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await request(app.getHttpServer()).get('/uploads')).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    } finally {
      await app.close();
    }
  });

  test('a Tastypie throttle subclass with a bad value of its own', async () => {
    class ZeroTimeframeThrottle extends CacheThrottle {
      override timeframe = 0;
    }
    @Controller('notes')
    class NotesController {
      @Get() @ThrottleClasses(ZeroTimeframeThrottle) list() { return 'ok'; }
    }
    const message = await failure({}, [NotesController]);
    expect(message).toContain('NotesController.list');
    expect(message).toContain('ZeroTimeframeThrottle');
    expect(message).toContain('timeframe must be a number of seconds > 0, got 0');
  });

  test('a defaultThrottles entry that is not a throttle class', async () => {
    const message = await failure({ defaultThrottles: [UserThrottle, NotAThrottle as never], rates: { user: '10/min' } });
    expect(message).toContain('defaultThrottles[1]');
    expect(message).toContain('NotAThrottle');
    expect(message).toContain('is not a throttle class');
  });

  test('a defaultThrottles entry that is a string', async () => {
    const message = await failure({ defaultThrottles: ['user' as never] });
    expect(message).toContain('defaultThrottles[0]');
    expect(message).toContain("'user'");
  });

  test('defaultThrottles that is not a list', async () => {
    expect(await failure({ defaultThrottles: UserThrottle as never })).toContain('defaultThrottles must be an array');
  });

  test('@ThrottleClasses() naming something that is not a throttle class', async () => {
    @Controller('odd')
    class OddController {
      @Get() @ThrottleClasses(NotAThrottle as never) odd() { return 'ok'; }
    }
    const message = await failure({}, [OddController]);
    expect(message).toContain('OddController.odd');
    expect(message).toContain('NotAThrottle');
  });

  test('@ThrottleClasses() naming a string names its position in the list', async () => {
    @Controller('odd')
    class OddController {
      @Get() @ThrottleClasses('x' as never) odd() { return 'ok'; }
    }
    expect(await failure({}, [OddController])).toContain("OddController.odd: throttle #1: 'x' is not a throttle class");
  });

  test('throttle-classes metadata that is not a list', async () => {
    @Controller('odd')
    class OddController {
      @Get() odd() { return 'ok'; }
    }
    Reflect.defineMetadata(THROTTLE_CLASSES_METADATA, 'x', OddController.prototype.odd);
    expect(await failure({}, [OddController])).toBe("OddController.odd: @ThrottleClasses() holds 'x', not a list of throttle classes");
  });

  test('a throttle whose dependencies cannot be resolved', async () => {
    @Injectable()
    class MissingService {}
    @Injectable()
    class NeedsService implements Throttle {
      constructor(readonly service: MissingService) {}
      allowRequest(_ctx: ThrottleContext) { return true; }
    }
    @Controller('needs')
    class NeedsController {
      @Get() @ThrottleClasses(NeedsService) get() { return 'ok'; }
    }
    const message = await failure({}, [NeedsController]);
    expect(message).toContain('NeedsController.get');
    expect(message).toContain('cannot create throttle NeedsService');
  });

  test('the message of a DI failure ends in one full stop', async () => {
    @Injectable()
    class Absent {}
    @Injectable()
    class NeedsAbsent implements Throttle {
      constructor(readonly absent: Absent) {}
      allowRequest(_ctx: ThrottleContext) { return true; }
    }
    @Controller('absent')
    class AbsentController {
      @Get() @ThrottleClasses(NeedsAbsent) get() { return 'ok'; }
    }
    expect(await failure({}, [AbsentController])).not.toContain('..');
  });

  describe('a throttle that Nest would resolve per request fails the boot: a throttle is one instance for every request', () => {
    @Injectable({ scope: Scope.REQUEST })
    class PerRequestService {}

    @Injectable()
    class NeedsPerRequest implements Throttle {
      constructor(readonly service: PerRequestService) {}
      allowRequest(_ctx: ThrottleContext) { return true; }
    }

    @Injectable()
    class InjectsRequest implements Throttle {
      constructor(@Inject(REQUEST) readonly request: unknown) {}
      allowRequest(_ctx: ThrottleContext) { return true; }
    }

    @Injectable()
    class PropertyInjected implements Throttle {
      @Inject(PerRequestService) readonly service!: PerRequestService;
      allowRequest(_ctx: ThrottleContext) { return true; }
    }

    @Injectable({ scope: Scope.REQUEST })
    class DeclaredPerRequest implements Throttle {
      allowRequest(_ctx: ThrottleContext) { return true; }
    }

    /** Request-scoped only through the service it depends on, as Nest propagates scope. */
    @Injectable()
    class ImplicitlyPerRequest {
      constructor(readonly service: PerRequestService) {}
    }
    @Injectable()
    class NeedsImplicit implements Throttle {
      constructor(readonly implicit: ImplicitlyPerRequest) {}
      allowRequest(_ctx: ThrottleContext) { return true; }
    }

    test.each([
      ['a request-scoped constructor dependency', NeedsPerRequest, [], 'throttle NeedsPerRequest depends on PerRequestService, which is request-scoped'],
      ['@Inject(REQUEST)', InjectsRequest, [], 'throttle InjectsRequest depends on REQUEST, which is request-scoped'],
      ['a request-scoped injected property', PropertyInjected, [], 'throttle PropertyInjected depends on PerRequestService, which is request-scoped'],
      ['a throttle declared request-scoped', DeclaredPerRequest, [], 'throttle DeclaredPerRequest is request-scoped'],
      ['a dependency made request-scoped by its own dependency', NeedsImplicit, [ImplicitlyPerRequest], 'throttle NeedsImplicit depends on ImplicitlyPerRequest, which is request-scoped'],
    ])('%s', async (_name, throttle, extraProviders, expected) => {
      @Controller('scoped')
      class ScopedController {
        @Get() @ThrottleClasses(throttle) get() { return 'ok'; }
      }
      const message = await failure({}, [ScopedController], [PerRequestService, ...extraProviders]);
      expect(message).toContain(`ScopedController.get: ${expected}, but a throttle is one instance for every request.`);
      expect(message).toContain('ctx.request');
    });

    test('a transient dependency is fine: the throttle gets its own instance once', async () => {
      @Injectable({ scope: Scope.TRANSIENT })
      class TransientService {}
      @Injectable()
      class NeedsTransient implements Throttle {
        constructor(readonly service: TransientService) {}
        allowRequest(_ctx: ThrottleContext) { return true; }
      }
      @Controller('transient')
      class TransientController {
        @Get() @ThrottleClasses(NeedsTransient) get() { return 'ok'; }
      }
      expect(await bootError(testModule({ controllers: [TransientController], providers: [TransientService] }))).toBeUndefined();
    });
  });

  test('an unknown option', async () => {
    const message = await failure({ rate: '5/min' } as never);
    expect(message).toContain("unknown option 'rate'");
  });

  test.each([
    [-1, 'got -1'],
    [1.5, 'got 1.5'],
    ['1', "got '1'"],
  ])('numProxies %p', async (numProxies, quoted) => {
    const message = await failure({ numProxies: numProxies as never });
    expect(message).toContain('numProxies');
    expect(message).toContain(quoted);
  });

  test('headers that is not a known mode', async () => {
    expect(await failure({ headers: 'ieft' as never })).toContain("got 'ieft'");
  });

  test('rates that is not an object', async () => {
    expect(await failure({ rates: '100/day' as never })).toContain("got '100/day'");
  });

  test('a store that does not implement ThrottleStore', async () => {
    expect(await failure({ store: { hit() {} } as never })).toContain('missing record()');
  });

  test('maxKeys with a store of your own', async () => {
    expect(await failure({ store: new MemoryThrottleStore(), maxKeys: 10 })).toContain('maxKeys applies to the default memory store only');
  });

  test('a clock or userId that is not a function', async () => {
    expect(await failure({ clock: 5 as never })).toContain('clock must be a function');
    expect(await failure({ userId: 'id' as never })).toContain("got 'id'");
  });

  describe('the clock is called once at boot and must return milliseconds', () => {
    test.each([
      ['a string', () => String(Date.now()), /got '\d+'/],
      ['a bigint', () => process.hrtime.bigint(), /got \d+n/],
      ['NaN', () => Number.NaN, /got NaN/],
      ['a negative number', () => -1, /got -1/],
      ['undefined', () => undefined, /got undefined/],
    ])('a clock returning %s fails the boot, naming the option and the value', async (_what, clock, quoted) => {
      const message = await failure({ clock: clock as never });
      expect(message).toMatch(/^ThrottlingModule: clock must return a finite, non-negative number of milliseconds/);
      expect(message).toMatch(quoted);
    });

    test('a clock that throws fails the boot with its error', async () => {
      const clock = () => {
        throw new Error('no time source');
      };
      expect(await failure({ clock })).toBe('ThrottlingModule: clock threw when called: no time source');
    });

    test('a clock in seconds since the epoch fails the boot with a hint', async () => {
      expect(await failure({ clock: () => Math.floor(Date.now() / 1000) })).toMatch(/^ThrottlingModule: clock returned \d+, which looks like seconds since the epoch: a clock must return milliseconds/);
    });

    test('a fake clock starting at 0 boots and throttles', async () => {
      const clock = new FakeClock();
      const app = await startApp('express', testModule({ options: { clock: clock.read, defaultThrottles: [UserThrottle], rates: { user: '2/min' } }, controllers: [DefaultsController] }));
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 3; i++) statuses.push((await request(app.getHttpServer()).get('/defaults')).status);
        expect(statuses).toEqual([200, 200, 429]);
        clock.advance(61);
        await request(app.getHttpServer()).get('/defaults').expect(200);
      } finally {
        await app.close();
      }
    });
  });

  test('forRoot(null) is refused with the module\'s own error naming the options; forRoot(undefined) means the defaults', async () => {
    expect(() => ThrottlingModule.forRoot(null as never)).toThrow(ThrottleConfigError);
    expect(() => ThrottlingModule.forRoot(null as never)).toThrow('ThrottlingModule.forRoot(): options must be an object (or nothing, for the defaults), got null');
    expect(() => ThrottlingModule.forRoot('5/min' as never)).toThrow("got '5/min'");
    expect(await bootError(testModule({ throttling: ThrottlingModule.forRoot(undefined), controllers: [DefaultsController] }))).toBeUndefined();
  });

  test('a forRootAsync factory that returns null fails the boot naming the options', async () => {
    const error = await bootError(testModule({ throttling: ThrottlingModule.forRootAsync({ useFactory: () => null as never }), controllers: [DefaultsController] }));
    expect(error).toBeInstanceOf(ThrottleConfigError);
    expect(error!.message).toBe('ThrottlingModule.forRootAsync(): options must be an object, got null');
  });

  test('recordAccesses that is not a boolean is quoted', () => {
    expect(() => ThrottlingModule.forRootAsync({ useFactory: () => ({}), recordAccesses: 'yes' as never })).toThrow("recordAccesses must be true or false, got 'yes'");
  });

  test('enforceAt that is neither guard nor interceptor', async () => {
    expect(await failure({ enforceAt: 'middleware' as never })).toContain("got 'middleware'");
  });
});
