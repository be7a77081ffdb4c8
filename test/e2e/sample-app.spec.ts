import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { AppModule } from '../../sample/app.module.js';
import { DEMO_ADMIN_TOKEN } from '../../sample/admin/admin-token.guard.js';
import { PLATFORMS, startApp } from '../support/http-app.js';
import { parseExposition, valueOf } from '../metrics/support/exposition.js';

describe.each(PLATFORMS)('the sample API on %s', (platform) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await startApp(platform, AppModule);
  });
  afterAll(async () => app?.close());

  test('anonymous clients get the anon and user policies on default routes', async () => {
    const res = await request(app.getHttpServer()).get('/contacts').expect(200);
    expect(res.headers['ratelimit-policy']).toBe('"anon";q=20;w=60, "user";q=60;w=60');
  });

  test('signed-in users are counted by id, not by the anonymous policy', async () => {
    const res = await request(app.getHttpServer()).get('/contacts').set('Authorization', 'Bearer carol').expect(200);
    expect(res.headers['ratelimit']).toBe('"user";r=59;t=60');
  });

  test('the health route is never throttled and sends no rate-limit headers', async () => {
    for (let i = 0; i < 30; i++) {
      const res = await request(app.getHttpServer()).get('/health').expect(200);
      expect(res.headers['ratelimit']).toBeUndefined();
    }
  });

  test('uploads are limited to 5 a minute with a Retry-After', async () => {
    for (let i = 0; i < 5; i++) await request(app.getHttpServer()).post('/contacts/upload').send({}).expect(201);
    const res = await request(app.getHttpServer()).post('/contacts/upload').send({}).expect(429);
    // The sample runs on the real clock: the wait is the minute less the time the five uploads took.
    const retryAfter = Number(res.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(55);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(res.body.message).toBe(`Request was throttled. Expected available in ${retryAfter} seconds.`);
  });

  test('the plan throttle reads the plan through an injected service', async () => {
    for (let i = 0; i < 5; i++) await request(app.getHttpServer()).get('/reports').set('Authorization', 'Bearer dave').expect(200);
    await request(app.getHttpServer()).get('/reports').set('Authorization', 'Bearer dave').expect(429);
    // alice is on the pro plan: 100/min
    for (let i = 0; i < 10; i++) await request(app.getHttpServer()).get('/reports').set('Authorization', 'Bearer alice').expect(200);
    // ops is internal: not throttled, so no headers
    const res = await request(app.getHttpServer()).get('/reports').set('Authorization', 'Bearer ops').expect(200);
    expect(res.headers['ratelimit']).toBeUndefined();
  });

  test('exports carry both the burst and the sustained policy', async () => {
    const res = await request(app.getHttpServer()).get('/contacts/export').set('Authorization', 'Bearer erin').expect(200);
    expect(res.headers['ratelimit-policy']).toBe('"burst";q=10;w=60, "sustained";q=200;w=86400');
  });

  test('GET / lists every route of the sample, found by discovery, with its throttles and what it shows, unthrottled', async () => {
    const res = await request(app.getHttpServer()).get('/').expect(200);
    expect(res.headers['ratelimit']).toBeUndefined();
    const routes: Array<{ method: string; path: string; throttles: string; shows?: string }> = res.body.routes;
    const byRoute = new Map(routes.map((route) => [`${route.method} ${route.path}`, route]));
    expect([...byRoute.keys()]).toEqual(expect.arrayContaining([
      'GET /', 'GET /contacts', 'POST /contacts/upload', 'GET /contacts/export', 'GET /reports', 'GET /health',
      'GET /notes/search', 'POST /auth/login', 'GRAPHQL /graphql query notes', 'GRAPHQL /graphql mutation importNotes',
      'SOCKET.IO /chat say', 'SOCKET.IO /chat shout', 'SOCKET.IO /chat typing',
      'GET /admin/throttling/:identity', 'POST /admin/throttling/:identity/grant', 'POST /admin/throttling/:identity/penalize',
    ]));
    expect(byRoute.get('GET /contacts')?.throttles).toBe('AnonThrottle, UserThrottle');
    expect(byRoute.get('POST /contacts/upload')?.throttles).toBe("ScopedThrottle, scope 'uploads'");
    expect(byRoute.get('GET /contacts/export')?.throttles).toBe('UserThrottle(burst), UserThrottle(sustained)');
    expect(byRoute.get('GET /health')).toMatchObject({ throttles: 'none', shows: expect.stringContaining('off') });
    expect(byRoute.get('SOCKET.IO /chat typing')?.throttles).toBe('none');
    // Every route the sample's own handlers describe carries its words; the list is sorted by path.
    expect(byRoute.get('GET /reports')?.shows).toMatch(/plan/);
    expect(routes.map((route) => route.path)).toEqual([...routes.map((route) => route.path)].sort((a, b) => a.localeCompare(b)));
    expect(byRoute.get('GET /beta')?.shows).toMatch(/shadow/);
    expect(byRoute.get('GET /metrics')).toMatchObject({ throttles: 'none', shows: expect.stringContaining('Prometheus') });
  });

  test('a limit in shadow mode serves the requests over it, with its headers', async () => {
    const statuses: number[] = [];
    let last: request.Response | undefined;
    for (let i = 0; i < 7; i++) {
      last = await request(app.getHttpServer()).get('/beta').set('authorization', `Bearer shadow-${platform}`);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200]);
    expect(last!.headers['ratelimit-policy']).toContain('"beta";q=5;w=60');
  });

  test('/metrics answers Prometheus text with the throttling metrics, unthrottled', async () => {
    await request(app.getHttpServer()).get('/beta').set('authorization', `Bearer metrics-${platform}`);
    const res = await request(app.getHttpServer()).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.headers['ratelimit']).toBeUndefined();
    const scraped = parseExposition(res.text);
    expect(valueOf(scraped, 'nestjs_throttling_decisions_total', { policy: 'beta', outcome: 'shadow_throttled', transport: 'http' })).toBeGreaterThanOrEqual(2);
    expect(valueOf(scraped, 'nestjs_throttling_decisions_total', { policy: 'beta', outcome: 'allowed', transport: 'http' })).toBeGreaterThanOrEqual(5);
    expect(valueOf(scraped, 'nestjs_throttling_memory_store_keys', { store: 'memory' })).toBeGreaterThan(0);
  });

  describe('the support staff routes (admin/throttling)', () => {
    // Sent signed in, so these calls count in their own user bucket, not the address's anon one.
    const staff = { 'x-admin-token': DEMO_ADMIN_TOKEN, authorization: 'Bearer support' };
    const admin = () => request(app.getHttpServer());

    test('without the admin token they answer 401', async () => {
      await admin().get('/admin/throttling/frank').set('authorization', 'Bearer support').expect(401);
      await admin().get('/admin/throttling/frank').set({ ...staff, 'x-admin-token': 'guess' }).expect(401);
      await admin().post('/admin/throttling/frank/grant').set('authorization', 'Bearer support').send({ scope: 'user' }).expect(401);
    });

    test("GET lists a user's buckets with the counts of its requests, and with ?ip= an address's", async () => {
      for (let i = 0; i < 2; i++) await admin().get('/contacts').set('authorization', 'Bearer frank').expect(200);
      const res = await admin().get('/admin/throttling/frank').set(staff).query({ ip: '203.0.113.9' }).expect(200);
      const byKey = new Map<string, { count: number; limit: number; scope: string }>(res.body.buckets.map((bucket: { key: string }) => [bucket.key, bucket]));
      expect(byKey.get('throttle_user_frank')).toMatchObject({ throttle: 'UserThrottle', scope: 'user', count: 2, limit: 60, remaining: 58 });
      expect(byKey.get('throttle_uploads_frank')).toMatchObject({ scope: 'uploads', count: 0, limit: 5 });
      expect(res.body.address.ip).toBe('203.0.113.9');
      expect(res.body.address.buckets.map((bucket: { key: string }) => bucket.key)).toContain('throttle_anon_203.0.113.9');
      const bad = await admin().get('/admin/throttling/frank').set(staff).query({ ip: 'nowhere' }).expect(400);
      expect(bad.body.message).toBe('ip must be an IPv4 or IPv6 address, got "nowhere"');
    });

    test('penalize throttles a user at once; grant lets it through again', async () => {
      const penalized = await admin().post('/admin/throttling/gus/penalize').set(staff).send({ scope: 'user' }).expect(200);
      expect(penalized.body).toMatchObject({ key: 'throttle_user_gus', count: 60, remaining: 0 });
      await admin().get('/contacts').set('authorization', 'Bearer gus').expect(429);
      const granted = await admin().post('/admin/throttling/gus/grant').set(staff).send({ scope: 'user' }).expect(200);
      expect(granted.body).toMatchObject({ key: 'throttle_user_gus', count: 0, remaining: 60 });
      await admin().get('/contacts').set('authorization', 'Bearer gus').expect(200);
      const bad = await admin().post('/admin/throttling/gus/penalize').set(staff).send({ scope: 'everything' }).expect(400);
      expect(bad.body.message).toBe('scope must be one of anon, user, uploads, login, got "everything"');
    });

    test('grant on the login scope unlocks a username locked out by wrong passwords', async () => {
      const login = (password: string) => admin().post('/auth/login').set('authorization', 'Bearer kiosk').send({ username: 'bob', password });
      for (let i = 0; i < 5; i++) await login('nope').expect(401);
      await login('builder').expect(429);
      const listed = await admin().get('/admin/throttling/bob').set(staff).expect(200);
      expect(listed.body.buckets).toContainEqual(expect.objectContaining({ scope: 'login', count: 5, remaining: 0 }));
      await admin().post('/admin/throttling/bob/grant').set(staff).send({ scope: 'login' }).expect(200);
      await login('builder').expect(200);
    });
  });
});
