import { INestApplication } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import request from 'supertest';
import { App } from 'supertest/types';
import { AppModule } from './../src/app.module';

describe('AppController (e2e)', () => {
  let app: INestApplication<App>;

  beforeEach(async () => {
    const moduleFixture: TestingModule = await Test.createTestingModule({
      imports: [AppModule],
    }).compile();

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
});
