/**
 * SimpleRateThrottle's part of the algorithms and cost: the check it plans for each option, the
 * decision it makes of each algorithm's outcome (and the headers and Retry-After that follow), and
 * the boot validation of algorithm, burst, cost and blockFor. The store is a double: either answers
 * given by the test, or the algorithm cores of lib/core/algorithms applied to one key's state.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import type { AlgorithmOutcome, BlockableState } from '../../lib/core/algorithms/algorithm-outcome.js';
import { hitWithBlock } from '../../lib/core/algorithms/block-for.js';
import { hitFixedWindow, newFixedWindowState } from '../../lib/core/algorithms/fixed-window.js';
import { hitGcra, newGcraState } from '../../lib/core/algorithms/gcra.js';
import { hitSlidingWindow, newSlidingWindowState } from '../../lib/core/algorithms/sliding-window.js';
import { retryAfterSeconds } from '../../lib/core/wait.js';
import { documentedPolicies, policyHeaderValue } from '../../lib/nest/openapi/throttled-responses.js';
import type { RoutePlan } from '../../lib/nest/enforcement/throttle-registry.js';
import {
  type CountingAlgorithm,
  evaluateThrottles,
  type HitResult,
  parseRate,
  type RateInput,
  type RateThrottleOverrides,
  ScopedThrottle,
  SimpleRateThrottle,
  ThrottleConfigError,
  type ThrottleContext,
  type ThrottleDecision,
  type ThrottleStore,
  type ThrottlingRuntime,
  UserThrottle,
  type WindowCheck,
  writeRateLimitHeaders,
} from '../../lib/index.js';

function context(overrides: Partial<ThrottleContext> = {}): ThrottleContext {
  return {
    transport: 'http',
    request: {},
    response: undefined,
    ident: '10.0.0.1',
    user: undefined,
    userId: null,
    scope: undefined,
    controller: undefined,
    handler: undefined,
    method: 'GET',
    url: '/',
    ...overrides,
  };
}

/** A store that answers what the test queued, and keeps the checks it was asked. */
class ScriptedStore implements ThrottleStore {
  readonly asked: WindowCheck[][] = [];
  constructor(private readonly answer: (checks: readonly WindowCheck[]) => HitResult[]) {}
  hit(checks: readonly WindowCheck[]): HitResult[] {
    this.asked.push([...checks]);
    return this.answer(checks);
  }
  record(): void {}
  peek() {
    return { count: 0, oldest: null, now: 0 };
  }
  reset(): void {}
}

function runtimeWith(options: { rates?: Record<string, RateInput>; algorithm?: CountingAlgorithm; store?: ThrottleStore } = {}): ThrottlingRuntime {
  const rates = new Map(Object.entries(options.rates ?? {}).map(([scope, rate]) => [scope, parseRate(rate)]));
  return { store: options.store ?? new ScriptedStore(() => []), rates, clock: () => 0, algorithm: options.algorithm };
}

/** A UserThrottle variant with its runtime injected by hand, as Nest's property injection would. */
function userThrottle(overrides: RateThrottleOverrides, runtime: ThrottlingRuntime = runtimeWith()): SimpleRateThrottle {
  return Object.assign(new (UserThrottle.with(overrides))(), { runtime });
}

/** One key's state under the algorithm cores: what a store does for one key, without the store. */
function coreFor(algorithm: Exclude<CountingAlgorithm, 'sliding-log'>, blockForMs = 0): (check: WindowCheck, now: number) => AlgorithmOutcome {
  const state: BlockableState = algorithm === 'gcra' ? newGcraState() : algorithm === 'fixed-window' ? newFixedWindowState() : newSlidingWindowState();
  const hit = algorithm === 'gcra' ? hitGcra : algorithm === 'fixed-window' ? hitFixedWindow : hitSlidingWindow;
  return (check, now) => {
    const core = { limit: check.limit, periodMs: check.windowMs, cost: check.cost ?? 1, burst: check.burst ?? check.limit };
    return hitWithBlock(state as never, core, now, check.blockMs ?? 0, algorithm === 'gcra' ? core.burst : core.limit, hit as never);
  };
}

/** The HitResult a store reports for a counter algorithm: the outcome, no hits. */
function counterResult(outcome: AlgorithmOutcome, now: number): HitResult {
  return { allowed: outcome.allowed, count: 0, oldest: null, now, outcome };
}

