import { Controller, Get, Injectable, type INestApplication } from '@nestjs/common';
import { afterEach, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import {
  AnonThrottle,
  MemoryThrottleStore,
  SimpleRateThrottle,
  type Throttle,
  ThrottleClasses,
  type ThrottleContext,
  type ThrottleDecision,
  ThrottleRegistry,
  UserThrottle,
} from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { PLATFORMS, type Platform, startApp } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';

/** An app service a custom throttle depends on: per-user quotas, and a tally of what it was asked. */
@Injectable()
class PlansService {
  readonly used = new Map<string, number>();
  quotaOf(userId: string | null): number {
    return userId === 'premium' ? 3 : 1;
  }
  consume(who: string): number {
    const used = (this.used.get(who) ?? 0) + 1;
    this.used.set(who, used);
    return used;
  }
}

/** A custom throttle resolved through DI, with an async decision from an injected service. */
@Injectable()
class PlanThrottle implements Throttle {
  constructor(private readonly plans: PlansService) {}
  async allowRequest(ctx: ThrottleContext): Promise<ThrottleDecision> {
    const who = ctx.userId ?? ctx.ident;
    const used = this.plans.consume(who);
    const quota = this.plans.quotaOf(ctx.userId);
    return used <= quota ? { allowed: true, wait: null } : { allowed: false, wait: 30 };
  }
}

@Injectable()
class TenantsService {
  tenantOf(request: { headers: Record<string, string | undefined> }): string | null {
    return request.headers['x-tenant'] ?? null;
  }
}

/** A SimpleRateThrottle subclass with constructor injection: the runtime still arrives by property. */
@Injectable()
class TenantThrottle extends SimpleRateThrottle {
  override scope = 'tenant';
  constructor(private readonly tenants: TenantsService) {
    super();
  }
  getCacheKey(ctx: ThrottleContext): string | null {
    const tenant = this.tenants.tenantOf(ctx.request);
    return tenant === null ? null : this.formatKey('tenant', tenant);
  }
}

/** Keeps what it was shown of each request: method and url are read from the request on demand. */
@Injectable()
class RequestShapeThrottle implements Throttle {
  static readonly seen: string[] = [];
  allowRequest(ctx: ThrottleContext): boolean {
    RequestShapeThrottle.seen.push(`${ctx.transport} ${ctx.method} ${ctx.url} ${ctx.ident}`);
    return true;
  }
}

const BurstThrottle = UserThrottle.with({ scope: 'burst', rate: '2/sec' });
const SustainedThrottle = UserThrottle.with({ scope: 'sustained' });
const FixedRateUserThrottle = UserThrottle.with({ rate: '1/min' });

@Controller()
class DiController {
  @Get('plan') @ThrottleClasses(PlanThrottle) plan() { return 'plan'; }
  @Get('tenant') @ThrottleClasses(TenantThrottle) tenant() { return 'tenant'; }
  @Get('pair') @ThrottleClasses(BurstThrottle, SustainedThrottle) pair() { return 'pair'; }
  @Get('fixed') @ThrottleClasses(FixedRateUserThrottle) fixed() { return 'fixed'; }
  @Get('anon') @ThrottleClasses(AnonThrottle) anon() { return 'anon'; }
  @Get('shape') @ThrottleClasses(RequestShapeThrottle) shape() { return 'shape'; }
}

describe.each(PLATFORMS)('throttles resolved through DI on %s', (platform: Platform) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function boot(providers: any[]) {
    const clock = new FakeClock();
    const store = new MemoryThrottleStore({ clock: clock.read });
    app = await startApp(
      platform,
      testModule({
        options: { clock: clock.read, store, rates: { tenant: '2/min', sustained: '3/min', user: '100/min', anon: '2/min' } },
        controllers: [DiController],
        providers,
      }),
    );
    const server = app.getHttpServer();
    const get = (path: string, headers: Record<string, string> = {}) => request(server).get(path).set(headers);
    return { get, clock, store, app };
  }

  describe.each([
    ['listed in providers', [PlansService, TenantsService, PlanThrottle, TenantThrottle]],
    ['not listed anywhere', [PlansService, TenantsService]],
  ])('a custom @Injectable throttle with a constructor-injected service, %s', (_label, providers) => {
    test('decides with the app\'s own service instance', async () => {
      const { get, app: booted } = await boot(providers as any[]);
      expect((await get('/plan')).status).toBe(200);
      const denied = await get('/plan');
      expect(denied.status).toBe(429);
      expect(denied.headers['retry-after']).toBe('30');
      for (let i = 0; i < 3; i++) expect((await get('/plan', { 'x-user-id': 'premium' })).status).toBe(200);
      expect((await get('/plan', { 'x-user-id': 'premium' })).status).toBe(429);
      // The throttle talked to the singleton PlansService of the app.
      expect(booted.get(PlansService).used.get('premium')).toBe(4);
      expect(booted.get(PlansService).used.get('127.0.0.1')).toBe(2);
    });

    test('is one singleton', async () => {
      const { get, app: booted } = await boot(providers as any[]);
      await get('/plan');
      const registry = booted.get(ThrottleRegistry);
      const resolved = await registry.resolve(PlanThrottle);
      expect(await registry.resolve(PlanThrottle)).toBe(resolved);
      if ((providers as any[]).includes(PlanThrottle)) expect(booted.get(PlanThrottle)).toBe(resolved);
    });

    test('a SimpleRateThrottle subclass gets both its constructor service and the runtime', async () => {
      const { get, store } = await boot(providers as any[]);
      expect((await get('/tenant', { 'x-tenant': 'acme' })).status).toBe(200);
      expect((await get('/tenant', { 'x-tenant': 'acme' })).status).toBe(200);
      expect((await get('/tenant', { 'x-tenant': 'acme' })).status).toBe(429);
      expect((await get('/tenant', { 'x-tenant': 'globex' })).status).toBe(200);
      expect((await get('/tenant')).status).toBe(200); // no tenant: not throttled
      expect(store.peek('throttle_tenant_acme', 60_000).count).toBe(2);
    });
  });

  test('a throttle sees the transport, method, URL with its query string, and client of the request', async () => {
    const { app: booted } = await boot([PlansService, TenantsService]);
    RequestShapeThrottle.seen.length = 0;
    await request(booted.getHttpServer()).get('/shape?page=2').expect(200);
    await request(booted.getHttpServer()).head('/shape').expect(200);
    expect(RequestShapeThrottle.seen).toEqual(['http GET /shape?page=2 127.0.0.1', 'http HEAD /shape 127.0.0.1']);
  });

  test('UserThrottle.with({ scope, rate }) variants are separate throttles with their own buckets', async () => {
    const { get, clock, store } = await boot([PlansService, TenantsService]);
    const first = await get('/pair');
    expect(first.headers['ratelimit-policy']).toBe('"burst";q=2;w=1, "sustained";q=3;w=60');
    expect((await get('/pair')).status).toBe(200);
    const burstDenied = await get('/pair');
    expect(burstDenied.status).toBe(429);
    expect(burstDenied.headers['retry-after']).toBe('1');
    clock.set(1);
    // The burst window has passed; sustained (rate from `rates`) saw the denied request too: 3 of 3.
    const sustainedDenied = await get('/pair');
    expect(sustainedDenied.status).toBe(429);
    expect(sustainedDenied.headers['retry-after']).toBe('59');
    expect(store.peek('throttle_burst_127.0.0.1', 1000).count).toBe(1);
    expect(store.peek('throttle_sustained_127.0.0.1', 60_000).count).toBe(3);
  });

  test('a .with({ rate }) variant keeps the class scope and overrides its rate', async () => {
    const { get, store } = await boot([PlansService, TenantsService]);
    expect((await get('/fixed', { 'x-user-id': '7' })).status).toBe(200);
    expect((await get('/fixed', { 'x-user-id': '7' })).status).toBe(429);
    expect(store.peek('throttle_user_7', 60_000).count).toBe(1);
  });

  test('AnonThrottle: authenticated requests are neither throttled nor recorded', async () => {
    const { get, store } = await boot([PlansService, TenantsService]);
    for (let i = 0; i < 10; i++) {
      const response = await get('/anon', { 'x-user-id': 'alice' });
      expect(response.status).toBe(200);
      expect(response.headers['ratelimit']).toBeUndefined();
    }
    expect(store.peek('throttle_anon_127.0.0.1', 60_000).count).toBe(0);
    expect(store.size).toBe(0);
    expect((await get('/anon')).status).toBe(200);
    expect((await get('/anon')).status).toBe(200);
    expect((await get('/anon')).status).toBe(429);
    expect((await get('/anon', { 'x-user-id': 'alice' })).status).toBe(200);
  });
});
