/**
 * BandwidthThrottle on RedisThrottleStore, through real HTTP on Express and Fastify: the check is
 * answered by the Redis script without counting, the bytes are recorded past the limit when the
 * response is over, and the decisions (RateLimit, Retry-After, admission again) are the memory
 * store's. The store's clock is the test's, so windows move without sleeping.
 */
import { Controller, Get, HttpCode, type INestApplication, Res, StreamableFile } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { BandwidthThrottle, RedisThrottleStore, ThrottleClasses } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { PLATFORMS, startApp } from '../support/http-app.js';
import { abortedDownload, exchange, type Exchange } from '../support/raw-http.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';
import { testModule } from '../support/test-app.js';
import { deleteKeys, runPrefix } from './support/redis-keys.js';

const runs = await serviceAvailable('Redis', REDIS_URL);
const suite = runs ? describe : describe.skip;
const prefix = runPrefix('bandwidth');

const Downloads = BandwidthThrottle.with({ scope: 'downloads', rate: '2500B/min' });
const Bursty = BandwidthThrottle.with({ scope: 'bursty', rate: '6kB/min', algorithm: 'gcra', burst: 3000 });
const Big = BandwidthThrottle.with({ scope: 'big', rate: '1GB/min' });
const CHUNKS = Array.from({ length: 40 }, (_, i) => Buffer.alloc(1000 + i, i));
const STREAM_BYTES = CHUNKS.reduce((sum, chunk) => sum + chunk.length, 0);
const BIG_BYTES = 64 * 1024 * 1024;

@Controller()
class FilesController {
  @Get('buffer') @ThrottleClasses(Downloads) buffer(@Res() res: { send(body: Buffer): void }) { res.send(Buffer.alloc(1000, 97)); }
  @Get('bursty') @ThrottleClasses(Bursty) bursty(@Res() res: { send(body: Buffer): void }) { res.send(Buffer.alloc(1000, 98)); }
  @Get('bursty/probe') @HttpCode(204) @ThrottleClasses(Bursty) burstyProbe() {}
  @Get('stream') @ThrottleClasses(Big) stream() { return new StreamableFile(Readable.from(CHUNKS)); }
  @Get('big') @ThrottleClasses(Big) big() {
    const chunk = Buffer.alloc(64 * 1024, 1);
    return new StreamableFile(Readable.from((function* () {
      for (let sent = 0; sent < BIG_BYTES; sent += chunk.length) yield chunk;
    })()));
  }
  @Get('big/probe') @HttpCode(204) @ThrottleClasses(Big) probe() {}
}

function remaining(response: Exchange): number {
  if (response.headers.ratelimit === undefined) throw new Error(`no RateLimit header: ${response.status} ${response.body.toString()}`);
  return Number(/;r=(\d+)/.exec(String(response.headers.ratelimit))![1]);
}

let appCounter = 0;

suite.each(PLATFORMS)('BandwidthThrottle on RedisThrottleStore, %s', (platform) => {
  let redis: Redis;
  let app: INestApplication | undefined;
  const clock = new FakeClock();

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  afterAll(async () => {
    await deleteKeys(`${prefix}${platform}:`);
    redis.disconnect();
  });

  async function boot() {
    // A minute boundary, so the sliding window's arithmetic below starts at a window's start. A long
    // storeTimeout: on a loaded machine the first script load must not fall back to the local store.
    clock.set(1_700_000_040);
    const store = new RedisThrottleStore(redis, { keyPrefix: `${prefix}${platform}:${++appCounter}:`, clock: clock.read });
    app = await startApp(platform, testModule({ options: { store, clock: clock.read, storeTimeout: 5000 }, controllers: [FilesController] }));
    const port = (app.getHttpServer().address() as AddressInfo).port;
    return { port, get: (path: string, user: string) => exchange(port, { path, headers: { 'x-user-id': user } }) };
  }

  /** The bytes left, polled until a recorded response shows (it is recorded once the server saw it close). */
  async function leftAfter(get: (path: string, user: string) => Promise<Exchange>, path: string, user: string, below: number): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const left = remaining(await get(path, user));
      if (left < below || attempt === 50) return left;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  test('counts the bytes sent; 429 with Retry-After once spent; admitted again once enough bytes left the window', async () => {
    const { get } = await boot();
    expect(remaining(await get('/buffer', 'ann'))).toBe(2500);
    expect(remaining(await get('/buffer', 'ann'))).toBe(1500);
    const third = await get('/buffer', 'ann');
    expect(third.headers['ratelimit-policy']).toBe('"downloads";q=2500;w=60;qu="content-bytes"');
    expect(remaining(third)).toBe(500);
    // 3000 of 2500 spent: one byte fits at 70.02 s (as on the memory store).
    const refused = await get('/buffer', 'ann');
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('71');
    clock.advance(70);
    expect((await get('/buffer', 'ann')).status).toBe(429);
    clock.advance(0.02);
    expect((await get('/buffer', 'ann')).status).toBe(200);
  });

  test("gcra: a burst of bytes at once, then bytes come back at the rate's pace", async () => {
    const { get } = await boot();
    // burst 3000 bytes, refilled at 100 B/s (6 kB/min): three downloads of 1000 pass at once.
    for (let i = 0; i < 3; i++) expect((await get('/bursty', 'ann')).status).toBe(200);
    const refused = await get('/bursty', 'ann');
    expect(refused.status).toBe(429);
    // Nothing is left: one byte comes back after 10 ms, so the client may retry within a second.
    expect(refused.headers['retry-after']).toBe('1');
    clock.advance(0.01);
    const later = await get('/bursty', 'ann');
    expect(later.status).toBe(200);
    expect(remaining(later)).toBe(1);
    // That download took 3999 bytes in all, 999 past the burst: refused until they are back, and
    // every second brings 100 bytes back (20 s: 2000 of them, 1001 left).
    expect((await get('/bursty/probe', 'ann')).status).toBe(429);
    clock.advance(20);
    expect(remaining(await get('/bursty/probe', 'ann'))).toBe(1001);
  });

  test('a streamed file counts every byte; a dropped download counts what was sent until then', async () => {
    const { port, get } = await boot();
    expect((await get('/stream', 'ann')).body.length).toBe(STREAM_BYTES);
    expect(1_000_000_000 - (await leftAfter(get, '/big/probe', 'ann', 1_000_000_000))).toBe(STREAM_BYTES);
    const received = await abortedDownload(port, 1024 * 1024, '/big', { 'x-user-id': 'bob' });
    const used = 1_000_000_000 - (await leftAfter(get, '/big/probe', 'bob', 1_000_000_000 - received + 1));
    expect(used).toBeGreaterThanOrEqual(received);
    expect(used).toBeLessThan(BIG_BYTES / 2);
  });
});