function headersOf(decisions: ThrottleDecision[]): Record<string, string> {
  const written: Record<string, string> = {};
  writeRateLimitHeaders((name, value) => (written[name] = value), decisions, 'ietf');
  return written;
}

describe('planCheck(): the store check of each option, and nothing more', () => {
  test("a plain DRF throttle plans exactly DRF's check: no algorithm, cost, burst, blockMs or allOrNothing field", () => {
    const throttle = userThrottle({ scope: 'api', rate: '5/min' });
    expect(throttle.planCheck(context())).toStrictEqual({ key: 'throttle_api_10.0.0.1', limit: 5, windowMs: 60_000, record: true });
  });

  test("'sliding-log' named explicitly, and blockFor 0, are DRF's check too", () => {
    expect(userThrottle({ scope: 'api', rate: '5/min', algorithm: 'sliding-log', blockFor: 0 }).planCheck(context())).toStrictEqual({
      key: 'throttle_api_10.0.0.1',
      limit: 5,
      windowMs: 60_000,
      record: true,
    });
  });

  test.each(['sliding-window', 'fixed-window'] as const)('%s carries its name and no burst', (algorithm) => {
    expect(userThrottle({ scope: 'api', rate: '5/min', algorithm }).planCheck(context())).toStrictEqual({
      key: 'throttle_api_10.0.0.1',
      limit: 5,
      windowMs: 60_000,
      record: true,
      algorithm,
    });
  });

  test("gcra carries its burst: the throttle's, else the rate's limit", () => {
    expect(userThrottle({ scope: 'api', rate: '10/min', algorithm: 'gcra', burst: 3 }).planCheck(context())).toMatchObject({ algorithm: 'gcra', burst: 3, limit: 10 });
    expect(userThrottle({ scope: 'api', rate: '10/min', algorithm: 'gcra' }).planCheck(context())).toMatchObject({ algorithm: 'gcra', burst: 10 });
  });

  test('gcra on a limit of 0 admits nothing: its burst is 0 whatever was set', () => {
    expect(userThrottle({ scope: 'api', rate: '0/min', algorithm: 'gcra', burst: 3 }).planCheck(context())).toMatchObject({ limit: 0, burst: 0 });
  });

  test("the module's algorithm applies to a throttle that names none; the throttle's own beats it", () => {
    const runtime = runtimeWith({ rates: { user: '5/min' }, algorithm: 'fixed-window' });
    expect(Object.assign(new UserThrottle(), { runtime }).planCheck(context())).toMatchObject({ algorithm: 'fixed-window' });
    expect(userThrottle({ algorithm: 'gcra' }, runtime).planCheck(context())).toMatchObject({ algorithm: 'gcra', burst: 5 });
    expect(userThrottle({ algorithm: 'sliding-log' }, runtime).planCheck(context())).toStrictEqual({ key: 'throttle_user_10.0.0.1', limit: 5, windowMs: 60_000, record: true });
  });

  test('a cost makes the check all or nothing; a cost of 1 is not written, as 1 is the default', () => {
    expect(userThrottle({ scope: 'api', rate: '5/min', cost: 3 }).planCheck(context())).toStrictEqual({
      key: 'throttle_api_10.0.0.1',
      limit: 5,
      windowMs: 60_000,
      record: true,
      cost: 3,
      allOrNothing: true,
    });
    expect(userThrottle({ scope: 'api', rate: '5/min', cost: 1 }).planCheck(context())).toStrictEqual({
      key: 'throttle_api_10.0.0.1',
      limit: 5,
      windowMs: 60_000,
      record: true,
      allOrNothing: true,
    });
  });

  test("the route's @ThrottleCost (ctx.cost) is the cost unless the throttle has its own", () => {
    expect(userThrottle({ scope: 'api', rate: '5/min' }).planCheck(context({ cost: 4 }))).toMatchObject({ cost: 4, allOrNothing: true });
    expect(userThrottle({ scope: 'api', rate: '5/min', cost: 2 }).planCheck(context({ cost: 4 }))).toMatchObject({ cost: 2, allOrNothing: true });
  });

  test('a cost function is asked on every request, with the request context', () => {
    const seen: string[] = [];
    const throttle = userThrottle({ scope: 'api', rate: '100/min', cost: (ctx) => (seen.push(ctx.url), ctx.url.length) });
    expect(throttle.planCheck(context({ url: '/ab' }))).toMatchObject({ cost: 3 });
    expect(throttle.planCheck(context({ url: '/abcdef' }))).toMatchObject({ cost: 7 });
    expect(seen).toEqual(['/ab', '/abcdef']);
  });

  test.each([0, -2, 1.5, Number.NaN, '2', undefined])('a cost function answering %p fails the request with a ThrottleConfigError naming it', (answer) => {
    const Upload = UserThrottle.with({ scope: 'uploads', rate: '100/min', cost: () => answer as number });
    const throttle = Object.assign(new Upload(), { runtime: runtimeWith() });
    expect(() => throttle.planCheck(context())).toThrow(ThrottleConfigError);
    expect(() => throttle.planCheck(context())).toThrow(`${Upload.name}.cost: a request's cost must be a positive integer, got `);
  });

  test('blockFor is sent in whole ms, rounded up', () => {
    expect(userThrottle({ scope: 'login', rate: '5/min', blockFor: 900 }).planCheck(context())).toStrictEqual({
      key: 'throttle_login_10.0.0.1',
      limit: 5,
      windowMs: 60_000,
      record: true,
      blockMs: 900_000,
    });
    expect(userThrottle({ scope: 'login', rate: '5/min', blockFor: 0.0015 }).planCheck(context())).toMatchObject({ blockMs: 2 });
  });

  test('property: only the fields that differ from the defaults are sent, and DRF gets its check for the defaults', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<CountingAlgorithm | undefined>(undefined, 'sliding-log', 'sliding-window', 'gcra', 'fixed-window'),
        fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: 3600 }), { nil: undefined }),
        (algorithm, burst, cost, routeCost, blockFor) => {
          const throttle = userThrottle({ scope: 'p', rate: '50/min', algorithm, burst: algorithm === 'gcra' ? burst : undefined, cost, blockFor });
          const check = throttle.planCheck(context({ cost: routeCost }))!;
          const counted = algorithm ?? 'sliding-log';
          const expected: Record<string, unknown> = { key: 'throttle_p_10.0.0.1', limit: 50, windowMs: 60_000, record: true };
          if (counted !== 'sliding-log') expected.algorithm = counted;
          if (counted === 'gcra') expected.burst = burst ?? 50;
          const units = cost ?? routeCost ?? 1;
          if (cost !== undefined || routeCost !== undefined) {
            if (units !== 1) expected.cost = units;
            expected.allOrNothing = true;
          }
          if (blockFor) expected.blockMs = blockFor * 1000;
          expect(check).toStrictEqual(expected);
        },
      ),
    );
  });
});

