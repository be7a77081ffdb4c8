import { describe, expect, test } from '@jest/globals';
import {
  AnonThrottle,
  type Evaluation,
  evaluateThrottles,
  type HitResult,
  MemoryThrottleStore,
  parseRate,
  type RateInput,
  type RecordedHit,
  ScopedThrottle,
  SimpleRateThrottle,
  type Throttle,
  type ThrottleContext,
  type ThrottleDecision,
  type ThrottleStore,
  type ThrottlingRuntime,
  UserThrottle,
  type WindowCheck,
} from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';

/** Counts the calls a real MemoryThrottleStore receives. */
class CountingStore implements ThrottleStore {
  readonly hitCalls: WindowCheck[][] = [];
  constructor(private readonly inner: MemoryThrottleStore) {}
  hit(checks: readonly WindowCheck[]): HitResult[] {
    this.hitCalls.push([...checks]);
    return this.inner.hit(checks);
  }
  record(hits: readonly RecordedHit[]): void {
    this.inner.record(hits);
  }
  peek(key: string, windowMs: number) {
    return this.inner.peek(key, windowMs);
  }
  reset(key: string): void {
    this.inner.reset(key);
  }
}

/** Wraps a store so that every answer is a promise, like a networked store. */
class AsyncStore implements ThrottleStore {
  constructor(private readonly inner: ThrottleStore) {}
  async hit(checks: readonly WindowCheck[]) {
    return this.inner.hit(checks);
  }
  async record(hits: readonly RecordedHit[]) {
    return this.inner.record(hits);
  }
  async peek(key: string, windowMs: number) {
    return this.inner.peek(key, windowMs);
  }
  async reset(key: string) {
    return this.inner.reset(key);
  }
}

function setup(rates: Record<string, RateInput> = {}) {
  const clock = new FakeClock();
  const memory = new MemoryThrottleStore({ clock: clock.read });
  const store = new CountingStore(memory);
  const runtime: ThrottlingRuntime = {
    store,
    clock: clock.read,
    rates: new Map(Object.entries(rates).map(([scope, rate]) => [scope, parseRate(rate)])),
  };
  /** Nest injects the runtime by property injection; without Nest the test does it. */
  const make = <T extends SimpleRateThrottle>(throttle: T): T => Object.assign(throttle, { runtime });
  return { clock, memory, store, runtime, make };
}

/** The evaluation of a synchronous run: fails the test if a promise came back. */
function now(evaluation: Evaluation | Promise<Evaluation>): Evaluation {
  expect(evaluation).not.toBeInstanceOf(Promise);
  return evaluation as Evaluation;
}

