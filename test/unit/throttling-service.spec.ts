/**
 * ThrottlingService, the manual checks (Tastypie's throttle_check by hand), in a standalone
 * application context with the memory store and a fake clock.
 */
import { Injectable, Module, ServiceUnavailableException } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import {
  AnonThrottle,
  CacheThrottle,
  NoThrottle,
  ScopedThrottle,
  type Throttle,
  ThrottleConfigError,
  type ThrottleContext,
  ThrottlingModule,
  type ThrottlingModuleOptions,
  ThrottlingService,
  UserThrottle,
} from '../../lib/index.js';
import { ThrottleRegistry } from '../../lib/nest/enforcement/throttle-registry.js';
import { MAX_CACHED_RATE_SPECS } from '../../lib/nest/enforcement/throttling.service.js';
import { STORE_UNAVAILABLE_MESSAGE } from '../../lib/nest/transports/store-unavailable-message.js';
import { StoreUnavailableError } from '../../lib/stores/store-unavailable-error.js';
import { FakeClock } from '../support/fake-clock.js';

/** A response that records the headers written to it, the way Express's setHeader is called. */
class RecordingResponse {
  readonly headers: Record<string, string> = {};
  setHeader(name: string, value: string): void {
    this.headers[name] = value;
  }
}

/** Denies with a wait of exactly 0 seconds. */
@Injectable()
class DenyWithNoWait implements Throttle {
  allowRequest() {
    return { allowed: false, wait: 0 };
  }
}

/** Remembers the context of the last request it saw. */
@Injectable()
class ContextRecorder implements Throttle {
  static last: ThrottleContext | undefined;
  allowRequest(ctx: ThrottleContext) {
    ContextRecorder.last = ctx;
    return true;
  }
}

const address = (ip: string, user?: { id: number }) => ({ ip, headers: {}, method: 'GET', url: '/', user });