describe('decide(): a decision from each algorithm, for Retry-After, the DRF message and the IETF headers', () => {
  test('gcra: q = burst, w = the time the burst takes to refill, r = units that could be taken at once, t = until the next is earned back', () => {
    // 10/min: one unit every 6 s; a burst of 5 refills in 30 s.
    const throttle = userThrottle({ scope: 'api', rate: '10/min', algorithm: 'gcra', burst: 5 });
    const core = coreFor('gcra');
    const check = throttle.planCheck(context())!;
    const first = throttle.decide(check, counterResult(core(check, 0), 0), context());
    expect(first).toEqual({ allowed: true, wait: null, limit: 5, remaining: 4, reset: 6, policy: 'api', window: 30 });
    expect(headersOf([first])).toEqual({ 'ratelimit-policy': '"api";q=5;w=30', ratelimit: '"api";r=4;t=6' });
    for (let i = 0; i < 4; i++) core(check, 0);
    const denied = throttle.decide(check, counterResult(core(check, 1_000), 1_000), context());
    expect(denied).toEqual({ allowed: false, wait: 5, limit: 5, remaining: 0, reset: 5, policy: 'api', window: 30 });
    expect(retryAfterSeconds(denied.wait)).toBe(5);
  });

  test('the OpenAPI document announces the policies the headers send, gcra with its burst and refill time', () => {
    const runtime = runtimeWith({ rates: { user: '100/day' }, algorithm: 'fixed-window' });
    const throttles = [userThrottle({ scope: 'api', rate: '10/min', algorithm: 'gcra', burst: 5 }, runtime), Object.assign(new UserThrottle(), { runtime })];
    const plan = { throttles, scope: undefined } as unknown as RoutePlan;
    expect(policyHeaderValue(documentedPolicies(plan))).toBe('"api";q=5;w=30, "user";q=100;w=86400');
  });

  test("gcra with the default burst reports the rate's own limit and period", () => {
    const throttle = userThrottle({ scope: 'api', rate: '3/sec', algorithm: 'gcra' });
    const check = throttle.planCheck(context())!;
    const decision = throttle.decide(check, counterResult(coreFor('gcra')(check, 0), 0), context());
    expect(decision).toMatchObject({ limit: 3, window: 1, remaining: 2 });
    expect(decision.reset).toBeCloseTo(0.334, 3);
  });

  test('fixed-window: remaining of the limit, reset and wait at the window boundary', () => {
    const throttle = userThrottle({ scope: 'api', rate: '2/min', algorithm: 'fixed-window' });
    const core = coreFor('fixed-window');
    const check = throttle.planCheck(context())!;
    core(check, 10_000);
    const second = throttle.decide(check, counterResult(core(check, 15_000), 15_000), context());
    expect(second).toEqual({ allowed: true, wait: null, limit: 2, remaining: 0, reset: 45, policy: 'api', window: 60 });
    const third = throttle.decide(check, counterResult(core(check, 20_000), 20_000), context());
    expect(third).toEqual({ allowed: false, wait: 40, limit: 2, remaining: 0, reset: 40, policy: 'api', window: 60 });
  });

  test('sliding-window: the estimate weighs the previous window', () => {
    const throttle = userThrottle({ scope: 'api', rate: '4/min', algorithm: 'sliding-window' });
    const core = coreFor('sliding-window');
    const check = throttle.planCheck(context())!;
    for (let i = 0; i < 4; i++) core(check, 0);
    // 30 s into the next window, the previous 4 weigh 2: two more fit, a third does not.
    const decisions = [90_000, 90_000, 90_000].map((at) => throttle.decide(check, counterResult(core(check, at), at), context()));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, false]);
    expect(decisions[2]).toMatchObject({ limit: 4, remaining: 0, window: 60, wait: 15 });
  });

  test('a sliding log with a cost is decided from its outcome, in units', () => {
    const throttle = userThrottle({ scope: 'api', rate: '10/min', cost: 4 });
    const check = throttle.planCheck(context())!;
    const outcome: AlgorithmOutcome = { allowed: false, limit: 10, remaining: 2, resetMs: 20_000, waitMs: 35_000 };
    expect(throttle.decide(check, { allowed: false, count: 8, oldest: 0, now: 40_000, outcome }, context())).toEqual({
      allowed: false,
      wait: 35,
      limit: 10,
      remaining: 2,
      reset: 20,
      policy: 'api',
      window: 60,
    });
  });

  test('a request that can never be admitted (cost above the limit) is denied with no wait, so no Retry-After', () => {
    const throttle = userThrottle({ scope: 'api', rate: '10/min', algorithm: 'fixed-window' });
    const check = { ...throttle.planCheck(context({ cost: 20 }))! };
    const decision = throttle.decide(check, counterResult(coreFor('fixed-window')(check, 0), 0), context());
    expect(decision).toMatchObject({ allowed: false, wait: null });
    expect(retryAfterSeconds(decision.wait)).toBeNull();
  });

  test('during a block: nothing remains, and reset and wait are what is left of it', () => {
    const throttle = userThrottle({ scope: 'login', rate: '2/min', algorithm: 'fixed-window', blockFor: 300 });
    const core = coreFor('fixed-window', 300_000);
    const check = throttle.planCheck(context())!;
    core(check, 0);
    core(check, 0);
    expect(throttle.decide(check, counterResult(core(check, 1_000), 1_000), context())).toMatchObject({ allowed: false, wait: 300, remaining: 0, reset: 300 });
    expect(throttle.decide(check, counterResult(core(check, 100_000), 100_000), context())).toMatchObject({ allowed: false, wait: 201, remaining: 0 });
  });

  test('an uncounted answer (store outage under allow) reports no quota, with or without an outcome', () => {
    const throttle = userThrottle({ scope: 'api', rate: '10/min', algorithm: 'gcra' });
    const check = throttle.planCheck(context())!;
    const outcome: AlgorithmOutcome = { allowed: true, limit: 10, remaining: 9, resetMs: 6_000, waitMs: 0 };
    expect(throttle.decide(check, { allowed: true, count: 0, oldest: null, now: 0, uncounted: true, outcome }, context())).toEqual({ allowed: true, wait: null });
  });

  test("without an outcome the decision is DRF's: the wait shares the oldest hit's remaining time among the requests left", () => {
    const throttle = userThrottle({ scope: 'api', rate: '3/min' });
    const check = throttle.planCheck(context())!;
    expect(throttle.decide(check, { allowed: false, count: 3, oldest: 0, now: 30_000 }, context())).toEqual({
      allowed: false,
      wait: 30,
      limit: 3,
      remaining: 0,
      reset: 30,
      policy: 'api',
      window: 60,
    });
  });

  test.each(['sliding-window', 'gcra', 'fixed-window'] as const)(
    'property (%s): a client that waits the Retry-After it was told is admitted',
    (algorithm) => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 20 }),
          fc.constantFrom(1_000, 60_000, 3_600_000),
          fc.integer({ min: 1, max: 20 }),
          fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 40 }),
          fc.integer({ min: 1, max: 3 }),
          (limit, periodMs, burstSeed, gaps, cost) => {
            const burst = algorithm === 'gcra' ? burstSeed : undefined;
            const capacity = burst ?? limit;
            fc.pre(cost <= capacity);
            const throttle = userThrottle({ scope: 'p', rate: { limit, duration: periodMs / 1000 }, algorithm, burst, cost });
            const core = coreFor(algorithm);
            const check = throttle.planCheck(context())!;
            let now = 0;
            for (const gap of gaps) {
              now += gap;
              const decision = throttle.decide(check, counterResult(core(check, now), now), context());
              if (decision.allowed) continue;
              expect(decision.wait).not.toBeNull();
              now += (retryAfterSeconds(decision.wait) ?? 0) * 1000;
              expect(throttle.decide(check, counterResult(core(check, now), now), context()).allowed).toBe(true);
            }
          },
        ),
      );
    },
  );
});

