import { afterEach, describe, expect, test } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestBodyMeter } from '../../lib/http/request-body-meter.js';
import { abortedUpload, exchange, serve } from '../support/raw-http.js';

let server: Awaited<ReturnType<typeof serve>> | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

interface Seen {
  received: number;
  unknownSize: boolean;
  read: number;
}

/** A server that meters each request, by `handle`, and reports what the meter says once the response closed. */
async function meteredServer(handle: (req: IncomingMessage, res: ServerResponse, meter: () => RequestBodyMeter) => Promise<number>): Promise<{ port: number; seen: () => Promise<Seen> }> {
  const seen: Seen[] = [];
  const waiting: ((value: Seen) => void)[] = [];
  server = await serve((req, res) => {
    let meter: RequestBodyMeter | undefined;
    const attach = () => (meter ??= RequestBodyMeter.of(req)!);
    let read = 0;
    res.once('close', () => {
      const value = { received: meter!.received(), unknownSize: meter!.unknownSize, read };
      const next = waiting.shift();
      if (next) next(value);
      else seen.push(value);
    });
    void handle(req, res, attach).then((bytes) => {
      read = bytes;
      res.end('ok');
    }, () => res.destroy());
  });
  return { port: server.port, seen: () => (seen.length > 0 ? Promise.resolve(seen.shift()!) : new Promise((resolve) => waiting.push(resolve))) };
}

const MULTI_BYTE = 'ü✓🚀'; // 2 + 3 + 4 bytes in UTF-8

describe('RequestBodyMeter', () => {
  test('a body with a Content-Length counts that length, read after the meter is attached', async () => {
    const body = Buffer.alloc(50_000, 3);
    const { port, seen } = await meteredServer(async (req, _res, meter) => (meter(), (await readAll(req)).length));
    await exchange(port, { method: 'POST', headers: { 'content-length': String(body.length) }, body: [body] });
    expect(await seen()).toEqual({ received: 50_000, unknownSize: false, read: 50_000 });
  });

  test('a body with a Content-Length read before the meter was attached (a body parser) counts that length', async () => {
    const { port, seen } = await meteredServer(async (req, _res, meter) => {
      const bytes = (await readAll(req)).length;
      meter();
      return bytes;
    });
    await exchange(port, { method: 'POST', headers: { 'content-length': String(Buffer.byteLength(MULTI_BYTE)) }, body: [MULTI_BYTE] });
    expect(await seen()).toEqual({ received: 9, unknownSize: false, read: 9 });
  });

  test('a chunked body counts the bytes read through the stream, including those buffered when the meter was attached', async () => {
    const pieces = [Buffer.alloc(10_000, 1), MULTI_BYTE, Buffer.alloc(70_000, 2)];
    const { port, seen } = await meteredServer(async (req, _res, meter) => {
      // Let the first piece arrive and wait in the request's buffer before attaching.
      await new Promise((resolve) => setTimeout(resolve, 30));
      meter();
      return (await readAll(req)).length;
    });
    await exchange(port, { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, body: pieces });
    expect(await seen()).toEqual({ received: 80_009, unknownSize: false, read: 80_009 });
  });

  test('a chunked body consumed before the meter was attached has no known size, unless the app kept its raw body', async () => {
    let withRawBody = false;
    server = await serve((req, res) => {
      void readAll(req).then((body) => {
        const meter = RequestBodyMeter.of(req, withRawBody ? body : undefined)!;
        res.end(JSON.stringify({ received: meter.received(), unknownSize: meter.unknownSize }));
      });
    });
    const upload = { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, body: ['abc', MULTI_BYTE] };
    expect(JSON.parse((await exchange(server.port, upload)).body.toString())).toEqual({ received: 0, unknownSize: true });
    withRawBody = true;
    expect(JSON.parse((await exchange(server.port, upload)).body.toString())).toEqual({ received: 12, unknownSize: false });
  });

  test('an upload cut short counts the bytes that arrived, not its Content-Length', async () => {
    const { port, seen } = await meteredServer(async (req, _res, meter) => {
      meter();
      return (await readAll(req)).length;
    });
    await abortedUpload(port, Buffer.alloc(100_000, 5), { 'content-length': String(10_000_000) });
    const { received } = await seen();
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThanOrEqual(100_000);
  });

  test('a request without a body counts 0', async () => {
    const { port, seen } = await meteredServer(async (req, _res, meter) => (meter(), (await readAll(req)).length));
    await exchange(port);
    expect(await seen()).toEqual({ received: 0, unknownSize: false, read: 0 });
  });

  test('is attached once per request, and not to what is not a Node request', async () => {
    server = await serve((req, res) => {
      const meter = RequestBodyMeter.of(req);
      res.end(String(meter !== undefined && RequestBodyMeter.of(req) === meter));
    });
    expect((await exchange(server.port)).body.toString()).toBe('true');
    expect(RequestBodyMeter.of({ headers: {} })).toBeUndefined();
    expect(RequestBodyMeter.of(undefined)).toBeUndefined();
  });
});
