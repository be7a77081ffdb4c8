import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { AppModule } from '../../sample/app.module.js';
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
    expect(res.headers['retry-after']).toBe('60');
    expect(res.body.message).toBe('Request was throttled. Expected available in 60 seconds.');
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
});
