/**
 * Byte rates in the module's `rates`, read by BandwidthThrottle for its scope: served and throttled
 * as a class rate is, checked at boot naming the value, and still refused for request throttles.
 */
import { Controller, Get, Res, type Type } from '@nestjs/common';
import { afterEach, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { BandwidthThrottle, ThrottleClasses, type ThrottleClass, type ThrottlingModuleOptions, UserThrottle } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { bootError, PLATFORMS, type Platform, startApp } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';
import type { INestApplication } from '@nestjs/common';

function routes(throttle: ThrottleClass): Type<unknown> {
  @Controller()
  class Routes {
    @Get('file') @ThrottleClasses(throttle) file(@Res() res: { send(body: Buffer): void }) {
      res.send(Buffer.alloc(1000, 1));
    }
  }
  return Routes;
}

let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe.each(PLATFORMS)("a byte rate in the module's rates, on %s", (platform: Platform) => {
  test("rates: { bandwidth: '2.5kB/min' } is BandwidthThrottle's budget", async () => {
    const clock = new FakeClock();
    const options: ThrottlingModuleOptions = { clock: clock.read, rates: { bandwidth: '2.5kB/min' } };
    app = await startApp(platform, testModule({ options, controllers: [routes(BandwidthThrottle)] }));
    const get = () => request(app!.getHttpServer()).get('/file').set('x-user-id', 'ann');
    const first = await get();
    expect(first.headers['ratelimit-policy']).toBe('"bandwidth";q=2500;w=60;qu="content-bytes"');
    await get();
    await get();
    const refused = await get();
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('71');
  });
});

describe("byte rates in the module's rates at boot", () => {
  test('a bad one fails the boot naming the route, the throttle and the value', async () => {
    const error = await bootError(testModule({ options: { rates: { bandwidth: '10XB/day' } }, controllers: [routes(BandwidthThrottle)] }));
    expect(error?.message).toBe(
      "Routes.file: BandwidthThrottle, scope 'bandwidth': rates.bandwidth: invalid byte rate '10XB/day': unknown unit 'XB'; use B, kB or KB, MB, GB, TB, PB (powers of 1000) or KiB, MiB, GiB, TiB, PiB (powers of 1024)",
    );
  });

  test('null switches the scope off', async () => {
    app = await startApp('express', testModule({ options: { rates: { bandwidth: null } }, controllers: [routes(BandwidthThrottle)] }));
    const response = await request(app.getHttpServer()).get('/file');
    expect(response.status).toBe(200);
    expect(response.headers['ratelimit-policy']).toBeUndefined();
  });

  test('a request throttle on a scope with a byte rate still fails the boot: it counts requests', async () => {
    const error = await bootError(testModule({ options: { rates: { files: '1MB/min' } }, controllers: [routes(UserThrottle.with({ scope: 'files' }))] }));
    expect(error?.message).toContain("rates.files: invalid rate '1MB/min'");
  });

  test('a byte rate no route uses still fails the boot, as any malformed rate does', async () => {
    const error = await bootError(testModule({ options: { rates: { bandwidth: '1MB/min' } }, controllers: [routes(UserThrottle.with({ scope: 'user', rate: '5/min' }))] }));
    expect(error?.message).toContain("rates.bandwidth: invalid rate '1MB/min'");
  });
});
