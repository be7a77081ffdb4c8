/**
 * BandwidthThrottle through real HTTP on Express and Fastify, the memory store on a fake clock:
 * downloads of known sizes (a Buffer, a UTF-8 string with multi-byte characters, a stream), uploads,
 * a download the client drops, 429 with Retry-After once spent and admission again once enough bytes
 * left the window, RateLimit-Policy's qu="content-bytes", shadow mode.
 */
import { Body, Controller, Get, HttpCode, type INestApplication, Logger, Post, Req, Res, StreamableFile, type Type } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { BandwidthThrottle, MemoryThrottleStore, ThrottleClasses, type ThrottleClass, type ThrottlingModuleOptions, ThrottleShadow } from '../../lib/index.js';
import type { RecordedHit } from '../../lib/core/store.js';
import { FakeClock } from '../support/fake-clock.js';
import { bootError, PLATFORMS, type Platform } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';
import { abortedDownload, exchange, type Exchange, type Upload } from '../support/raw-http.js';

const MULTI_BYTE = 'héllo wörld ✓ 上传 🚀 '; // 1-, 2-, 3- and 4-byte UTF-8 characters
const TEXT = MULTI_BYTE.repeat(100);
const STREAM_CHUNKS = Array.from({ length: 150 }, (_, i) => Buffer.alloc(2000 + i, i));
const STREAM_BYTES = STREAM_CHUNKS.reduce((sum, chunk) => sum + chunk.length, 0);
const BIG_BYTES = 64 * 1024 * 1024;

const Downloads = BandwidthThrottle.with({ scope: 'downloads', rate: '2500B/min' });
const Text = BandwidthThrottle.with({ scope: 'text', rate: '1MB/min' });
const Streams = BandwidthThrottle.with({ scope: 'streams', rate: '1MiB/min' });
const Big = BandwidthThrottle.with({ scope: 'big', rate: '1GB/min' });
const Uploads = BandwidthThrottle.with({ scope: 'uploads', rate: '1MB/min', countRequestBody: true });
const ResponsesOnly = BandwidthThrottle.with({ scope: 'responses-only', rate: '1MB/min' });
const Shadowed = BandwidthThrottle.with({ scope: 'shadowed', rate: '1500B/min' });
const Fixed = BandwidthThrottle.with({ scope: 'fixed', rate: '2kB/10s', algorithm: 'fixed-window' });
const Daily = BandwidthThrottle.with({ scope: 'daily', rate: '1500B/day' });

function readAll(stream: NodeJS.ReadableStream): Promise<number> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    stream.on('end', () => resolve(bytes));
    stream.on('error', reject);
  });
}

/** A Buffer body, sent as one `end(buffer)` (Express's res.send, Fastify's reply.send both take one; Nest would write a returned Buffer as JSON on Express). */
function sendBuffer(res: { send(body: Buffer): unknown }, size: number): void {
  res.send(Buffer.alloc(size, 97));
}

@Controller()
class BandwidthController {
  @Get('buffer') @ThrottleClasses(Downloads) buffer(@Res() res: any) { sendBuffer(res, 1000); }
  @Get('probe') @HttpCode(204) @ThrottleClasses(Downloads) probe() {}

  @Get('text') @ThrottleClasses(Text) text() { return TEXT; }
  @Get('text/probe') @HttpCode(204) @ThrottleClasses(Text) textProbe() {}

  @Get('stream') @ThrottleClasses(Streams) stream() { return new StreamableFile(Readable.from(STREAM_CHUNKS)); }
  @Get('stream/probe') @HttpCode(204) @ThrottleClasses(Streams) streamProbe() {}

  @Get('big') @ThrottleClasses(Big) big() {
    const chunk = Buffer.alloc(64 * 1024, 1);
    return new StreamableFile(Readable.from((function* () {
      for (let sent = 0; sent < BIG_BYTES; sent += chunk.length) yield chunk;
    })()));
  }
  @Get('big/probe') @HttpCode(204) @ThrottleClasses(Big) bigProbe() {}