describe('evaluateThrottles() with costs: one store call, all or nothing', () => {
  test("every check of a request with a cost is sent all or nothing, a plain request's checks as DRF's", () => {
    const store = new ScriptedStore((checks) => checks.map(() => ({ allowed: true, count: 0, oldest: null, now: 0 })));
    const runtime = runtimeWith({ store });
    const burst = userThrottle({ scope: 'burst', rate: '10/sec' }, runtime);
    const sustained = userThrottle({ scope: 'sustained', rate: '100/hour', algorithm: 'gcra' }, runtime);
    evaluateThrottles([burst, sustained], context({ cost: 5 }), store);
    evaluateThrottles([burst, sustained], context(), store);
    expect(store.asked).toEqual([
      [
        { key: 'throttle_burst_10.0.0.1', limit: 10, windowMs: 1_000, record: true, cost: 5, allOrNothing: true },
        { key: 'throttle_sustained_10.0.0.1', limit: 100, windowMs: 3_600_000, record: true, algorithm: 'gcra', burst: 100, cost: 5, allOrNothing: true },
      ],
      [
        { key: 'throttle_burst_10.0.0.1', limit: 10, windowMs: 1_000, record: true },
        { key: 'throttle_sustained_10.0.0.1', limit: 100, windowMs: 3_600_000, record: true, algorithm: 'gcra', burst: 100 },
      ],
    ]);
  });
});