describe('ThrottlingService', () => {
  let context: INestApplicationContext | undefined;
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  async function boot(options: ThrottlingModuleOptions = {}) {
    const clock = new FakeClock();
    @Module({ imports: [ThrottlingModule.forRoot({ clock: clock.read, ...options })] })
    class ManualModule {}
    context = await NestFactory.createApplicationContext(ManualModule, { logger: false });
    return { clock, service: context.get(ThrottlingService) };
  }

  describe('check()', () => {
    test('retryAfter is the wait rounded up, and the Retry-After header says the same', async () => {
      const { clock, service } = await boot();
      const who = { identity: 'u' };
      await service.check(who, { scope: 's', rate: '1/min' });
      clock.now += 58_800;
      const response = new RecordingResponse();
      const verdict = await service.check(who, { scope: 's', rate: '1/min' }, { response });
      expect(verdict).toMatchObject({ allowed: false, wait: expect.closeTo(1.2, 6), retryAfter: 2 });
      expect(response.headers['retry-after']).toBe('2');
    });

    test('retryAfter is null, and no Retry-After is written, when the wait is 0 or unknown', async () => {
      const { service } = await boot();
      const who = { identity: 'u' };
      const noWait = new RecordingResponse();
      expect(await service.check(who, DenyWithNoWait, { response: noWait })).toMatchObject({ allowed: false, wait: 0, retryAfter: null });
      expect(noWait.headers).not.toHaveProperty('retry-after');
      for (let i = 0; i < 5; i++) await service.check(who, { scope: 'a', rate: '5/min' });
      const unknown = new RecordingResponse();
      expect(await service.check(who, { scope: 'a', rate: '2/min' }, { response: unknown })).toMatchObject({ allowed: false, wait: null, retryAfter: null });
      expect(unknown.headers).not.toHaveProperty('retry-after');
    });

    test('an allowed check writes rate-limit headers but no Retry-After', async () => {
      const { service } = await boot();
      const response = new RecordingResponse();
      expect(await service.check({ identity: 'u' }, { scope: 's', rate: '1/min' }, { response })).toMatchObject({ allowed: true, retryAfter: null });
      expect(response.headers).toEqual({ 'ratelimit-policy': '"s";q=1;w=60', ratelimit: '"s";r=0;t=60' });
    });

    test('with headers: false a check writes no rate-limit headers', async () => {
      const { service } = await boot({ headers: false });
      const response = new RecordingResponse();
      await service.check({ identity: 'u' }, { scope: 's', rate: '5/min' }, { response });
      expect(response.headers).toEqual({});
    });

    test('the shared header cache follows a named rate whose window or name changes between checks', async () => {
      const { service } = await boot();
      const who = { identity: 'u' };
      await service.check(who, { scope: 'a', rate: '10/min' }, { response: new RecordingResponse() });
      const hourly = new RecordingResponse();
      await service.check(who, { scope: 'a', rate: '10/hour' }, { response: hourly });
      expect(hourly.headers['ratelimit-policy']).toBe('"a";q=10;w=3600');
      const renamed = new RecordingResponse();
      await service.check(who, { scope: 'b', rate: '10/hour' }, { response: renamed });
      expect(renamed.headers).toEqual({ 'ratelimit-policy': '"b";q=10;w=3600', ratelimit: '"b";r=9;t=3600' });
    });

    test('options.scope is the scope ScopedThrottle counts under, for a request and for an identity', async () => {
      const { service } = await boot({ rates: { uploads: '1/min' } });
      for (const target of [address('10.0.0.1'), { identity: 'u' }]) {
        expect((await service.check(target, ScopedThrottle, { scope: 'uploads' })).allowed).toBe(true);
        expect(await service.check(target, ScopedThrottle, { scope: 'uploads' })).toMatchObject({ allowed: false, retryAfter: 60 });
        expect((await service.check(target, ScopedThrottle)).allowed).toBe(true);
      }
    });

    test('an empty identity is refused with a TypeError; a non-empty one is checked', async () => {
      const { service } = await boot();
      await expect(service.check({ identity: '' }, { scope: 's', rate: '5/min' })).rejects.toThrow(TypeError);
      await expect(service.check({ identity: '' }, { scope: 's', rate: '5/min' })).rejects.toThrow('identity must be a non-empty string');
      expect((await service.check({ identity: 'a' }, { scope: 's', rate: '5/min' })).allowed).toBe(true);
    });

    test("options.method and options.url reach the throttle's context for an identity", async () => {
      const { service } = await boot();
      await service.check({ identity: 'u' }, ContextRecorder, { method: 'POST', url: '/login' });
      expect(ContextRecorder.last).toMatchObject({ ident: 'u', method: 'POST', url: '/login' });
    });

    test('a named rate without a scope is a configuration error', async () => {
      const { service } = await boot();
      await expect(service.check({ identity: 'u' }, { rate: '5/min' } as never)).rejects.toThrow(ThrottleConfigError);
    });

    test('the same scope with another rate is another throttle, not the one resolved first', async () => {
      const { service } = await boot();
      await service.check({ identity: 'u' }, { scope: 'a', rate: '1/min' });
      const v = { identity: 'v' };
      expect((await service.check(v, { scope: 'a', rate: '5/min' })).allowed).toBe(true);
      expect(await service.check(v, { scope: 'a', rate: '5/min' })).toMatchObject({ allowed: true, decisions: [{ limit: 5, remaining: 3 }] });
    });
  });

  describe('a store outage under onStoreError: deny', () => {
    /** A networked store whose server is gone. */
    const deadStore = {
      hit: () => Promise.reject(new Error('connection refused')),
      record: () => Promise.reject(new Error('connection refused')),
      peek: () => Promise.reject(new Error('connection refused')),
      reset: () => Promise.reject(new Error('connection refused')),
    };

    test('check() rejects with StoreUnavailableError, which says when to retry', async () => {
      const { service } = await boot({ store: deadStore, onStoreError: 'deny' });
      const error = await service.check({ identity: 'u' }, { scope: 's', rate: '5/min' }).then(() => null, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as StoreUnavailableError).retryAfter).toBe(1);
    });

    test("enforce() answers as the guard does: 503 with the outage message and Retry-After, not a 500", async () => {
      const { service } = await boot({ store: deadStore, onStoreError: 'deny' });
      const response = new RecordingResponse();
      const error = await service.enforce({ identity: 'u' }, { scope: 's', rate: '5/min' }, { response }).then(() => null, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(ServiceUnavailableException);
      expect((error as ServiceUnavailableException).getStatus()).toBe(503);
      expect((error as ServiceUnavailableException).message).toBe(STORE_UNAVAILABLE_MESSAGE);
      expect(response.headers['retry-after']).toBe('1');
    });
  });

  describe('attempt()', () => {
    const Login = CacheThrottle.with({ throttleAt: 2, timeframe: 900, scope: 'login' });
    const who = { identity: 'alice' };

    test('each attempt holds a slot until settled: a third concurrent one is refused with the 429 and Retry-After', async () => {
      const { service } = await boot();
      const first = await service.attempt(who, Login);
      await service.attempt(who, Login);
      const response = new RecordingResponse();
      const refused = await service.attempt(who, Login, { response }).then(() => null, (caught: unknown) => caught);
      expect(refused).toMatchObject({ status: 429 });
      expect(response.headers['retry-after']).toBe('900');
      expect(first.verdict).toMatchObject({ allowed: true, retryAfter: null });
    });

    test('commit() counts the attempt at its time; release() frees the slot; the first settle wins and the rest are no-ops', async () => {
      const { clock, service } = await boot();
      const failed = await service.attempt(who, Login);
      clock.now += 5_000;
      await failed.commit();
      await failed.commit();
      await failed.release();
      expect(await service.peek(who, Login)).toMatchObject({ count: 1, oldest: 5_000 });
      const succeeded = await service.attempt(who, Login);
      await succeeded.release();
      await succeeded.commit();
      expect((await service.peek(who, Login)).count).toBe(1);
      // Both slots are free again: two more attempts pass, then the lock closes.
      const next = await service.attempt(who, Login);
      await next.commit();
      await expect(service.attempt(who, Login)).rejects.toMatchObject({ status: 429 });
    });

    test('sequential attempts lock exactly like enforce() + accessed(): throttleAt failures, then 429', async () => {
      const { service } = await boot();
      for (let i = 0; i < 2; i++) await (await service.attempt(who, Login)).commit();
      await expect(service.attempt(who, Login)).rejects.toMatchObject({ status: 429 });
      await expect(service.enforce(who, Login)).rejects.toMatchObject({ status: 429 });
    });

    test('a direct check holds nothing: check() and enforce() keep Tastypie\'s meaning', async () => {
      const { service } = await boot();
      for (let i = 0; i < 5; i++) expect((await service.check(who, Login)).allowed).toBe(true);
      await service.attempt(who, Login);
      await service.attempt(who, Login);
      expect((await service.check(who, Login)).allowed).toBe(false);
    });

    test('an attempt never settled frees its slot after reservationTimeout', async () => {
      const { clock, service } = await boot();
      const Short = CacheThrottle.with({ throttleAt: 1, timeframe: 900, scope: 'short', reservationTimeout: 30 });
      await service.attempt(who, Short);
      clock.now += 29_999;
      await expect(service.attempt(who, Short)).rejects.toMatchObject({ status: 429 });
      clock.now += 1;
      await expect(service.attempt(who, Short)).resolves.toMatchObject({ verdict: { allowed: true } });
    });

    test('rate throttles among the specs count at attempt(), and commit / release leave them alone', async () => {
      const { service } = await boot();
      const rate = { scope: 'burst', rate: '2/min' };
      await (await service.attempt(who, [Login, rate])).release();
      await (await service.attempt(who, [Login, rate])).commit();
      expect((await service.peek(who, rate)).count).toBe(2);
      expect((await service.peek(who, Login)).count).toBe(1);
      // The rate throttle denies the third; the slot the CacheThrottle reserved is released with the 429.
      await expect(service.attempt(who, [Login, rate])).rejects.toMatchObject({ status: 429 });
      await (await service.attempt(who, Login)).commit();
      await expect(service.attempt(who, Login)).rejects.toMatchObject({ status: 429 });
    });

    test('a store outage under onStoreError deny is the 503, as with enforce()', async () => {
      const dead = { hit: () => Promise.reject(new Error('down')), record: () => undefined, peek: () => ({ count: 0, oldest: null, now: 0 }), reset: () => undefined };
      const { service } = await boot({ store: dead, onStoreError: 'deny' });
      await expect(service.attempt(who, Login)).rejects.toBeInstanceOf(ServiceUnavailableException);
    });

    test('reservationTimeout defaults to min(timeframe, 300) and is validated like the other options', () => {
      expect(new (CacheThrottle.with({ timeframe: 900 }))().reservationSeconds).toBe(300);
      expect(new (CacheThrottle.with({ timeframe: 60 }))().reservationSeconds).toBe(60);
      expect(new (CacheThrottle.with({ timeframe: 60, reservationTimeout: 5 }))().reservationSeconds).toBe(5);
      expect(() => CacheThrottle.with({ reservationTimeout: 0 })).toThrow('reservationTimeout must be a number of seconds > 0, got 0');
      expect(() => CacheThrottle.with({ reservationTimeout: '10' as never })).toThrow("reservationTimeout must be a number of seconds > 0, got '10'");
    });
  });

  describe('rate specs', () => {
    test('rates computed per call do not pile up: past the cap the oldest spec is made again, and its counts carry on', async () => {
      const { service } = await boot();
      const made = jest.spyOn(UserThrottle, 'with');
      try {
        const who = { identity: 'u' };
        await service.check(who, { scope: 'plan', rate: '3/min' });
        await service.check(who, { scope: 'plan', rate: '3/min' });
        expect(made).toHaveBeenCalledTimes(1);
        for (let i = 1; i <= MAX_CACHED_RATE_SPECS; i++) await service.check(who, { scope: 'quota', rate: `${i}/day` });
        expect(made).toHaveBeenCalledTimes(1 + MAX_CACHED_RATE_SPECS);
        // The registry keeps the singletons of route throttles, not these.
        expect((context!.get(ThrottleRegistry) as unknown as { instances: Map<unknown, unknown> }).instances.size).toBe(0);

        expect(await service.check(who, { scope: 'plan', rate: '3/min' })).toMatchObject({ allowed: true, decisions: [{ remaining: 0 }] });
        expect(made).toHaveBeenCalledTimes(2 + MAX_CACHED_RATE_SPECS);
        expect((await service.check(who, { scope: 'plan', rate: '3/min' })).allowed).toBe(false);
      } finally {
        made.mockRestore();
      }
    });

    test('a malformed rate is reported on every call, not only the first', async () => {
      const { service } = await boot();
      for (let i = 0; i < 2; i++) {
        await expect(service.check({ identity: 'u' }, { scope: 's', rate: 'lots/min' })).rejects.toThrow(/lots\/min/);
      }
    });
  });

  describe('peek()', () => {
    test('a fresh key of a named rate has its whole limit remaining', async () => {
      const { service } = await boot();
      expect(await service.peek({ identity: 'u' }, { scope: 's', rate: '5/min' })).toMatchObject({ key: 'throttle_s_u', limit: 5, remaining: 5, windowMs: 60_000, count: 0 });
    });

    test('remaining never goes below 0 when the rate was lowered below the recorded hits', async () => {
      const { service } = await boot();
      const who = { identity: 'u' };
      for (let i = 0; i < 5; i++) await service.check(who, { scope: 'a', rate: '5/min' });
      expect(await service.peek(who, { scope: 'a', rate: '2/min' })).toMatchObject({ limit: 2, count: 5, remaining: 0 });
    });

    test('a throttle that does not throttle this target (anonymous-only, a logged-in user) has no bucket', async () => {
      const { service } = await boot({ rates: { anon: '5/min' } });
      await expect(service.peek(address('10.0.0.1', { id: 7 }), AnonThrottle)).rejects.toThrow(ThrottleConfigError);
      await expect(service.peek(address('10.0.0.1', { id: 7 }), AnonThrottle)).rejects.toThrow('does not throttle this target');
      expect(await service.peek(address('10.0.0.1'), AnonThrottle)).toMatchObject({ limit: 5, remaining: 5 });
    });

    test('NoThrottle keeps no bucket to peek at', async () => {
      const { service } = await boot();
      await expect(service.peek({ identity: 'u' }, NoThrottle)).rejects.toThrow('keeps no bucket');
    });

    test("a Tastypie CacheThrottle's bucket spans its timeframe, not its expiration", async () => {
      const { service } = await boot();
      const Throttled = CacheThrottle.with({ throttleAt: 3, timeframe: 60, expiration: 3600 });
      expect(await service.peek({ identity: 'u' }, Throttled)).toMatchObject({ limit: 3, windowMs: 60_000 });
    });
  });
});