  @Post('upload/json') @ThrottleClasses(Uploads) uploadJson(@Body() _body: unknown) { return 'ok'; }
  // Read by the handler, after throttling, as an upload streamed to storage is.
  @Post('upload/stream') @ThrottleClasses(Uploads) async uploadStream(@Req() req: any) { await readAll(req.raw ?? req); return 'ok'; }
  @Get('upload/probe') @HttpCode(204) @ThrottleClasses(Uploads) uploadProbe() {}
  @Post('responses-only') @ThrottleClasses(ResponsesOnly) responsesOnly(@Body() _body: unknown) { return 'ok'; }
  @Get('responses-only/probe') @HttpCode(204) @ThrottleClasses(ResponsesOnly) responsesOnlyProbe() {}

  @Get('shadow/buffer') @ThrottleShadow() @ThrottleClasses(Shadowed) shadowBuffer(@Res() res: any) { sendBuffer(res, 1000); }
  @Get('shadow/probe') @HttpCode(204) @ThrottleClasses(Shadowed) shadowProbe() {}

  @Get('fixed') @ThrottleClasses(Fixed) fixed() { return new StreamableFile(Buffer.alloc(1500, 99)); }

  @Get('two') @ThrottleClasses(Text, Daily) two(@Res() res: any) { sendBuffer(res, 1000); }
}

interface Booted {
  readonly app: INestApplication;
  readonly clock: FakeClock;
  get(path: string, user?: string): Promise<Exchange>;
  send(path: string, upload: Upload, user?: string): Promise<Exchange>;
  readonly port: number;
}

let booted: INestApplication | undefined;
afterEach(async () => {
  await booted?.close();
  booted = undefined;
  jest.restoreAllMocks();
});

async function boot(platform: Platform, options: ThrottlingModuleOptions = {}, rawBody = false, controllers: Type<unknown>[] = [BandwidthController]): Promise<Booted> {
  const clock = new FakeClock();
  const testing = await Test.createTestingModule({ imports: [testModule({ options: { clock: clock.read, ...options }, controllers })] }).compile();
  const app = testing.createNestApplication(platform === 'express' ? new ExpressAdapter() : new FastifyAdapter(), { logger: false, rawBody });
  if (platform === 'fastify') {
    // Leaves octet-stream bodies unread for the handler, as an upload plugin does.
    const fastify = app.getHttpAdapter().getInstance() as { addContentTypeParser(type: string, parser: (req: unknown, payload: unknown, done: (error: null, body: unknown) => void) => void): void };
    fastify.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
  }
  await app.init();
  if (platform === 'fastify') await (app.getHttpAdapter().getInstance() as { ready(): Promise<unknown> }).ready();
  await app.listen(0, '127.0.0.1');
  booted = app;
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const withUser = (user: string | undefined, headers: Record<string, string> = {}) => (user === undefined ? headers : { ...headers, 'x-user-id': user });
  return {
    app,
    clock,
    port,
    get: (path, user) => exchange(port, { path, headers: withUser(user) }),
    send: (path, upload, user) => exchange(port, { method: 'POST', ...upload, path, headers: withUser(user, upload.headers) }),
  };
}

/** The `r` of the first policy in a RateLimit header: the bytes left when the request was checked. */
function remaining(response: Exchange): number {
  const match = /;r=(\d+)/.exec(String(response.headers.ratelimit));
  if (match === null) throw new Error(`no RateLimit remaining in ${String(response.headers.ratelimit)}`);
  return Number(match[1]);
}

