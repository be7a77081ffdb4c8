/**
 * Algorithms, burst, cost and blockFor are validated when the app boots, as rates are: every error
 * names the throttle, the route and the bad value. Throttles sharing keys must also agree on how
 * they count.
 */
import { Controller, type DynamicModule, Get, Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ExpressAdapter } from '@nestjs/platform-express';
import { describe, expect, jest, test } from '@jest/globals';
import {
  CacheThrottle,
  type CountingAlgorithm,
  ThrottleClasses,
  ThrottleConfigError,
  ThrottleCost,
  ThrottlingModule,
  type ThrottlingModuleOptions,
  ThrottlingService,
  UserThrottle,
} from '../../lib/index.js';
import { bootError } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';

async function failure(options: ThrottlingModuleOptions, controllers: any[]): Promise<string> {
  return failureOf(ThrottlingModule.forRoot(options), controllers);
}

async function failureOf(throttling: DynamicModule, controllers: any[]): Promise<string> {
  const error = await bootError(testModule({ throttling, controllers }));
  expect(error).toBeInstanceOf(ThrottleConfigError);
  return error!.message;
}

@Controller('plain')
class PlainController {
  @Get() list() { return 'ok'; }
}

describe("the module's algorithm", () => {
  test.each(['sliding-log', 'sliding-window', 'gcra', 'fixed-window'])('%s boots', async (algorithm) => {
    const options = { algorithm: algorithm as CountingAlgorithm, defaultThrottles: [UserThrottle], rates: { user: '10/min' } };
    expect(await bootError(testModule({ options, controllers: [PlainController] }))).toBeUndefined();
  });

  test('an unknown one fails the boot, listing the four (forRoot and forRootAsync)', async () => {
    const options = { algorithm: 'leaky-bucket' as CountingAlgorithm };
    expect(await failure(options, [PlainController])).toBe("ThrottlingModule: algorithm must be one of 'sliding-log', 'sliding-window', 'gcra', 'fixed-window', got 'leaky-bucket'");
    expect(await failureOf(ThrottlingModule.forRootAsync({ useFactory: () => options }), [PlainController])).toBe(
      "ThrottlingModule.forRootAsync(): algorithm must be one of 'sliding-log', 'sliding-window', 'gcra', 'fixed-window', got 'leaky-bucket'",
    );
  });

  test('a burst given to a throttle that takes its algorithm from the module fails unless that is gcra', async () => {
    const Bursty = UserThrottle.with({ scope: 'api', rate: '10/min', burst: 5 });
    @Controller('api')
    class Api {
      @Get() @ThrottleClasses(Bursty) get() { return 'ok'; }
    }
    expect(await failure({}, [Api])).toBe(
      "Api.get: UserThrottle(api, 10/min): burst 5 applies to algorithm 'gcra' only, but this throttle counts with 'sliding-log' (the module's algorithm): set algorithm: 'gcra', or remove burst",
    );
    expect(await bootError(testModule({ options: { algorithm: 'gcra' }, controllers: [Api] }))).toBeUndefined();
  });
});