function context(overrides: Partial<ThrottleContext> = {}): ThrottleContext {
  return {
    transport: 'http',
    request: {},
    response: undefined,
    ident: '127.0.0.1',
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

describe('evaluateThrottles (DRF check_throttles)', () => {
  test('every throttle sees every request, even after one denied', () => {
    const { store } = setup();
    const seen: string[] = [];
    const deny: Throttle = { allowRequest: () => (seen.push('deny'), false) };
    const allow: Throttle = { allowRequest: () => (seen.push('allow'), true) };
    const evaluation = evaluateThrottles([deny, allow, deny], context(), store);
    expect(seen).toEqual(['deny', 'allow', 'deny']);
    expect(evaluation).toMatchObject({ allowed: false, wait: null });
  });

  test('a passing rate throttle records its hit even when another throttle denies', () => {
    const { store, memory, make } = setup();
    const burst = make(new (UserThrottle.with({ scope: 'burst', rate: '3/sec' }))());
    const sustained = make(new (UserThrottle.with({ scope: 'sustained', rate: '6/min' }))());
    for (let i = 0; i < 5; i++) evaluateThrottles([burst, sustained], context(), store);
    expect(memory.peek('throttle_burst_127.0.0.1', 1000).count).toBe(3);
    expect(memory.peek('throttle_sustained_127.0.0.1', 60_000).count).toBe(5);
  });

  test('the wait is the largest non-null wait among the throttles that denied', () => {
    const { store, clock, make } = setup();
    const burst = make(new (UserThrottle.with({ scope: 'burst', rate: '3/sec' }))());
    const sustained = make(new (UserThrottle.with({ scope: 'sustained', rate: '6/min' }))());
    const bare: Throttle = { allowRequest: () => false };
    for (let i = 0; i < 4; i++) evaluateThrottles([burst, sustained], context(), store);
    clock.set(1);
    for (let i = 0; i < 2; i++) evaluateThrottles([burst, sustained], context(), store);
    const evaluation = now(evaluateThrottles([bare, burst, sustained], context(), store));
    expect(evaluation.allowed).toBe(false);
    expect(evaluation.wait).toBe(59);
    expect(evaluation.decisions.map((d) => d.allowed)).toEqual([false, true, false]);
  });

  test('a bare boolean throttle denies with no wait', () => {
    const { store } = setup();
    expect(evaluateThrottles([{ allowRequest: () => false }], context(), store)).toEqual({ allowed: false, wait: null, decisions: [{ allowed: false, wait: null }] });
    expect(evaluateThrottles([{ allowRequest: () => true }], context(), store)).toEqual({ allowed: true, wait: null, decisions: [{ allowed: true, wait: null }] });
  });

  test('a decision object from a custom throttle is kept as is', () => {
    const { store } = setup();
    const decision: ThrottleDecision = { allowed: false, wait: 12.5, limit: 1, remaining: 0 };
    expect(evaluateThrottles([{ allowRequest: () => decision }], context(), store)).toEqual({ allowed: false, wait: 12.5, decisions: [decision] });
  });

  test('stays synchronous on a synchronous store with synchronous throttles', () => {
    const { store, make } = setup({ user: '5/min' });
    expect(now(evaluateThrottles([make(new UserThrottle()), { allowRequest: () => true }], context(), store)).allowed).toBe(true);
  });

  test('rate throttles are batched into ONE store.hit call alongside an async custom throttle', async () => {
    const { store, make } = setup({ user: '5/min', anon: '10/min', uploads: '2/min' });
    const order: string[] = [];
    const asyncCustom: Throttle = {
      allowRequest: async () => {
        order.push('custom');
        return true;
      },
    };
    const throttles: Throttle[] = [make(new UserThrottle()), asyncCustom, make(new AnonThrottle()), make(new ScopedThrottle()), make(new (UserThrottle.with({ scope: 'burst', rate: '1/sec' }))())];
    const evaluation = evaluateThrottles(throttles, context({ scope: 'uploads' }), store);
    expect(evaluation).toBeInstanceOf(Promise);
    const settled = await evaluation;
    expect(settled.allowed).toBe(true);
    expect(order).toEqual(['custom']);
    expect(store.hitCalls).toHaveLength(1);
    expect(store.hitCalls[0].map((check) => [check.key, check.limit, check.windowMs])).toEqual([
      ['throttle_user_127.0.0.1', 5, 60_000],
      ['throttle_anon_127.0.0.1', 10, 60_000],
      ['throttle_uploads_127.0.0.1', 2, 60_000],
      ['throttle_burst_127.0.0.1', 1, 1_000],
    ]);
    expect(settled.decisions).toHaveLength(5);
    expect(settled.decisions[3]).toMatchObject({ allowed: true, limit: 2, remaining: 1, policy: 'uploads' });
  });

  test('an async store is batched too, and the combined verdict waits for it', async () => {
    const { memory, make } = setup({ user: '1/min' });
    const counting = new CountingStore(memory);
    const store = new AsyncStore(counting);
    const throttles = [make(new UserThrottle()), make(new (UserThrottle.with({ scope: 'burst', rate: '5/sec' }))())];
    expect((await evaluateThrottles(throttles, context(), store)).allowed).toBe(true);
    const second = await evaluateThrottles(throttles, context(), store);
    expect(second).toMatchObject({ allowed: false, wait: 60 });
    expect(counting.hitCalls.map((call) => call.length)).toEqual([2, 2]);
  });

  test('throttles with nothing to check (anonymous-only throttle and a user; unscoped ScopedThrottle) send no check', () => {
    const { store, make } = setup({ anon: '1/min' });
    const evaluation = evaluateThrottles([make(new AnonThrottle()), make(new ScopedThrottle())], context({ userId: '42', user: { id: 42 } }), store);
    expect(now(evaluation).allowed).toBe(true);
    expect(store.hitCalls).toHaveLength(0);
  });

  test('a rate of null switches the throttle off', () => {
    const { store, make } = setup({ user: null });
    for (let i = 0; i < 3; i++) expect(now(evaluateThrottles([make(new UserThrottle())], context(), store)).allowed).toBe(true);
    expect(store.hitCalls).toHaveLength(0);
  });

  test('a rate throttle that overrides allowRequest is asked on its own, not batched', async () => {
    const { store, make } = setup({ user: '5/min' });
    class Custom extends UserThrottle {
      override async allowRequest(ctx: ThrottleContext) {
        const verdict = await super.allowRequest(ctx);
        return verdict;
      }
    }
    const evaluation = await evaluateThrottles([make(new Custom()), make(new (UserThrottle.with({ scope: 'other', rate: '5/min' }))())], context(), store);
    expect(evaluation.allowed).toBe(true);
    expect(store.hitCalls.map((call) => call.map((check) => check.key))).toEqual([['throttle_user_127.0.0.1'], ['throttle_other_127.0.0.1']]);
  });

  test('a single denial with a wait of 0 gives a wait of 0, not an unknown wait', () => {
    const { store } = setup();
    const denyNow: Throttle = { allowRequest: () => ({ allowed: false, wait: 0 }) };
    expect(now(evaluateThrottles([denyNow], context(), store))).toMatchObject({ allowed: false, wait: 0 });
  });

  test('a custom throttle that rejects rejects the evaluation', async () => {
    const { store, make } = setup({ user: '5/min' });
    const failing: Throttle = { allowRequest: () => Promise.reject(new Error('plans service down')) };
    await expect(evaluateThrottles([make(new UserThrottle()), failing], context(), store)).rejects.toThrow('plans service down');
  });

  test('decisions carry what headers need: limit, remaining, reset, policy, window', () => {
    const { store, clock, make } = setup({ user: '3/min' });
    const throttle = make(new UserThrottle());
    evaluateThrottles([throttle], context(), store);
    clock.set(20);
    const allowed = now(evaluateThrottles([throttle], context(), store));
    expect(allowed.decisions[0]).toEqual({ allowed: true, wait: null, limit: 3, remaining: 1, reset: 40, policy: 'user', window: 60 });
    evaluateThrottles([throttle], context(), store);
    const denied = now(evaluateThrottles([throttle], context(), store));
    expect(denied.decisions[0]).toEqual({ allowed: false, wait: 40, limit: 3, remaining: 0, reset: 40, policy: 'user', window: 60 });
  });
});

describe('SimpleRateThrottle (DRF)', () => {
  test('a subclass whose cache key does not come from formatKey() still has its hits recorded', () => {
    const { store, make } = setup();
    class ByIdent extends SimpleRateThrottle {
      override rate = '1/min';
      getCacheKey(ctx: ThrottleContext) {
        return `custom:${ctx.ident}`;
      }
    }
    const throttle = make(new ByIdent());
    expect(now(evaluateThrottles([throttle], context(), store)).allowed).toBe(true);
    expect(now(evaluateThrottles([throttle], context(), store))).toMatchObject({ allowed: false, wait: 60 });
  });

  test('a subclass with neither a scope nor a rate fails validation, saying so', () => {
    const { make } = setup({ user: '5/min' });
    class Unconfigured extends SimpleRateThrottle {
      getCacheKey(ctx: ThrottleContext) {
        return ctx.ident;
      }
    }
    expect(() => make(new Unconfigured()).validate(undefined, 'GET /x')).toThrow('GET /x: Unconfigured has neither a scope nor a rate');
  });

  test('a rate lowered below the hits already recorded denies with an unknown wait (DRF returns None)', () => {
    const { store, make } = setup();
    const generous = make(new (UserThrottle.with({ scope: 'a', rate: '5/min' }))());
    const strict = make(new (UserThrottle.with({ scope: 'a', rate: '2/min' }))());
    for (let i = 0; i < 5; i++) expect(now(evaluateThrottles([generous], context(), store)).allowed).toBe(true);
    const evaluation = now(evaluateThrottles([strict], context(), store));
    expect(evaluation).toMatchObject({ allowed: false, wait: null });
    expect(evaluation.decisions[0]).toMatchObject({ allowed: false, wait: null, limit: 2, remaining: 0 });
  });

  test('a rate of 0 denies a fresh key with the whole window as its reset', () => {
    const { store, make } = setup();
    const closed = make(new (UserThrottle.with({ scope: 'closed', rate: '0/min' }))());
    const evaluation = now(evaluateThrottles([closed], context(), store));
    expect(evaluation.allowed).toBe(false);
    expect(evaluation.decisions[0]).toMatchObject({ allowed: false, limit: 0, remaining: 0, reset: 60, window: 60 });
  });

  test('an anonymous-only throttle that overrides allowRequest lets an authenticated user through', async () => {
    const { store, make } = setup({ anon: '1/min' });
    class Logged extends AnonThrottle {
      override async allowRequest(ctx: ThrottleContext) {
        return super.allowRequest(ctx);
      }
    }
    const throttle = make(new Logged());
    const user = context({ userId: '42', user: { id: 42 } });
    expect((await evaluateThrottles([throttle], user, store)).allowed).toBe(true);
    expect((await evaluateThrottles([throttle], user, store)).allowed).toBe(true);
    expect(store.hitCalls).toHaveLength(0);
  });
});