/** The bytes a probe finds spent; polled, since a response is recorded once the server saw it close. */
async function spent(booted: Booted, probe: string, limit: number, user: string, atLeast = 1): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const used = limit - remaining(await booted.get(probe, user));
    if (used >= atLeast || attempt === 50) return used;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.each(PLATFORMS)('BandwidthThrottle on %s', (platform: Platform) => {
  test('a Buffer download counts its bytes; once the budget is spent, 429 with Retry-After until enough bytes left the window', async () => {
    const b = await boot(platform);
    // '2500B/min', sliding window from t = 0: each response is 1000 bytes.
    const first = await b.get('/buffer', 'ann');
    expect(first.status).toBe(200);
    expect(first.body.length).toBe(1000);
    expect(first.headers['ratelimit-policy']).toBe('"downloads";q=2500;w=60;qu="content-bytes"');
    expect(remaining(first)).toBe(2500);
    expect(remaining(await b.get('/buffer', 'ann'))).toBe(1500);
    // 500 bytes left: admitted, and served whole.
    const third = await b.get('/buffer', 'ann');
    expect(remaining(third)).toBe(500);
    expect(third.body.length).toBe(1000);

    // 3000 of 2500 spent. One byte fits again once the estimate has fallen to 2499: in the next
    // window, 3000 x (1 - elapsed / 60 s) <= 2499, i.e. at 70.02 s.
    const refused = await b.get('/buffer', 'ann');
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body.toString()).message).toBe('Request was throttled. Expected available in 71 seconds.');
    expect(refused.headers['retry-after']).toBe('71');
    expect(remaining(refused)).toBe(0);
    expect(refused.headers['ratelimit-policy']).toBe('"downloads";q=2500;w=60;qu="content-bytes"');

    // 429s count nothing: retrying early does not push the wait further.
    b.clock.now = 70_000;
    expect((await b.get('/buffer', 'ann')).status).toBe(429);
    b.clock.now = 70_020;
    const again = await b.get('/buffer', 'ann');
    expect(again.status).toBe(200);
    expect(again.body.length).toBe(1000);
    // Another client has its own budget.
    expect(remaining(await b.get('/probe', 'bob'))).toBe(2500);
  });

  test('a UTF-8 string counts its bytes, not its characters', async () => {
    const b = await boot(platform);
    const response = await b.get('/text', 'ann');
    const bytes = Buffer.byteLength(TEXT);
    expect(bytes).toBeGreaterThan(TEXT.length);
    expect(response.body.length).toBe(bytes);
    expect(await spent(b, '/text/probe', 1_000_000, 'ann')).toBe(bytes);
  });

  test('a streamed StreamableFile counts every byte it sent', async () => {
    const b = await boot(platform);
    const response = await b.get('/stream', 'ann');
    expect(response.body.length).toBe(STREAM_BYTES);
    expect(await spent(b, '/stream/probe', 1024 * 1024, 'ann')).toBe(STREAM_BYTES);
  });

  test('a download the client drops counts what was sent until then, not the whole file', async () => {
    const b = await boot(platform);
    const received = await abortedDownload(b.port, 1024 * 1024, '/big', { 'x-user-id': 'ann' });
    const used = await spent(b, '/big/probe', 1_000_000_000, 'ann', received);
    expect(used).toBeGreaterThanOrEqual(received);
    // What loopback socket buffers hold besides, but far from the 64 MiB of the file.
    expect(used).toBeLessThan(BIG_BYTES / 2);
  });

  test('countRequestBody: a JSON upload with a Content-Length counts its body and the response', async () => {
    const b = await boot(platform);
    const json = JSON.stringify({ name: MULTI_BYTE.repeat(20) });
    const upload = { headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(json)) }, body: [json] };
    const response = await b.send('/upload/json', upload, 'ann');
    expect(response.status).toBe(201);
    expect(await spent(b, '/upload/probe', 1_000_000, 'ann')).toBe(Buffer.byteLength(json) + 2);
    // Without countRequestBody only the response counts.
    await b.send('/responses-only', upload, 'ann');
    expect(await spent(b, '/responses-only/probe', 1_000_000, 'ann')).toBe(2);
  });

  test('countRequestBody: a chunked upload the handler streams counts the bytes it read', async () => {
    const b = await boot(platform);
    const pieces = [Buffer.alloc(30_000, 1), MULTI_BYTE, Buffer.alloc(45_000, 2)];
    const bytes = 75_000 + Buffer.byteLength(MULTI_BYTE);
    const response = await b.send('/upload/stream', { headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }, body: pieces }, 'ann');
    expect(response.status).toBe(201);
    expect(await spent(b, '/upload/probe', 1_000_000, 'ann')).toBe(bytes + 2);
  });

  test('countRequestBody: a chunked JSON body a body parser read first counts its raw body when the app keeps it (rawBody: true)', async () => {
    const b = await boot(platform, {}, true);
    const json = JSON.stringify({ list: Array.from({ length: 50 }, (_, i) => `${MULTI_BYTE}${i}`) });
    const half = Math.floor(json.length / 2);
    await b.send('/upload/json', { headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, body: [json.slice(0, half), json.slice(half)] }, 'ann');
    expect(await spent(b, '/upload/probe', 1_000_000, 'ann')).toBe(Buffer.byteLength(json) + 2);
  });

  test('countRequestBody: without rawBody, a chunked body a parser consumed has no known size: it counts 0 and says so once', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const b = await boot(platform);
    const json = JSON.stringify({ a: 'x'.repeat(5000) });
    const upload = { headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, body: [json.slice(0, 100), json.slice(100)] };
    await b.send('/upload/json', upload, 'ann');
    await b.send('/upload/json', upload, 'ann');
    expect(await spent(b, '/upload/probe', 1_000_000, 'ann', 4)).toBe(4);
    const unknown = warn.mock.calls.filter(([message]) => String(message).includes('its size is unknown'));
    expect(unknown).toHaveLength(1);
    expect(String(unknown[0][0])).toContain('rawBody: true');
  });

  test('shadow mode (@ThrottleShadow) serves a client over its budget and still counts what it was served', async () => {
    const b = await boot(platform);
    // '1500B/min': the third download is over budget, served all the same, and counted.
    for (let i = 0; i < 3; i++) {
      const response = await b.get('/shadow/buffer', 'ann');
      expect(response.status).toBe(200);
      expect(response.body.length).toBe(1000);
    }
    // The enforcing route on the same budget sees 3000 bytes: one byte fits once
    // 3000 x (1 - elapsed / 60 s) <= 1499, at 90.02 s (with 2000 counted it would be 75.03 s).
    await new Promise((resolve) => setTimeout(resolve, 20));
    const refused = await b.get('/shadow/probe', 'ann');
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('91');
  });

  test("'fixed-window': the budget comes back whole when the window turns", async () => {
    const b = await boot(platform);
    // '2kB/10s': 1500 + 1500 spends it within the first window.
    expect((await b.get('/fixed', 'ann')).status).toBe(200);
    expect((await b.get('/fixed', 'ann')).status).toBe(200);
    const refused = await b.get('/fixed', 'ann');
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('10');
    expect(refused.headers['ratelimit-policy']).toBe('"fixed";q=2000;w=10;qu="content-bytes"');
    b.clock.now = 10_000;
    expect(remaining(await b.get('/fixed', 'ann'))).toBe(2000);
  });

  test('two bandwidth throttles on one route each count the response in their own budget', async () => {
    const b = await boot(platform);
    const first = await b.get('/two', 'ann');
    expect(first.headers['ratelimit-policy']).toBe('"text";q=1000000;w=60;qu="content-bytes", "daily";q=1500;w=86400;qu="content-bytes"');
    const second = await b.get('/two', 'ann');
    expect(second.headers.ratelimit).toMatch(/^"text";r=999000;t=\d+, "daily";r=500;t=\d+$/);
    expect((await b.get('/two', 'ann')).status).toBe(429);
  });

  test('a store that fails to record after the response is logged, and the app keeps serving', async () => {
    class FailingRecords extends MemoryThrottleStore {
      override record(_hits: readonly RecordedHit[]): Promise<void> {
        return Promise.reject(new Error('disk full'));
      }
    }
    const error = jest.spyOn(Logger.prototype, 'error');
    const unhandled = jest.fn();
    process.on('unhandledRejection', unhandled);
    try {
      const b = await boot(platform, { store: new FailingRecords() });
      expect((await b.get('/buffer', 'ann')).status).toBe(200);
      expect((await b.get('/buffer', 'ann')).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const logged = error.mock.calls.map(([message]) => String(message)).filter((message) => message.includes('disk full'));
      expect(logged.length).toBeGreaterThanOrEqual(1);
      expect(logged[0]).toBe('BandwidthThrottle(downloads, 2500B/min): could not record 1000 bytes sent on throttle_downloads_ann: disk full');
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });
});