describe("a throttle's algorithm, burst, cost and blockFor", () => {
  test('an unknown algorithm names the route, the throttle and the value', async () => {
    @Controller('exports')
    class Exports {
      @Get() @ThrottleClasses(UserThrottle.with({ scope: 'exports', rate: '5/min', algorithm: 'token' as CountingAlgorithm })) get() { return 'ok'; }
    }
    expect(await failure({}, [Exports])).toBe("Exports.get: UserThrottle(exports, 5/min, token): algorithm must be one of 'sliding-log', 'sliding-window', 'gcra', 'fixed-window', got 'token'");
  });

  test('a fixed cost above the limit could never be admitted', async () => {
    @Controller('exports')
    class Exports {
      @Get() @ThrottleClasses(UserThrottle.with({ scope: 'exports', rate: '5/min', cost: 6 })) get() { return 'ok'; }
    }
    expect(await failure({}, [Exports])).toContain("Exports.get: UserThrottle(exports, 5/min), scope 'exports': cost 6 is above the limit of 5 per 60s");
  });

  test('blockFor must be a number of seconds >= 0', async () => {
    @Controller('login')
    class Login {
      @Get() @ThrottleClasses(UserThrottle.with({ scope: 'login', rate: '5/min', blockFor: -60 })) get() { return 'ok'; }
    }
    expect(await failure({}, [Login])).toBe('Login.get: UserThrottle(login, 5/min): blockFor must be a finite number of seconds >= 0, got -60');
  });

  test('blockFor on a Tastypie throttle is refused, in .with() and as a field of a subclass', async () => {
    expect(() => CacheThrottle.with({ blockFor: 60 } as never)).toThrow(ThrottleConfigError);
    expect(() => CacheThrottle.with({ blockFor: 60 } as never)).toThrow('blockFor is not supported on Tastypie throttles (got 60): use a rate throttle for brute-force blocks');
    class BlockingLogin extends CacheThrottle {
      blockFor = 900;
    }
    @Controller('login')
    class Login {
      @Get() @ThrottleClasses(BlockingLogin) get() { return 'ok'; }
    }
    const throttling = ThrottlingModule.forRoot({ algorithm: 'gcra' });
    expect(await failureOf(throttling, [Login])).toBe(
      "Login.get: BlockingLogin: blockFor is not supported on Tastypie throttles (got 900): use a rate throttle for brute-force blocks, e.g. UserThrottle.with({ scope: 'login', rate: '5/min', blockFor: 900 })",
    );
  });
});

describe('@ThrottleCost(n)', () => {
  test.each([0, -1, 1.5, Number.NaN, '2'])('%p fails the boot, naming the route', async (cost) => {
    @Controller('exports')
    class Exports {
      @Get() @ThrottleCost(cost as number) get() { return 'ok'; }
    }
    const message = await failure({ defaultThrottles: [UserThrottle], rates: { user: '10/min' } }, [Exports]);
    expect(message).toMatch(/^Exports\.get: @ThrottleCost\(\) takes a positive integer \(the units one request costs\), got /);
  });

  test("on a controller, it is checked for each of its handlers that has none of its own", async () => {
    @Controller('exports')
    @ThrottleCost(11)
    class Exports {
      @Get() @ThrottleCost(2) cheap() { return 'ok'; }
      @Get('all') everything() { return 'ok'; }
    }
    const message = await failure({ defaultThrottles: [UserThrottle], rates: { user: '10/min' } }, [Exports]);
    expect(message).toBe(
      "Exports.everything: UserThrottle, scope 'user': the route's @ThrottleCost(11) is above the limit of 10 per 60s, so no request could ever be admitted: lower the cost, or raise the rate",
    );
  });

  test('the handler beats the controller, so a controller cost too high for a handler with its own boots', async () => {
    @Controller('exports')
    @ThrottleCost(11)
    class Exports {
      @Get() @ThrottleCost(2) cheap() { return 'ok'; }
    }
    expect(await bootError(testModule({ options: { defaultThrottles: [UserThrottle], rates: { user: '10/min' } }, controllers: [Exports] }))).toBeUndefined();
  });

  test('on gcra, a cost above the burst is refused', async () => {
    @Controller('exports')
    class Exports {
      @Get() @ThrottleCost(4) @ThrottleClasses(UserThrottle.with({ scope: 'exports', rate: '100/hour', algorithm: 'gcra', burst: 3 })) get() { return 'ok'; }
    }
    expect(await failure({}, [Exports])).toContain("the route's @ThrottleCost(4) is above the burst of 3 (gcra: the most admitted at once)");
  });
});

