import { Controller, Get, type INestApplication, Injectable, Logger } from '@nestjs/common';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import request from 'supertest';
import { type HitResult, type StoreStateChange, THROTTLING_EVENTS, ThrottleClasses, type ThrottledEvent, type ThrottleStore, type ThrottlingModuleOptions, UserThrottle } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { bootError, PLATFORMS, type Platform, startApp } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';

@Controller()
class HookedController {
  @Get('pair') @ThrottleClasses(UserThrottle.with({ scope: 'hook-burst', rate: '1/min' }), UserThrottle.with({ scope: 'hook-shadow', rate: '1/min', mode: 'shadow' })) pair() { return 'ok'; }
  @Get('shadow') @ThrottleClasses(UserThrottle.with({ scope: 'only-shadow', rate: '1/min', mode: 'shadow' })) shadow() { return 'ok'; }
}

/** A real EventEmitterModule listener; its shadow listener throws, which must not reach the request. */
@Injectable()
class ThrottlingListener {
  readonly throttled: ThrottledEvent[] = [];
  readonly shadowThrottled: ThrottledEvent[] = [];
  readonly storeChanges: StoreStateChange[] = [];
  @OnEvent(THROTTLING_EVENTS.throttled) onThrottled(event: ThrottledEvent) { this.throttled.push(event); }
  @OnEvent(THROTTLING_EVENTS.shadowThrottled) onShadow(event: ThrottledEvent) {
    this.shadowThrottled.push(event);
    throw new Error('listener bug');
  }
  @OnEvent(THROTTLING_EVENTS.storeDown) onDown(change: StoreStateChange) { this.storeChanges.push(change); }
  @OnEvent(THROTTLING_EVENTS.storeUp) onUp(change: StoreStateChange) { this.storeChanges.push(change); }
}

/** A networked store stand-in that fails while `failing` is set, and otherwise allows everything. */
class SwitchableStore implements ThrottleStore {
  failing = true;
  async hit(checks: readonly unknown[]): Promise<HitResult[]> {
    if (this.failing) throw new Error('connection refused');
    return checks.map(() => ({ allowed: true, count: 1, oldest: 0, now: 0 }));
  }
  async record(): Promise<void> {}
  async peek() { return { count: 0, oldest: null, now: 0 }; }
  async reset(): Promise<void> {}
}