describe('BandwidthThrottle at boot', () => {
  function appWith(throttle: ThrottleClass): Type<unknown> {
    @Controller()
    class Routes {
      @Get() @ThrottleClasses(throttle) index() {}
    }
    return testModule({ controllers: [Routes] });
  }

  test('a bad byte rate fails the boot, naming the route, the throttle and the value', async () => {
    const error = await bootError(appWith(BandwidthThrottle.with({ rate: '10XB/day' })));
    expect(error?.message).toBe(
      "Routes.index: BandwidthThrottle(10XB/day), scope 'bandwidth': BandwidthThrottle(10XB/day).rate: invalid byte rate '10XB/day': unknown unit 'XB'; use B, kB or KB, MB, GB, TB, PB (powers of 1000) or KiB, MiB, GiB, TiB, PiB (powers of 1024)",
    );
  });

  test("'sliding-log' is refused: it would keep one entry per byte", async () => {
    expect((await bootError(appWith(BandwidthThrottle.with({ rate: '1MB/day', algorithm: 'sliding-log' as never }))))?.message).toBe(
      "Routes.index: BandwidthThrottle(1MB/day, sliding-log): algorithm 'sliding-log' cannot count bytes: it keeps one entry per unit, i.e. per byte; use 'sliding-window' (the default), 'gcra' or 'fixed-window'",
    );
    class LogBandwidth extends BandwidthThrottle {
      override rate = '1MB/day';
      override algorithm = 'sliding-log' as const;
    }
    expect((await bootError(appWith(LogBandwidth)))?.message).toBe(
      "Routes.index: LogBandwidth: algorithm 'sliding-log' cannot count bytes: it keeps one entry per unit, i.e. per byte; use 'sliding-window' (the default), 'gcra' or 'fixed-window'",
    );
  });

  test('cost, blockFor, a burst without gcra and an unknown algorithm fail the boot, naming the value', async () => {
    class Costly extends BandwidthThrottle {
      override rate = '1MB/day';
      override cost = 5;
    }
    expect((await bootError(appWith(Costly)))?.message).toBe('Routes.index: Costly: cost does not apply to a bandwidth throttle (a response costs the bytes it sends), got cost 5');
    class Blocking extends BandwidthThrottle {
      override rate = '1MB/day';
      override blockFor = 60;
    }
    expect((await bootError(appWith(Blocking)))?.message).toBe(
      'Routes.index: Blocking: blockFor does not apply to a bandwidth throttle (its check counts nothing, the bytes are recorded after the response), got blockFor 60',
    );
    expect((await bootError(appWith(BandwidthThrottle.with({ rate: '1MB/day', burst: 1000 }))))?.message).toContain("burst 1000 applies to algorithm 'gcra' only, but this throttle counts with 'sliding-window'");
    expect((await bootError(appWith(BandwidthThrottle.with({ rate: '1MB/day', algorithm: 'leaky' as never }))))?.message).toContain("algorithm must be one of 'sliding-log', 'sliding-window', 'gcra', 'fixed-window', got 'leaky'");
    expect((await bootError(appWith(BandwidthThrottle.with({ rate: '1MB/day', countRequestBody: 'yes' as never }))))?.message).toBe(
      "Routes.index: BandwidthThrottle(1MB/day, request body): countRequestBody must be true or false, got 'yes'",
    );
  });
});
