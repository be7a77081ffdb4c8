import { describe, expect, test } from '@jest/globals';
import { type AccessEntry, CacheDBThrottle, CacheThrottle, MemoryThrottleStore, NoThrottle, TastypieThrottleAdapter, ThrottleConfigError, type ThrottleContext } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';

/** A throttle wired to a memory store and a fake clock, as the module would wire it. */
function cacheThrottle(options: { throttleAt?: number; timeframe?: number; expiration?: number } = {}) {
  const clock = new FakeClock();
  clock.set(1_700_000_000);
  const store = new MemoryThrottleStore({ clock: clock.read });
  const Variant = Object.keys(options).length === 0 ? CacheThrottle : CacheThrottle.with(options);
  const throttle = Object.assign(new Variant(), { runtime: { store, rates: new Map(), clock: clock.read } });
  /** Tastypie's len(cache.get('<identifier>_accesses')): the accesses inside the window. */
  const accesses = (identifier: string) => (store.peek(throttle.cacheKey(identifier), throttle.timeframe * 1000) as { count: number }).count;
  return { throttle, clock, store, accesses };
}

function context(overrides: Partial<ThrottleContext> = {}): ThrottleContext {
  return { transport: 'http', request: {}, response: undefined, ident: '10.0.0.1', user: undefined, userId: null, scope: undefined, controller: undefined, handler: undefined, method: 'GET', url: '/notes/', ...overrides };
}

// Ported from django-tastypie tests/core/tests/throttle.py, NoThrottleTestCase.
describe('NoThrottle (Tastypie BaseThrottle)', () => {
  test('defaults are 150 accesses per 3600 seconds, kept 604800 seconds', () => {
    const throttle = new NoThrottle();
    expect(throttle.throttleAt).toBe(150);
    expect(throttle.timeframe).toBe(3600);
    expect(throttle.expiration).toBe(604800);
  });

  test('with() configures throttleAt, timeframe and expiration', () => {
    const throttle = new (NoThrottle.with({ throttleAt: 50, timeframe: 60 * 30, expiration: 1 }))();
    expect(throttle.throttleAt).toBe(50);
    expect(throttle.timeframe).toBe(1800);
    expect(throttle.expiration).toBe(1);
    expect(throttle).toBeInstanceOf(NoThrottle);
  });

  test('never throttles and records nothing', () => {
    const throttle = new NoThrottle();
    expect(throttle.shouldBeThrottled('foobaz')).toBe(false);
    expect(throttle.accessed('foobaz')).toBeUndefined();
  });

  test('cache keys keep identifiers apart that Tastypie would merge, and hash long ones', () => {
    const throttle = new NoThrottle();
    expect(throttle.cacheKey('daniel')).toBe('tastypie:daniel_accesses');
    expect(throttle.cacheKey('Mr. Pants')).not.toBe(throttle.cacheKey('MrPants'));
    expect(throttle.cacheKey('x'.repeat(10_000)).length).toBeLessThan(100);
    expect(new (NoThrottle.with({ scope: 'login' }))().cacheKey('daniel')).toBe('tastypie:login:daniel_accesses');
  });

  test('bad options fail when the variant is declared, naming the value', () => {
    expect(() => CacheThrottle.with({ throttleAt: -1 })).toThrow(ThrottleConfigError);
    expect(() => CacheThrottle.with({ throttleAt: 1.5 })).toThrow(/throttleAt must be a non-negative integer, got 1.5/);
    expect(() => CacheThrottle.with({ timeframe: 0 })).toThrow(/timeframe must be a number of seconds > 0, got 0/);
    expect(() => CacheThrottle.with({ expiration: 'week' as unknown as number })).toThrow(/expiration .* got 'week'/);
    expect(() => CacheThrottle.with({ throttle_at: 5 } as never)).toThrow(/unknown option 'throttle_at'/);
    // Number(process.env.UNSET) is NaN: the message must say NaN, not JSON's null.
    expect(() => CacheThrottle.with({ throttleAt: Number(undefined) })).toThrow('CacheThrottle.with({"throttleAt":NaN}): throttleAt must be a non-negative integer, got NaN');
    expect(() => CacheThrottle.with({ timeframe: Infinity })).toThrow(/got Infinity/);
    expect(() => CacheThrottle.with({ expiration: 0 })).toThrow(/expiration must be a number of seconds > 0, got 0/);
    expect(() => CacheThrottle.with({ scope: '' })).toThrow(/scope must be a non-empty string, got ''/);
  });
});

