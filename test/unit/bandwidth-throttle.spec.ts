/**
 * BandwidthThrottle below the HTTP layer: the check it plans, the decision it makes of the store's
 * answer, where its rate comes from, what it records when a response is over, and where it does not
 * apply. The store is a double; real downloads are in test/e2e/bandwidth.spec.ts.
 */
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import type { AlgorithmOutcome } from '../../lib/core/algorithms/algorithm-outcome.js';
import { hitSlidingWindow, newSlidingWindowState } from '../../lib/core/algorithms/sliding-window.js';
import {
  BandwidthThrottle,
  type BandwidthThrottleOverrides,
  type HitResult,
  parseRate,
  type RateInput,
  type RecordedHit,
  ResponseByteMeter,
  ThrottleConfigError,
  type ThrottleContext,
  type ThrottleStore,
  type ThrottlingRuntime,
  type WindowCheck,
} from '../../lib/index.js';
import { INHERITS_SCOPE } from '../../lib/throttles/simple-rate-throttle.js';

afterEach(() => {
  jest.restoreAllMocks();
});

function context(overrides: Partial<ThrottleContext> = {}): ThrottleContext {
  return { transport: 'http', request: {}, response: undefined, ident: '10.0.0.1', user: undefined, userId: null, scope: undefined, controller: undefined, handler: undefined, method: 'GET', url: '/', ...overrides };
}

/** A store double: answers with `answer`, keeps what it was asked and what it recorded. */
class DoubleStore implements ThrottleStore {
  readonly asked: WindowCheck[] = [];
  readonly recorded: RecordedHit[] = [];
  constructor(private readonly answer: (check: WindowCheck) => HitResult = (check) => counter({ allowed: true, limit: check.limit, remaining: check.limit - 1, resetMs: 0, waitMs: 0 })) {}
  hit(checks: readonly WindowCheck[]): HitResult[] {
    this.asked.push(...checks);
    return checks.map(this.answer);
  }
  record(hits: readonly RecordedHit[]): void | Promise<void> {
    this.recorded.push(...hits);
  }
  peek() {
    return { count: 0, oldest: null, now: 0 };
  }
  reset(): void {}
}

function counter(outcome: AlgorithmOutcome, now = 0): HitResult {
  return { allowed: outcome.allowed, count: 0, oldest: null, now, outcome };
}

function runtimeWith(options: { rates?: Record<string, RateInput>; rateInputs?: Record<string, unknown>; store?: ThrottleStore } = {}): ThrottlingRuntime {
  const rates = new Map(Object.entries(options.rates ?? {}).map(([scope, rate]) => [scope, parseRate(rate)]));
  const rateInputs = options.rateInputs === undefined ? undefined : new Map(Object.entries(options.rateInputs));
  return { store: options.store ?? new DoubleStore(), rates, rateInputs, clock: () => 0 };
}

function bandwidth(overrides: BandwidthThrottleOverrides, runtime: ThrottlingRuntime = runtimeWith()): BandwidthThrottle {
  return Object.assign(new (BandwidthThrottle.with(overrides))(), { runtime });
}

/** A stand-in for a Node response: write/end/once, a status, an emitter for 'close'. */
function fakeResponse(statusCode = 200): EventEmitter & { statusCode: number; write(chunk: unknown): boolean; end(chunk?: unknown): void; req: { method: string } } {
  return Object.assign(new EventEmitter(), { statusCode, req: { method: 'GET' }, write: () => true, end() {} });
}