describe.each(PLATFORMS)('hooks and events on %s', (platform: Platform) => {
  let app: INestApplication | undefined;
  let errors: string[];
  beforeEach(() => {
    errors = [];
    jest.spyOn(Logger.prototype, 'error').mockImplementation(function (this: Logger, message: unknown) {
      errors.push(String(message));
    });
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await app?.close();
    app = undefined;
  });

  async function boot(options: ThrottlingModuleOptions, events = false) {
    const clock = new FakeClock();
    app = await startApp(
      platform,
      testModule({
        options: { clock: clock.read, ...options },
        controllers: [HookedController],
        imports: events ? [EventEmitterModule.forRoot()] : [],
        providers: events ? [ThrottlingListener] : [],
      }),
    );
    return app.getHttpServer();
  }

  test('onThrottled is called once per denying throttle, shadow ones flagged, with the decision and the route', async () => {
    const calls: { url: string; policy: string | undefined; allowed: boolean; shadow: boolean; route: string; transport: string; throttle: string }[] = [];
    const server = await boot({ onThrottled: (ctx, decision, info) => void calls.push({ url: ctx.url, allowed: decision.allowed, ...info, policy: decision.policy }) });
    expect((await request(server).get('/pair').set('x-user-id', 'u1')).status).toBe(200);
    expect(calls).toEqual([]);
    expect((await request(server).get('/pair').set('x-user-id', 'u1')).status).toBe(429);
    expect(calls).toEqual([
      { url: '/pair', policy: 'hook-burst', allowed: false, shadow: false, route: 'HookedController.pair', transport: 'http', throttle: 'UserThrottle(hook-burst, 1/min)' },
      { url: '/pair', policy: 'hook-shadow', allowed: false, shadow: true, route: 'HookedController.pair', transport: 'http', throttle: 'UserThrottle(hook-shadow, 1/min, shadow)' },
    ]);
  });

  test('a hook that throws or rejects never breaks the request, and its failure is logged once', async () => {
    let thrown = 0;
    const server = await boot({
      onThrottled: (_ctx, decision) => {
        thrown++;
        if (decision.policy === 'only-shadow') return Promise.reject(new Error('async hook bug'));
        throw new Error('hook bug');
      },
    });
    const shadow = [];
    for (let i = 0; i < 3; i++) shadow.push((await request(server).get('/shadow').set('x-user-id', 'u1')).status);
    expect(shadow).toEqual([200, 200, 200]);
    const pair = [];
    for (let i = 0; i < 3; i++) pair.push((await request(server).get('/pair').set('x-user-id', 'u1')).status);
    expect(pair).toEqual([200, 429, 429]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(thrown).toBe(2 + 4);
    // Both kinds of failure are the same hook's: one line, the first one.
    expect(errors.filter((message) => message.startsWith('onThrottled failed'))).toEqual(['onThrottled failed (ignored, the request goes on): async hook bug']);
  });

  test('a registered EventEmitterModule receives throttling.throttled and throttling.shadow-throttled; a listener that throws does not break the request', async () => {
    const server = await boot({}, true);
    const statuses = [];
    for (let i = 0; i < 2; i++) statuses.push((await request(server).get('/pair').set('x-user-id', 'u1')).status);
    expect(statuses).toEqual([200, 429]);
    expect((await request(server).get('/shadow').set('x-user-id', 'u1')).status).toBe(200);
    expect((await request(server).get('/shadow').set('x-user-id', 'u1')).status).toBe(200);
    const listener = app!.get(ThrottlingListener);
    expect(listener.throttled.map((event) => [event.decision.policy, event.info.shadow, event.info.route, event.ctx.url])).toEqual([['hook-burst', false, 'HookedController.pair', '/pair']]);
    expect(listener.shadowThrottled.map((event) => [event.decision.policy, event.info.shadow, event.ctx.url])).toEqual([
      ['hook-shadow', true, '/pair'],
      ['only-shadow', true, '/shadow'],
    ]);
  });

  test('a store outage reaches onStoreStateChange and the throttling.store.down / .up events; the request is served by the policy', async () => {
    const store = new SwitchableStore();
    const changes: StoreStateChange[] = [];
    const server = await boot({ store, onStoreError: 'allow', onStoreStateChange: (change) => void changes.push(change) }, true);
    expect((await request(server).get('/pair').set('x-user-id', 'u1')).status).toBe(200);
    expect(changes.map((change) => change.state)).toEqual(['down']);
    expect((changes[0] as { error: Error }).error.message).toBe('connection refused');
    const listener = app!.get(ThrottlingListener);
    expect(listener.storeChanges.map((change) => change.state)).toEqual(['down']);
    store.failing = false;
    // The store is probed again once its retry interval (1 s) has passed.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await request(server).get('/pair').set('x-user-id', 'u1')).status).toBe(200);
    expect(changes.map((change) => change.state)).toEqual(['down', 'up']);
    expect(listener.storeChanges.map((change) => change.state)).toEqual(['down', 'up']);
  });
});

describe('hook options', () => {
  test('a hook that is not a function fails the boot naming the value', async () => {
    const error = await bootError(testModule({ options: { onThrottled: 'log' as never }, controllers: [HookedController] }));
    expect(error?.message).toBe("ThrottlingModule: onThrottled must be a function, got 'log'");
    const other = await bootError(testModule({ options: { onStoreStateChange: 42 as never }, controllers: [HookedController] }));
    expect(other?.message).toBe('ThrottlingModule: onStoreStateChange must be a function, got 42');
  });
});