// Ported from CacheThrottleTestCase.test_throttling: throttle_at=2, timeframe=5, expiration=2.
describe('CacheThrottle (Tastypie)', () => {
  test('throttles the third access within the timeframe, per identifier, and frees it after', () => {
    const { throttle, clock, accesses } = cacheThrottle({ throttleAt: 2, timeframe: 5, expiration: 2 });

    expect(throttle.shouldBeThrottled('daniel')).toBe(false);
    expect(accesses('daniel')).toBe(0);
    expect(throttle.accessed('daniel')).toBeUndefined();

    expect(throttle.shouldBeThrottled('daniel')).toBe(false);
    expect(accesses('daniel')).toBe(1);
    expect(accesses('cody')).toBe(0);
    expect(throttle.accessed('daniel')).toBeUndefined();

    expect(throttle.accessed('cody')).toBeUndefined();
    expect(throttle.shouldBeThrottled('cody')).toBe(false);
    expect(accesses('daniel')).toBe(2);
    expect(accesses('cody')).toBe(1);

    // THROTTLE'D! The wait is the timeframe: both accesses happened this very second.
    expect(throttle.shouldBeThrottled('daniel')).toBe(5);
    expect(accesses('daniel')).toBe(2);
    expect(throttle.accessed('daniel')).toBeUndefined();

    expect(throttle.shouldBeThrottled('daniel')).toBe(5);
    expect(accesses('daniel')).toBe(3);
    expect(throttle.accessed('daniel')).toBeUndefined();

    // Should be no interplay.
    expect(throttle.shouldBeThrottled('cody')).toBe(false);
    expect(throttle.accessed('cody')).toBeUndefined();

    // Test the timeframe.
    clock.advance(throttle.timeframe + 1);
    expect(throttle.shouldBeThrottled('daniel')).toBe(false);
    expect(accesses('daniel')).toBe(0);
  });

  test('checking records nothing: only accessed() counts', () => {
    const { throttle, accesses } = cacheThrottle({ throttleAt: 1, timeframe: 60 });
    for (let i = 0; i < 5; i++) expect(throttle.shouldBeThrottled('daniel')).toBe(false);
    expect(accesses('daniel')).toBe(0);
  });

  test('the wait is when the throttleAt-th newest access leaves the window', () => {
    const { throttle, clock } = cacheThrottle({ throttleAt: 2, timeframe: 5 });
    throttle.accessed('daniel'); // t=0
    clock.advance(1);
    throttle.accessed('daniel'); // t=1
    clock.advance(1);
    throttle.accessed('daniel'); // t=2 (three accesses: e.g. concurrent requests all passed the check)
    clock.advance(1);
    // At t=3 the two newest are t=1 and t=2; a slot frees when t=1 leaves, at t=6.
    expect(throttle.shouldBeThrottled('daniel')).toBe(3);
    clock.advance(2.999);
    expect(throttle.shouldBeThrottled('daniel')).toBeCloseTo(0.001, 6);
    clock.advance(0.001);
    expect(throttle.shouldBeThrottled('daniel')).toBe(false);
  });

  test('Retry-After is exact: at now + wait the client is let through', () => {
    const { throttle, clock } = cacheThrottle({ throttleAt: 2, timeframe: 5 });
    throttle.accessed('daniel');
    throttle.accessed('daniel');
    const wait = throttle.shouldBeThrottled('daniel') as number;
    expect(wait).toBe(5);
    clock.advance(wait - 0.001);
    expect(throttle.shouldBeThrottled('daniel')).not.toBe(false);
    clock.advance(0.001);
    expect(throttle.shouldBeThrottled('daniel')).toBe(false);
  });

  test('defaults: the 151st access within an hour is throttled', () => {
    const { throttle, clock } = cacheThrottle();
    for (let i = 0; i < 150; i++) {
      expect(throttle.shouldBeThrottled('daniel')).toBe(false);
      throttle.accessed('daniel');
      clock.advance(10);
    }
    // The first access was 1500 s ago: it leaves the hour in 2100 s.
    expect(throttle.shouldBeThrottled('daniel')).toBe(2100);
  });

  test('throttleAt 0 throttles everyone with no known wait', () => {
    const { throttle } = cacheThrottle({ throttleAt: 0 });
    expect(throttle.shouldBeThrottled('daniel')).toBe(true);
  });

  test('reset() forgets an identifier', () => {
    const { throttle, accesses } = cacheThrottle({ throttleAt: 1 });
    throttle.accessed('daniel');
    expect(throttle.shouldBeThrottled('daniel')).not.toBe(false);
    throttle.reset('daniel');
    expect(accesses('daniel')).toBe(0);
    expect(throttle.shouldBeThrottled('daniel')).toBe(false);
  });

  test('an access the store let through uncounted (an outage under onStoreError allow) reports no limit', () => {
    const throttle = Object.assign(new CacheThrottle(), {
      runtime: { store: { hit: () => [{ allowed: true, count: 0, oldest: null, now: 0, uncounted: true }] }, rates: new Map(), clock: () => 0 },
    });
    expect(throttle.check('daniel')).toEqual({ allowed: true, wait: null });
  });

  test('a decision carries the limit and what remains, for the RateLimit headers', () => {
    const { throttle } = cacheThrottle({ throttleAt: 3, timeframe: 60 });
    throttle.accessed('daniel');
    expect(throttle.check('daniel')).toMatchObject({ allowed: true, limit: 3, remaining: 1, policy: 'tastypie', window: 60 });
  });

  test('accesses are kept for expiration seconds, not only for the timeframe', () => {
    const { throttle, clock, store } = cacheThrottle({ timeframe: 1, expiration: 60 });
    throttle.accessed('x');
    clock.advance(2);
    // Out of the 1 s window, but still stored: a wider look (usage statistics) finds it.
    expect((store.peek(throttle.cacheKey('x'), 60_000) as { count: number }).count).toBe(1);
  });
});