describe('planCheck(): "is one byte left?", counting nothing', () => {
  test('keyed per user id, else per client address, under the scope; sliding-window by default', () => {
    const throttle = bandwidth({ rate: '100MB/day' });
    expect(throttle.planCheck(context())).toStrictEqual({ key: 'throttle_bandwidth_10.0.0.1', limit: 100_000_000, windowMs: 86_400_000, record: false, cost: 1, algorithm: 'sliding-window' });
    expect(throttle.planCheck(context({ userId: '42' }))?.key).toBe('throttle_bandwidth_42');
  });

  test("'gcra' carries its burst, the rate's limit by default; 'fixed-window' none", () => {
    expect(bandwidth({ scope: 'dl', rate: '512KiB/min', algorithm: 'gcra' }).planCheck(context())).toMatchObject({ limit: 524_288, algorithm: 'gcra', burst: 524_288 });
    expect(bandwidth({ scope: 'dl', rate: '512KiB/min', algorithm: 'gcra', burst: 65_536 }).planCheck(context())).toMatchObject({ algorithm: 'gcra', burst: 65_536 });
    expect(bandwidth({ scope: 'dl', rate: '512KiB/min', algorithm: 'fixed-window' }).planCheck(context())).toStrictEqual({
      key: 'throttle_dl_10.0.0.1',
      limit: 524_288,
      windowMs: 60_000,
      record: false,
      cost: 1,
      algorithm: 'fixed-window',
    });
  });

  test("the route's @ThrottleCost is not read: a response costs its bytes", () => {
    expect(bandwidth({ rate: '1MB/min' }).planCheck(context({ cost: 50 }))).toMatchObject({ cost: 1, record: false });
  });

  test('the module-wide algorithm (for request rates) does not change it', () => {
    const throttle = bandwidth({ rate: '1MB/min' }, { ...runtimeWith(), algorithm: 'sliding-log' });
    expect(throttle.countingAlgorithm()).toBe('sliding-window');
    expect(throttle.planCheck(context())?.algorithm).toBe('sliding-window');
  });

  test.each(['ws', 'rpc', 'kafka'])('does not apply to %s requests, and says so once per transport', (transport) => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    class Gateway {
      onMessage() {}
    }
    const throttle = bandwidth({ rate: '1MB/min' });
    const ctx = context({ transport, controller: Gateway, handler: Gateway.prototype.onMessage });
    expect(throttle.planCheck(ctx)).toBeNull();
    expect(throttle.planCheck(ctx)).toBeNull();
    expect(throttle.planCheck(context())).not.toBeNull();
    expect(warn.mock.calls).toEqual([
      [`BandwidthThrottle(1MB/min) does not apply to ${transport} requests (Gateway.onMessage): only HTTP responses, GraphQL over HTTP included, have a body whose bytes it counts`],
    ]);
  });

  test('applies to GraphQL operations over HTTP', () => {
    expect(bandwidth({ rate: '1MB/min' }).planCheck(context({ transport: 'graphql' }))).not.toBeNull();
  });
});

describe('decide(): the decision in bytes', () => {
  test('allowed: the bytes left (the probe byte was not counted), with qu content-bytes; and the response is metered', () => {
    const store = new DoubleStore(() => counter({ allowed: true, limit: 2500, remaining: 1499, resetMs: 30_000, waitMs: 0 }));
    const throttle = bandwidth({ scope: 'dl', rate: '2500B/min' }, runtimeWith({ store }));
    const response = fakeResponse();
    const ctx = context({ response });
    const check = throttle.planCheck(ctx)!;
    const decision = throttle.decide(check, store.hit([check])[0], ctx);
    expect(decision).toEqual({ allowed: true, wait: null, limit: 2500, remaining: 1500, reset: 30, policy: 'dl', window: 60, quotaUnit: 'content-bytes' });
    expect(ResponseByteMeter.on(response)).toBeDefined();
  });

  test('an untouched budget reports no reset: nothing is used, so nothing comes back later', () => {
    // What a store answers for an empty sliding-window key probed with one byte (as if it were counted).
    const state = newSlidingWindowState();
    const store = new DoubleStore((check) => counter(hitSlidingWindow(state, { limit: check.limit, periodMs: check.windowMs, cost: 1 }, 0, false)));
    const throttle = bandwidth({ scope: 'dl', rate: '2500B/min' }, runtimeWith({ store }));
    const check = throttle.planCheck(context())!;
    expect(store.hit([check])[0].outcome).toMatchObject({ remaining: 2499, resetMs: 120_000 });
    expect(throttle.decide(check, store.hit([check])[0], context())).toMatchObject({ allowed: true, limit: 2500, remaining: 2500, reset: 0 });
  });

  test('refused: the store says when one byte fits again', () => {
    const store = new DoubleStore(() => counter({ allowed: false, limit: 2500, remaining: 0, resetMs: 70_020, waitMs: 70_020 }));
    const throttle = bandwidth({ scope: 'dl', rate: '2500B/min' }, runtimeWith({ store }));
    const check = throttle.planCheck(context())!;
    expect(throttle.decide(check, store.hit([check])[0], context())).toEqual({ allowed: false, wait: 70.02, limit: 2500, remaining: 0, reset: 70.02, policy: 'dl', window: 60, quotaUnit: 'content-bytes' });
  });

  test('a store that does not count with algorithms lets requests through, counts nothing, and is reported once', () => {
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const store = new DoubleStore(() => ({ allowed: true, count: 3, oldest: 0, now: 0 }));
    const throttle = bandwidth({ rate: '1MB/min' }, runtimeWith({ store }));
    const response = fakeResponse();
    for (let i = 0; i < 2; i++) {
      const check = throttle.planCheck(context({ response }))!;
      expect(throttle.decide(check, store.hit([check])[0], context({ response }))).toEqual({ allowed: true, wait: null });
    }
    expect(ResponseByteMeter.on(response)).toBeUndefined();
    expect(error.mock.calls).toEqual([["BandwidthThrottle(1MB/min): the store DoubleStore does not count with algorithms (its hit() reports no outcome for 'sliding-window'): bytes are neither checked nor counted"]]);
  });

  test('a store outage under onStoreError allow: no quota to report, and the bytes are still counted once it answers', () => {
    const store = new DoubleStore(() => ({ allowed: true, count: 0, oldest: null, now: 0, uncounted: true }));
    const throttle = bandwidth({ rate: '1MB/min' }, runtimeWith({ store }));
    const response = fakeResponse();
    const check = throttle.planCheck(context({ response }))!;
    expect(throttle.decide(check, store.hit([check])[0], context({ response }))).toEqual({ allowed: true, wait: null });
    response.end('abc');
    response.emit('close');
    expect(store.recorded).toEqual([{ key: 'throttle_bandwidth_10.0.0.1', windowMs: 60_000, limit: 1_000_000, algorithm: 'sliding-window', cost: 3 }]);
  });

  test('a manual check without a response (an identity) only answers', () => {
    const store = new DoubleStore();
    const throttle = bandwidth({ rate: '1MB/min' }, runtimeWith({ store }));
    const check = throttle.planCheck(context({ response: undefined }))!;
    expect(throttle.decide(check, store.hit([check])[0], context()).allowed).toBe(true);
    expect(store.recorded).toEqual([]);
  });
});

