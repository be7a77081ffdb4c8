// Jest in ESM mode (NODE_OPTIONS=--experimental-vm-modules, ts-jest with useESM: see package.json).
// In ESM mode the `jest` object is not a global: tests import what they use from @jest/globals.
import 'reflect-metadata';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { AppModule } from '../src/app.module.js';

describe('AppController (e2e)', () => {
  let app: INestApplication;

  beforeEach(async () => {
    const moduleFixture = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleFixture.createNestApplication();
    await app.init();
  });

  afterEach(() => app.close());

  it('/ (GET) answers three times a minute, then 429 with Retry-After', async () => {
    for (let i = 0; i < 3; i++) {
      await request(app.getHttpServer()).get('/').expect(200).expect('Hello World!');
    }
    const throttled = await request(app.getHttpServer()).get('/').expect(429);
    expect(throttled.body.message).toMatch(/^Request was throttled\. Expected available in (59|60) seconds\.$/);
    expect(throttled.headers['retry-after']).toMatch(/^(59|60)$/);
  });

  it('loads the ES module build of nestjs-throttling', () => {
    expect(import.meta.resolve('nestjs-throttling')).toMatch(/\/nestjs-throttling\/dist\/esm\/index\.js$/);
  });
});