describe('CacheDBThrottle (Tastypie)', () => {
  /** A CacheDBThrottle on the given store, writing to an in-memory access log (or to none). */
  function cacheDBThrottle(store: unknown, withLog = true) {
    const written: AccessEntry[] = [];
    const accessLog = withLog ? { write: (entry: AccessEntry) => void written.push(entry), flush: async () => {}, close: async () => {} } : null;
    const throttle = Object.assign(new CacheDBThrottle(), { runtime: { store, rates: new Map(), clock: () => 1_700_000_000_000 }, accessLog });
    return { throttle, written };
  }

  test('accessed() without an access log is a configuration error naming the accessLog option, not a TypeError', () => {
    const { throttle } = cacheDBThrottle(new MemoryThrottleStore(), false);
    expect(() => throttle.accessed('daniel', context())).toThrow(ThrottleConfigError);
    expect(() => throttle.accessed('daniel', context())).toThrow(/CacheDBThrottle writes every access to an access log, but none is configured: add ThrottlingModule.forRoot\(\{ accessLog:/);
  });

  test('when the store cannot record the access, accessed() rejects and nothing is written to the log', async () => {
    const failure = Promise.reject(new Error('store down'));
    // Handled here too, so that code which drops the rejection fails this test instead of crashing the run.
    failure.catch(() => {});
    const failing = { record: () => failure };
    const { throttle, written } = cacheDBThrottle(failing);
    await expect(Promise.resolve(throttle.accessed('daniel', context()))).rejects.toThrow('store down');
    expect(written).toEqual([]);
  });

  test('an access the store recorded is written to the log with the identifier, URL, lower-case method and time', async () => {
    const { throttle, written } = cacheDBThrottle({ record: () => Promise.resolve() });
    await throttle.accessed('daniel', context({ method: 'POST', url: '/notes/?page=2' }));
    expect(written).toEqual([{ identifier: 'daniel', url: '/notes/?page=2', method: 'post', accessedAt: 1_700_000_000_000 }]);
  });
});

describe('the identity Tastypie throttles count', () => {
  const throttle = new NoThrottle();
  test('the username of an authenticated user', () => {
    expect(throttle.identifierFor(context({ user: { username: 'daniel', id: 7 }, userId: '7' }))).toBe('daniel');
  });
  test('else the user id', () => {
    expect(throttle.identifierFor(context({ user: { id: 7 }, userId: '7' }))).toBe('7');
  });
  test('else the client address', () => {
    expect(throttle.identifierFor(context())).toBe('10.0.0.1');
  });
  test('an empty username is no identity: the user id, else the client address', () => {
    expect(throttle.identifierFor(context({ user: { username: '', id: 7 }, userId: '7' }))).toBe('7');
    expect(throttle.identifierFor(context({ user: { username: '' } }))).toBe('10.0.0.1');
  });
  test('a numeric username is the identity, as a string, before the user id', () => {
    expect(throttle.identifierFor(context({ user: { username: 42, id: 7 }, userId: '7' }))).toBe('42');
  });
});

describe('Tastypie-style custom throttles run as throttles', () => {
  class RandomLikeThrottle extends NoThrottle {
    constructor(private readonly answers: (boolean | number)[]) {
      super();
    }
    override shouldBeThrottled(): boolean | number {
      return this.answers.shift()!;
    }
  }

  test('false lets through, true throttles with no wait, seconds throttle with that wait, 0 lets through (Tastypie truthiness)', () => {
    const adapter = new TastypieThrottleAdapter(new RandomLikeThrottle([false, true, 7, 0]));
    expect(adapter.allowRequest(context())).toMatchObject({ allowed: true });
    expect(adapter.allowRequest(context())).toMatchObject({ allowed: false, wait: null });
    expect(adapter.allowRequest(context())).toMatchObject({ allowed: false, wait: 7 });
    expect(adapter.allowRequest(context())).toMatchObject({ allowed: true });
  });

  test('any other truthy answer throttles with no known wait, as in Tastypie: odd answers fail closed, never open', () => {
    const odd = [Infinity, -1, Number.NaN, 'yes' as unknown as number];
    const adapter = new TastypieThrottleAdapter(new RandomLikeThrottle([...odd]));
    // Python's bool(float('nan')) is True, though NaN is falsy in JavaScript: Tastypie's reading wins.
    expect(odd.map(() => adapter.allowRequest(context()))).toEqual(odd.map(() => ({ allowed: false, wait: null })));
  });

  test('accessed() receives the identifier and the context; the no-op plug has none, so its routes skip the interceptor', () => {
    const seen: string[] = [];
    const adapter = new TastypieThrottleAdapter({
      shouldBeThrottled: () => false,
      accessed: (identifier: string, ctx?: ThrottleContext) => void seen.push(`${identifier} ${ctx?.url}`),
    });
    adapter.accessed!(context({ user: { username: 'cody' } }));
    expect(seen).toEqual(['cody /notes/']);
    expect(new TastypieThrottleAdapter(new NoThrottle()).accessed).toBeUndefined();
  });
});