describe('recording when the response is over', () => {
  function served(throttle: BandwidthThrottle, store: DoubleStore, status = 200) {
    const response = fakeResponse(status);
    const ctx = context({ response, userId: 'ann' });
    const check = throttle.planCheck(ctx)!;
    throttle.decide(check, store.hit([check])[0], ctx);
    return response;
  }

  test('records the bytes written, on the checked key and algorithm, once, even when decided twice for one response', () => {
    const store = new DoubleStore();
    const throttle = bandwidth({ scope: 'dl', rate: '1MB/min', algorithm: 'gcra', burst: 4096 }, runtimeWith({ store }));
    const response = served(throttle, store);
    // ThrottlingService checking the same request again: still one listener.
    const check = throttle.planCheck(context({ response, userId: 'ann' }))!;
    throttle.decide(check, store.hit([check])[0], context({ response, userId: 'ann' }));
    response.write(Buffer.alloc(1000));
    response.end('é');
    response.emit('close');
    expect(store.recorded).toEqual([{ key: 'throttle_dl_ann', windowMs: 60_000, limit: 1_000_000, algorithm: 'gcra', burst: 4096, cost: 1002 }]);
  });

  test('a response with no body bytes records nothing; nor does a throttled one (429)', () => {
    const store = new DoubleStore();
    const throttle = bandwidth({ rate: '1MB/min' }, runtimeWith({ store }));
    served(throttle, store).emit('close');
    const throttled = served(throttle, store, 429);
    throttled.end('{"statusCode":429}');
    throttled.emit('close');
    expect(store.recorded).toEqual([]);
  });

  test('a store that throws while recording is logged, never thrown into the response', () => {
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const store = new DoubleStore();
    store.record = () => {
      throw new Error('connection reset');
    };
    const throttle = bandwidth({ scope: 'dl', rate: '1MB/min' }, runtimeWith({ store }));
    const response = served(throttle, store);
    response.end('abcd');
    expect(() => response.emit('close')).not.toThrow();
    expect(error.mock.calls).toEqual([['BandwidthThrottle(dl, 1MB/min): could not record 4 bytes sent on throttle_dl_ann: connection reset']]);
  });

  test('a rejected record is logged too, and handled (no unhandled rejection)', async () => {
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const store = new DoubleStore();
    store.record = () => Promise.reject(new Error('timeout'));
    const throttle = bandwidth({ scope: 'dl', rate: '1MB/min' }, runtimeWith({ store }));
    const response = served(throttle, store);
    response.end('ab');
    response.emit('close');
    await new Promise((resolve) => setImmediate(resolve));
    expect(error.mock.calls).toEqual([['BandwidthThrottle(dl, 1MB/min): could not record 2 bytes sent on throttle_dl_ann: timeout']]);
  });

  test('against the sliding-window core: admitted while one byte is left, refused until the recorded bytes leave', () => {
    // A store over one key's sliding-window state: checks answer without counting, records count past the limit.
    const state = newSlidingWindowState();
    let now = 0;
    const store = new DoubleStore((check) => counter(hitSlidingWindow(state, { limit: check.limit, periodMs: check.windowMs, cost: check.cost ?? 1 }, now, false), now));
    store.record = (hits) => {
      for (const hit of hits) hitSlidingWindow(state, { limit: Number.MAX_SAFE_INTEGER, periodMs: hit.windowMs, cost: hit.cost ?? 1 }, now);
    };
    const throttle = bandwidth({ rate: '1000B/10s' }, runtimeWith({ store }));
    const download = (bytes: number) => {
      const response = fakeResponse();
      const ctx = context({ response });
      const check = throttle.planCheck(ctx)!;
      const decision = throttle.decide(check, store.hit([check])[0], ctx);
      if (decision.allowed) response.end(Buffer.alloc(bytes));
      else response.statusCode = 429;
      response.emit('close');
      return decision;
    };
    expect(download(999)).toMatchObject({ allowed: true, remaining: 1000 });
    expect(download(5000)).toMatchObject({ allowed: true, remaining: 1 });
    // 5999 of 1000: one byte fits once 5999 x (1 - t / 10 s) <= 999, t = 8.3348 s into the next window.
    const refused = download(10);
    expect(refused).toMatchObject({ allowed: false, remaining: 0, wait: 18.335 });
    now = 18_334;
    expect(download(10).allowed).toBe(false);
    now = 18_335;
    expect(download(10)).toMatchObject({ allowed: true, remaining: 1 });
  });
});

