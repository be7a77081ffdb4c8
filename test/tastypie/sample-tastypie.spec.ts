import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { AppModule } from '../../sample/app.module.js';
import { PLATFORMS, startApp } from '../support/http-app.js';

describe.each(PLATFORMS)("the sample's Tastypie-style routes on %s", (platform) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await startApp(platform, AppModule);
  });
  afterAll(async () => app?.close());

  test('the search endpoint throttles itself by hand and does not count malformed searches', async () => {
    const server = app.getHttpServer();
    for (let i = 0; i < 40; i++) await request(server).get('/notes/search').expect(400);
    const found = await request(server).get('/notes/search?q=buy').expect(200);
    expect(found.body).toEqual({ objects: ['Buy milk', 'Buy birthday present'], page: 1, total: 2 });
    expect(found.headers['ratelimit-policy']).toBe('"search";q=30;w=60');
    expect(found.headers['ratelimit']).toBe('"search";r=29;t=60');
    for (let i = 0; i < 29; i++) await request(server).get('/notes/search?q=call').expect(200);
    const throttled = await request(server).get('/notes/search?q=call').expect(429);
    // The sample runs on the real clock: the first search leaves the minute at most 60 s from now.
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(throttled.headers['retry-after'])).toBeLessThanOrEqual(60);
  });

  test('the login route locks a username after five wrong passwords, from any address, and not other usernames', async () => {
    const server = app.getHttpServer();
    const login = (username: string, password: string, address: string) =>
      request(server).post('/auth/login').set('Authorization', `Bearer client-${address}`).send({ username, password });
    for (let i = 0; i < 5; i++) await login('alice', `guess-${i}`, `10.0.0.${i}`).expect(401);
    const locked = await login('alice', 'wonderland', '10.0.0.9').expect(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(890);
    expect(Number(locked.headers['retry-after'])).toBeLessThanOrEqual(900);
    await login('bob', 'nope', '10.0.0.1').expect(401);
    const ok = await login('bob', 'builder', '10.0.0.1').expect(200);
    expect(typeof ok.body.token).toBe('string');
  });
});