describe('validate(): algorithm, burst, cost and blockFor are checked at boot, naming the throttle, the route and the value', () => {
  const where = 'UploadsController.create';
  const validate = (overrides: RateThrottleOverrides, options: { routeCost?: number; algorithm?: CountingAlgorithm; rates?: Record<string, RateInput> } = {}) => {
    const throttle = userThrottle({ scope: 'api', rate: '10/min', ...overrides }, runtimeWith({ algorithm: options.algorithm, rates: options.rates }));
    return () => throttle.validate(undefined, where, options.routeCost);
  };
  const message = (run: () => void): string => {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(ThrottleConfigError);
      return (error as Error).message;
    }
    throw new Error('expected a ThrottleConfigError');
  };

  test('good options pass', () => {
    expect(validate({ algorithm: 'gcra', burst: 10, cost: 10, blockFor: 60 })).not.toThrow();
    expect(validate({ algorithm: 'fixed-window', cost: (ctx) => ctx.url.length, blockFor: 0.5 })).not.toThrow();
    expect(validate({}, { routeCost: 10 })).not.toThrow();
  });

  test('an unknown algorithm lists the four', () => {
    const text = message(validate({ algorithm: 'token-bucket' as CountingAlgorithm }));
    expect(text).toBe(`${where}: UserThrottle(api, 10/min, token-bucket): algorithm must be one of 'sliding-log', 'sliding-window', 'gcra', 'fixed-window', got 'token-bucket'`);
  });

  test("a burst on an algorithm without one, the throttle's or the module's", () => {
    expect(message(validate({ algorithm: 'sliding-window', burst: 5 }))).toBe(
      `${where}: UserThrottle(api, 10/min, sliding-window): burst 5 applies to algorithm 'gcra' only, but this throttle counts with 'sliding-window': set algorithm: 'gcra', or remove burst`,
    );
    expect(message(validate({ burst: 5 }))).toContain("counts with 'sliding-log' (the module's algorithm)");
    expect(validate({ burst: 5 }, { algorithm: 'gcra' })).not.toThrow();
  });

  test.each([0, -1, 2.5, Number.NaN, '5'])('a burst of %p', (burst) => {
    expect(message(validate({ algorithm: 'gcra', burst: burst as number }))).toMatch(/^UploadsController\.create: UserThrottle\(api, 10\/min, gcra\): burst must be a positive integer \(the requests admitted at once\), got /);
  });

  test.each([0, -1, 2.5, Infinity, '5', null])('a cost of %p', (cost) => {
    expect(message(validate({ cost: cost as number }))).toMatch(/^UploadsController\.create: UserThrottle\(api, 10\/min\): cost must be a positive integer or a function \(ctx\) => number, got /);
  });

  test('a fixed cost above the limit, or above the burst on gcra, could never be admitted', () => {
    expect(message(validate({ cost: 11 }))).toBe(
      `${where}: UserThrottle(api, 10/min), scope 'api': cost 11 is above the limit of 10 per 60s, so no request could ever be admitted: lower the cost, or raise the rate`,
    );
    expect(message(validate({ algorithm: 'gcra', burst: 4, cost: 5 }))).toBe(
      `${where}: UserThrottle(api, 10/min, gcra), scope 'api': cost 5 is above the burst of 4 (gcra: the most admitted at once), so no request could ever be admitted: lower the cost, or raise the burst`,
    );
    expect(message(validate({}, { routeCost: 12 }))).toContain("the route's @ThrottleCost(12) is above the limit of 10 per 60s");
  });

  test("the throttle's own cost is the one checked: the route's does not apply to it", () => {
    expect(validate({ cost: 1 }, { routeCost: 1_000 })).not.toThrow();
    expect(validate({ cost: () => 1_000 }, { routeCost: 1_000 })).not.toThrow();
  });

  test('a limit of 0 shuts the scope whatever the cost, so it is not a mistake', () => {
    expect(validate({ rate: '0/min', cost: 5 })).not.toThrow();
  });

  test.each([-1, Number.NaN, Infinity, '60', 1e300])('blockFor %p', (blockFor) => {
    expect(message(validate({ blockFor: blockFor as number }))).toMatch(/^UploadsController\.create: UserThrottle\(api, 10\/min\): blockFor must be a finite number of seconds >= 0, got /);
  });

  test("options set as fields of a subclass are checked the same way", () => {
    class Exports extends UserThrottle {
      override scope = 'exports';
      override algorithm = 'leaky' as CountingAlgorithm;
    }
    const throttle = Object.assign(new Exports(), { runtime: runtimeWith({ rates: { exports: '5/min' } }) });
    expect(() => throttle.validate(undefined, where)).toThrow(`${where}: Exports: algorithm must be one of`);
  });

  test('ScopedThrottle on an unscoped route still has its options checked', () => {
    const Scoped = ScopedThrottle.with({ algorithm: 'gcra', burst: 0 });
    const throttle = Object.assign(new Scoped(), { runtime: runtimeWith() });
    expect(() => throttle.validate(undefined, where)).toThrow('burst must be a positive integer');
  });
});
