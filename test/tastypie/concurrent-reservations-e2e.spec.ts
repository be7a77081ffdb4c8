/**
 * The guard's after-success path under concurrency (CacheThrottle on a route): the check reserves a
 * slot, the access interceptor commits it on success and releases it when the handler throws, and
 * the guard releases it when another throttle of the request denies.
 */
import { BadRequestException, Controller, Get, Injectable, type INestApplication, Module, Post } from '@nestjs/common';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { CacheThrottle, type Throttle, type ThrottleContext, ThrottleClasses, ThrottlingModule, ThrottlingService } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { PLATFORMS, startApp } from '../support/http-app.js';

const clock = new FakeClock();
const SlowThrottle = CacheThrottle.with({ throttleAt: 3, timeframe: 60, scope: 'slow' });

/** Holds every handler until the test opens it, so all requests are in flight together. */
class Gate {
  entered = 0;
  private open!: () => void;
  private opened = new Promise<void>((resolve) => (this.open = resolve));
  reset(): void {
    this.entered = 0;
    this.opened = new Promise<void>((resolve) => (this.open = resolve));
  }
  async pass(): Promise<void> {
    this.entered++;
    await this.opened;
  }
  release(): void {
    this.open();
  }
}
const gate = new Gate();

/** Denies the requests that carry `x-deny`. */
@Injectable()
class DenyOnHeader implements Throttle {
  allowRequest(ctx: ThrottleContext) {
    return ctx.request.headers['x-deny'] === undefined;
  }
}

@Controller('slow')
@ThrottleClasses(SlowThrottle)
class SlowController {
  @Get() async slow() {
    await gate.pass();
    return { ok: true };
  }
  @Post('fail') async fail() {
    await gate.pass();
    throw new BadRequestException('failed');
  }
}

const OneSlot = CacheThrottle.with({ throttleAt: 1, timeframe: 60, scope: 'one' });

@Controller('both')
@ThrottleClasses(OneSlot, DenyOnHeader)
class BothController {
  @Get() get() {
    return { ok: true };
  }
}

@Module({ imports: [ThrottlingModule.forRoot({ clock: clock.read })], controllers: [SlowController, BothController] })
class ReservationsModule {}

const waitFor = async (condition: () => boolean) => {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
};

describe.each(PLATFORMS)('reservations on the after-success path over HTTP on %s', (platform) => {
  let app: INestApplication;
  let server: any;
  beforeAll(async () => {
    app = await startApp(platform, ReservationsModule);
    server = app.getHttpServer();
  });
  afterAll(async () => app.close());
  beforeEach(async () => {
    clock.set(1000 + Math.floor(Math.random() * 1000));
    gate.reset();
    await app.get(ThrottlingService).reset({ identity: '127.0.0.1' }, SlowThrottle);
  });

  test('30 concurrent requests to a slow CacheThrottle route (throttleAt 3): exactly 3 handlers run, the rest get 429 at once', async () => {
    const answers = Array.from({ length: 30 }, () => request(server).get('/slow').then((res) => res.status));
    await waitFor(() => gate.entered >= 3);
    // Give the other requests time to be refused while the three are still in their handler.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(gate.entered).toBe(3);
    gate.release();
    const statuses = await Promise.all(answers);
    expect(statuses.filter((status) => status === 200)).toHaveLength(3);
    expect(statuses.filter((status) => status === 429)).toHaveLength(27);
    expect(gate.entered).toBe(3);
    expect((await app.get(ThrottlingService).peek({ identity: '127.0.0.1' }, SlowThrottle)).count).toBe(3);
  });

  test('a handler that throws releases its slot: failed requests are not counted, under concurrency too', async () => {
    const failing = Array.from({ length: 3 }, () => request(server).post('/slow/fail').then((res) => res.status));
    await waitFor(() => gate.entered >= 3);
    expect((await request(server).get('/slow')).status).toBe(429);
    gate.release();
    expect(await Promise.all(failing)).toEqual([400, 400, 400]);
    expect((await app.get(ThrottlingService).peek({ identity: '127.0.0.1' }, SlowThrottle)).count).toBe(0);
    for (let i = 0; i < 3; i++) expect((await request(server).get('/slow')).status).toBe(200);
    expect((await request(server).get('/slow')).status).toBe(429);
  });

  test('sequential requests keep Tastypie\'s behaviour: throttleAt successes, then 429 with the Tastypie wait', async () => {
    gate.release();
    for (let i = 0; i < 3; i++) await request(server).get('/slow').expect(200);
    const throttled = await request(server).get('/slow').expect(429);
    expect(throttled.headers['retry-after']).toBe('60');
    clock.advance(60);
    await request(server).get('/slow').expect(200);
  });

  test('a request denied by another throttle frees the slot its CacheThrottle reserved at once', async () => {
    const service = app.get(ThrottlingService);
    await service.reset({ identity: '127.0.0.1' }, OneSlot);
    await request(server).get('/both').set('x-deny', '1').expect(429);
    await request(server).get('/both').set('x-deny', '1').expect(429);
    await request(server).get('/both').expect(200);
    await request(server).get('/both').expect(429);
  });
});