describe('throttles that share keys must count them the same way', () => {
  test('two throttles naming one scope with different algorithms fail the boot, where different limits only warn', async () => {
    const Exact = UserThrottle.with({ scope: 'minutes', rate: '3/min' });
    const Counter = UserThrottle.with({ scope: 'minutes', rate: '3/min', algorithm: 'fixed-window' });
    @Controller('m')
    class Minutes {
      @Get('a') @ThrottleClasses(Exact) a() { return 'ok'; }
      @Get('b') @ThrottleClasses(Counter) b() { return 'ok'; }
    }
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      expect(await failure({}, [Minutes])).toBe(
        "Minutes.b: two throttles count in the same keys, throttle_minutes_<user id or address> (scope 'minutes'), with different algorithms, so each one's writes start the other's count afresh: " +
          "UserThrottle(minutes, 3/min) with rate '3/min', algorithm 'sliding-log' (on Minutes.a), and UserThrottle(minutes, 3/min, fixed-window) with rate '3/min', algorithm 'fixed-window' (on Minutes.b). " +
          "To keep them apart, give one of them a scope of its own, e.g. UserThrottle.with({ scope: 'minutes-2', rate: '3/min' })",
      );
    } finally {
      warn.mockRestore();
    }
  });

  test('two gcra throttles with different bursts in one scope fail the boot', async () => {
    @Controller('m')
    class Minutes {
      @Get('a') @ThrottleClasses(UserThrottle.with({ scope: 'api', rate: '60/min', algorithm: 'gcra', burst: 5 })) a() { return 'ok'; }
      @Get('b') @ThrottleClasses(UserThrottle.with({ scope: 'api', rate: '60/min', algorithm: 'gcra', burst: 10 })) b() { return 'ok'; }
    }
    const message = await failure({}, [Minutes]);
    expect(message).toContain('with different gcra bursts');
    expect(message).toContain("algorithm 'gcra', burst 5 (on Minutes.a)");
    expect(message).toContain("algorithm 'gcra', burst 10 (on Minutes.b)");
  });

  test("the module's algorithm counts: a throttle that keeps DRF's log beside one that takes the module's gcra", async () => {
    @Controller('m')
    class Mixed {
      @Get('a') @ThrottleClasses(UserThrottle) a() { return 'ok'; }
      @Get('b') @ThrottleClasses(UserThrottle.with({ algorithm: 'sliding-log' })) b() { return 'ok'; }
    }
    const message = await failure({ algorithm: 'gcra', rates: { user: '10/min' } }, [Mixed]);
    expect(message).toContain("with different algorithms");
    expect(message).toContain("algorithm 'gcra', burst 10");
    // The same algorithm everywhere boots.
    expect(await bootError(testModule({ options: { algorithm: 'sliding-log', rates: { user: '10/min' } }, controllers: [Mixed] }))).toBeUndefined();
  });

  test('a cost or a blockFor of its own does not stop two throttles sharing keys', async () => {
    @Controller('m')
    class Costs {
      @Get('a') @ThrottleClasses(UserThrottle) a() { return 'ok'; }
      @Get('b') @ThrottleCost(3) @ThrottleClasses(UserThrottle) b() { return 'ok'; }
      @Get('c') @ThrottleClasses(UserThrottle.with({ blockFor: 60, cost: 2 })) c() { return 'ok'; }
    }
    expect(await bootError(testModule({ options: { rates: { user: '10/min' } }, controllers: [Costs] }))).toBeUndefined();
  });

  test('a ThrottlingService spec with another algorithm in a scope the routes count in throws when first used', async () => {
    const testing = await Test.createTestingModule({ imports: [testModule({ options: { defaultThrottles: [UserThrottle], rates: { user: '100/day' } }, controllers: [PlainController] })] }).compile();
    const nest = testing.createNestApplication(new ExpressAdapter(), { logger: false });
    await nest.init();
    try {
      const throttling = nest.get(ThrottlingService);
      await expect(throttling.check({ identity: 'alice' }, { scope: 'user', algorithm: 'gcra' })).rejects.toThrow(
        "ThrottlingService: two throttles count in the same keys, throttle_user_<user id or address> (scope 'user'), with different algorithms",
      );
      await expect(throttling.check({ identity: 'alice' }, { scope: 'user', algorithm: 'gcra' })).rejects.toThrow("{ scope: 'user', algorithm: 'gcra' } with rates.user '100/day'");
      await expect(throttling.check({ identity: 'alice' }, { scope: 'own', rate: '5/min', algorithm: 'fixed-window', burst: 2 })).rejects.toThrow(
        "ThrottlingService: UserThrottle(own, 5/min, fixed-window): burst 2 applies to algorithm 'gcra' only",
      );
    } finally {
      await nest.close();
    }
  });
});
