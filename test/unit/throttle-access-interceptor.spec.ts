import type { CallHandler, ExecutionContext } from '@nestjs/common';
import { describe, expect, test } from '@jest/globals';
import { EMPTY, type Observable, of, Subject } from 'rxjs';
import { rememberAccess } from '../../lib/nest/enforcement/pending-accesses.js';
import { ThrottleAccessInterceptor } from '../../lib/nest/enforcement/throttle-access.interceptor.js';
import type { ThrottlingSettings } from '../../lib/nest/module/throttling-settings.js';
import type { TransportBinding } from '../../lib/nest/transports/transport-binding.js';
import type { ThrottleContext } from '../../lib/throttles/throttle.js';

/** An interceptor whose only transport, 'http', uses the request object as its token. */
function interceptor(): ThrottleAccessInterceptor {
  const http = { requestToken: (context: ExecutionContext) => context.switchToHttp().getRequest() } as unknown as TransportBinding;
  return new ThrottleAccessInterceptor({ transports: new Map([['http', http]]) } as unknown as ThrottlingSettings);
}

function executionContext(type: string, request: object): ExecutionContext {
  return { getType: () => type, switchToHttp: () => ({ getRequest: () => request }) } as unknown as ExecutionContext;
}

/** A request whose guard left an access to record; `accessed` is what its throttle does when told. */
function pendingRequest(accessed: () => void | Promise<void>): { request: object; calls: () => number } {
  const request = {};
  let calls = 0;
  const throttle = { allowRequest: () => true, accessed: () => { calls++; return accessed(); } };
  rememberAccess(request, { ctx: {} as ThrottleContext, throttles: [throttle] });
  return { request, calls: () => calls };
}

function handler(source: Observable<unknown>): CallHandler {
  return { handle: () => source };
}

/** Subscribes and keeps what the stream did, in order. */
function watch(stream: Observable<unknown>): string[] {
  const events: string[] = [];
  stream.subscribe({ next: (value) => events.push(`next ${String(value)}`), error: (error: Error) => events.push(`error ${error.message}`), complete: () => events.push('complete') });
  return events;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the access interceptor records an access once the handler has succeeded', () => {
  test('a context type with no transport binding passes the handler through untouched', () => {
    const source = of('ok');
    expect(interceptor().intercept(executionContext('kafka', {}), handler(source))).toBe(source);
  });

  test('a stream that emits and never completes records the access at its first value, once', () => {
    const { request, calls } = pendingRequest(() => undefined);
    const source = new Subject<string>();
    const events = watch(interceptor().intercept(executionContext('http', request), handler(source)));
    expect(calls()).toBe(0);
    source.next('a');
    expect(calls()).toBe(1);
    source.next('b');
    expect(calls()).toBe(1);
    expect(events).toEqual(['next a', 'next b']);
  });

  test('an empty stream records once, on completion, and completes only after accessed() has resolved', async () => {
    let finish!: () => void;
    const { request, calls } = pendingRequest(() => new Promise<void>((resolve) => (finish = resolve)));
    const events = watch(interceptor().intercept(executionContext('http', request), handler(EMPTY)));
    expect(calls()).toBe(1);
    await tick();
    expect(events).toEqual([]);
    finish();
    await tick();
    expect(events).toEqual(['complete']);
    expect(calls()).toBe(1);
  });

  test('an empty stream whose access fails to record ends in that error', async () => {
    const { request } = pendingRequest(() => Promise.reject(new Error('access log down')));
    const events = watch(interceptor().intercept(executionContext('http', request), handler(EMPTY)));
    await tick();
    expect(events).toEqual(['error access log down']);
  });
});
