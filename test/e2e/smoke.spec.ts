import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { afterEach, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { ThrottleClasses, ThrottlingModule, UserThrottle } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { PLATFORMS, startApp } from '../support/http-app.js';

const clock = new FakeClock();

@Controller()
@ThrottleClasses(UserThrottle.with({ scope: 'seconds', rate: '3/sec' }))
class HelloController {
  @Get('hello') hello() { return { ok: true }; }
}

@Module({ imports: [ThrottlingModule.forRoot({ clock: clock.read })], controllers: [HelloController] })
class AppModule {}

describe.each(PLATFORMS)('smoke on %s', (platform) => {
  let app: INestApplication;
  afterEach(async () => app?.close());
  test('fourth request in a second is throttled', async () => {
    app = await startApp(platform, AppModule);
    const server = app.getHttpServer();
    for (let i = 0; i < 3; i++) await request(server).get('/hello').expect(200);
    const res = await request(server).get('/hello').expect(429);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body.message).toBe('Request was throttled. Expected available in 1 second.');
  });
});