describe('the rate: a byte rate, from the class or the module', () => {
  test("reads a byte rate written in the module's rates (kept as written), naming rates.<scope> when it is bad", () => {
    const throttle = bandwidth({}, runtimeWith({ rateInputs: { bandwidth: '1.5GiB/hour' } }));
    expect(throttle.rateFor('bandwidth')).toEqual({ limit: 1_610_612_736, durationMs: 3_600_000 });
    throttle.validate(undefined, 'Files.download');
    const bad = bandwidth({}, runtimeWith({ rateInputs: { bandwidth: '10 mb/day' } }));
    expect(() => bad.validate(undefined, 'Files.download')).toThrow(new ThrottleConfigError("rates.bandwidth: invalid byte rate '10 mb/day': unknown unit 'mb' (units are case-sensitive: 'b' would be bits, 'm' milli); use B, kB or KB, MB, GB, TB, PB (powers of 1000) or KiB, MiB, GiB, TiB, PiB (powers of 1024)"));
  });

  test('the class rate wins; a module rate null switches it off', () => {
    expect(bandwidth({ rate: '1kB/s' }, runtimeWith({ rateInputs: { bandwidth: '1MB/s' } })).rateFor('bandwidth')).toEqual({ limit: 1000, durationMs: 1000 });
    const off = bandwidth({}, runtimeWith({ rateInputs: { bandwidth: null } }));
    expect(off.rateFor('bandwidth')).toBeNull();
    expect(off.planCheck(context())).toBeNull();
  });

  test('a runtime that keeps only parsed rates: a request-rate string is read as a count of bytes', () => {
    expect(bandwidth({}, runtimeWith({ rates: { bandwidth: '5000/min' } })).rateFor('bandwidth')).toEqual({ limit: 5000, durationMs: 60_000 });
  });

  test('a scope with no rate anywhere fails validation as any rate throttle does', () => {
    expect(() => bandwidth({ scope: 'files' }).validate(undefined, 'Files.download')).toThrow("Files.download: BandwidthThrottle(files) uses scope 'files', which has no rate");
  });
});

describe('with(): variants', () => {
  test('countRequestBody is set on the variant and named; the scope inheritance mark is kept', () => {
    const Uploads = BandwidthThrottle.with({ scope: 'uploads', rate: '1GB/day', countRequestBody: true });
    expect(Uploads.name).toBe('BandwidthThrottle(uploads, 1GB/day, request body)');
    expect(new Uploads().countRequestBody).toBe(true);
    expect((Uploads as unknown as Record<symbol, unknown>)[INHERITS_SCOPE]).toBe(false);
    const Unscoped = BandwidthThrottle.with({ countRequestBody: true });
    expect(Unscoped.name).toBe('BandwidthThrottle(request body)');
    expect((Unscoped as unknown as Record<symbol, unknown>)[INHERITS_SCOPE]).toBe(true);
    expect(new (BandwidthThrottle.with({ rate: '1MB/day' }))().countRequestBody).toBe(false);
  });
});
