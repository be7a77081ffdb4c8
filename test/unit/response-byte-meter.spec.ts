import { afterEach, describe, expect, jest, test } from '@jest/globals';
import fc from 'fast-check';
import { type IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { ResponseByteMeter, type ResponseCloseListener } from '../../lib/http/response-byte-meter.js';
import { abortedDownload, exchange, serve } from '../support/raw-http.js';

/** The bytes each metered response counted, in the order the responses closed. */
type Closed = { sent: number; status: number };

let server: Awaited<ReturnType<typeof serve>> | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A server whose every response is metered; `closed` resolves with each response's count once it is over. */
async function meteredServer(respond: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ port: number; closed: () => Promise<Closed> }> {
  const waiting: ((closed: Closed) => void)[] = [];
  const done: Closed[] = [];
  const listener: ResponseCloseListener<null> = {
    responseClosed(meter) {
      const closed = { sent: meter.sent, status: meter.response.statusCode };
      const next = waiting.shift();
      if (next) next(closed);
      else done.push(closed);
    },
  };
  server = await serve((req, res) => {
    ResponseByteMeter.of(res)!.onClose(listener, null);
    respond(req, res);
  });
  return { port: server.port, closed: () => (done.length > 0 ? Promise.resolve(done.shift()!) : new Promise((resolve) => waiting.push(resolve))) };
}

const MULTI_BYTE = 'héllo wörld ✓ 上传 🚀'; // 1-, 2-, 3- and 4-byte UTF-8 characters

describe('ResponseByteMeter', () => {
  test('counts a Buffer body as the bytes the client receives', async () => {
    const body = Buffer.alloc(12_345, 7);
    const { port, closed } = await meteredServer((_req, res) => res.end(body));
    const received = await exchange(port);
    expect(received.body.length).toBe(12_345);
    expect(await closed()).toEqual({ sent: 12_345, status: 200 });
  });

  test('counts a string in UTF-8 bytes, not characters', async () => {
    const { port, closed } = await meteredServer((_req, res) => {
      res.write(MULTI_BYTE);
      res.end(MULTI_BYTE, 'utf8');
    });
    const received = await exchange(port);
    expect(MULTI_BYTE.length).not.toBe(Buffer.byteLength(MULTI_BYTE));
    expect((await closed()).sent).toBe(2 * Buffer.byteLength(MULTI_BYTE));
    expect(received.body.length).toBe(2 * Buffer.byteLength(MULTI_BYTE));
  });

  test("counts a string in the encoding it is written in (hex, base64, latin1), with or without a callback", async () => {
    const { port, closed } = await meteredServer((_req, res) => {
      res.write('deadbeef', 'hex'); // 4 bytes
      res.write('aGVsbG8=', 'base64', () => undefined); // 5 bytes
      res.write(new Uint8Array(3), () => undefined); // 3 bytes
      res.end('é', 'latin1'); // 1 byte
    });
    const received = await exchange(port);
    expect(received.body.length).toBe(13);
    expect((await closed()).sent).toBe(13);
  });

  test('for any sequence of writes (strings in any encoding, Buffers, views into larger buffers) it counts exactly the bytes the client receives', async () => {
    type Piece = { kind: 'string'; text: string; encoding: BufferEncoding } | { kind: 'buffer'; bytes: Uint8Array } | { kind: 'view'; bytes: Uint8Array; start: number };
    const piece: fc.Arbitrary<Piece> = fc.oneof(
      fc.record({ kind: fc.constant('string' as const), text: fc.string({ unit: 'grapheme', maxLength: 40 }), encoding: fc.constantFrom<BufferEncoding>('utf8', 'utf16le', 'latin1') }),
      fc.record({ kind: fc.constant('string' as const), text: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 40 }).map((hex) => hex.slice(0, hex.length - (hex.length % 2))), encoding: fc.constant<BufferEncoding>('hex') }),
      fc.record({ kind: fc.constant('string' as const), text: fc.uint8Array({ maxLength: 60 }).map((bytes) => Buffer.from(bytes).toString('base64')), encoding: fc.constant<BufferEncoding>('base64') }),
      fc.record({ kind: fc.constant('buffer' as const), bytes: fc.uint8Array({ maxLength: 3000 }) }),
      // A view into a larger buffer: its byteLength, not its buffer's, is what is sent.
      fc.record({ kind: fc.constant('view' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 200 }), start: fc.nat(199) }),
    );
    let pieces: Piece[] = [];
    const write = (res: ServerResponse, p: Piece, last: boolean) => {
      const chunk = p.kind === 'string' ? p.text : p.kind === 'buffer' ? p.bytes : p.bytes.subarray(Math.min(p.start, p.bytes.length));
      if (last) (p.kind === 'string' ? res.end(chunk, p.encoding) : res.end(chunk));
      else if (p.kind === 'string') res.write(chunk, p.encoding);
      else res.write(chunk);
    };
    const { port, closed } = await meteredServer((_req, res) => {
      pieces.forEach((p, i) => write(res, p, i === pieces.length - 1));
      if (pieces.length === 0) res.end();
    });
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 8 }), async (generated) => {
        pieces = generated;
        const received = await exchange(port);
        const { sent } = await closed();
        expect(sent).toBe(received.body.length);
      }),
      { numRuns: 60 },
    );
  });

  test('counts a streamed body piped into the response', async () => {
    const chunks = Array.from({ length: 200 }, (_, i) => Buffer.alloc(1000 + i, i));
    const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    const { port, closed } = await meteredServer((_req, res) => Readable.from(chunks).pipe(res));
    const received = await exchange(port);
    expect(received.body.length).toBe(total);
    expect((await closed()).sent).toBe(total);
  });

  test('counts nothing for responses without a body: HEAD, 204 and 304, whatever the handler writes', async () => {
    const { port, closed } = await meteredServer((req, res) => {
      res.statusCode = Number(req.url!.slice(1)) || 200;
      res.end('a body Node drops');
    });
    await exchange(port, { method: 'HEAD' });
    expect(await closed()).toEqual({ sent: 0, status: 200 });
    await exchange(port, { path: '/204' });
    expect(await closed()).toEqual({ sent: 0, status: 204 });
    await exchange(port, { path: '/304' });
    expect(await closed()).toEqual({ sent: 0, status: 304 });
    await exchange(port, { path: '/200' });
    expect(await closed()).toEqual({ sent: 17, status: 200 });
  });

  test('a write after the end sends nothing and counts nothing', async () => {
    const { port, closed } = await meteredServer((_req, res) => {
      res.on('error', () => undefined);
      res.end('done');
      res.write('too late');
      res.end('too late');
    });
    expect((await exchange(port)).body.toString()).toBe('done');
    expect((await closed()).sent).toBe(4);
  });

  test('a download the client drops counts what was written until then, not the whole body', async () => {
    const total = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 1);
    const { port, closed } = await meteredServer((_req, res) => {
      // Written as the socket drains, as a piped file would be.
      Readable.from((function* () {
        for (let sent = 0; sent < total; sent += chunk.length) yield chunk;
      })()).pipe(res);
    });
    const received = await abortedDownload(port, 1024 * 1024);
    const { sent } = await closed();
    expect(sent).toBeGreaterThanOrEqual(received);
    // What the loopback socket buffers may hold besides, but far from the whole body.
    expect(sent).toBeLessThan(total / 2);
  });

  test('tells each listener once, with its token, when the response is over; a listener added twice is told once', async () => {
    const told: [string, number, number][] = [];
    const a: ResponseCloseListener<number> = { responseClosed: (meter, token) => told.push(['a', token, meter.sent]) };
    const b: ResponseCloseListener<number> = { responseClosed: (meter, token) => told.push(['b', token, meter.sent]) };
    let added: boolean[] = [];
    server = await serve((_req, res) => {
      const meter = ResponseByteMeter.of(res)!;
      expect(ResponseByteMeter.of(res)).toBe(meter);
      added = [meter.onClose(a, 1), meter.onClose(b, 2), meter.onClose(a, 3)];
      res.end('12345');
    });
    await exchange(server.port);
    await new Promise((resolve) => setImmediate(resolve));
    expect(added).toEqual([true, true, false]);
    expect(told).toEqual([
      ['a', 1, 5],
      ['b', 2, 5],
    ]);
  });

  test('meters only the response it is attached to: the next response on the same connection keeps its own write and end', async () => {
    let metered: ServerResponse | undefined;
    let plain: ServerResponse | undefined;
    server = await serve((req, res) => {
      if (req.url === '/metered') {
        metered = res;
        ResponseByteMeter.of(res);
      } else plain = res;
      res.end('x');
    });
    await exchange(server.port, { path: '/metered' });
    await exchange(server.port, { path: '/plain' });
    expect(Object.hasOwn(metered!, 'write')).toBe(true);
    expect(plain!.write).toBe(ServerResponse.prototype.write);
    expect(plain!.end).toBe(ServerResponse.prototype.end);
    expect(ResponseByteMeter.on(plain)).toBeUndefined();
  });

  test('a listener that throws is reported as a process warning, and the others are still told', async () => {
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const told = jest.fn();
    try {
      server = await serve((_req, res) => {
        const meter = ResponseByteMeter.of(res)!;
        meter.onClose(
          {
            responseClosed: () => {
              throw new Error('listener broke');
            },
          },
          null,
        );
        meter.onClose({ responseClosed: told }, null);
        res.end('x');
      });
      await exchange(server.port);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(told).toHaveBeenCalledTimes(1);
      expect(emitWarning).toHaveBeenCalledWith('a listener of a metered response threw: listener broke', { code: 'NESTJS_THROTTLING_METER' });
    } finally {
      emitWarning.mockRestore();
    }
  });

  test('is not attached to what is not a Node response (a socket-like object, null)', () => {
    expect(ResponseByteMeter.of(null)).toBeUndefined();
    expect(ResponseByteMeter.of({ send() {} })).toBeUndefined();
    expect(ResponseByteMeter.on({})).toBeUndefined();
  });

  test('a listener added after the response is over is refused', async () => {
    let meter: ResponseByteMeter | undefined;
    server = await serve((_req, res) => {
      meter = ResponseByteMeter.of(res);
      res.end();
    });
    await exchange(server.port);
    await new Promise((resolve) => setImmediate(resolve));
    expect(meter!.closed).toBe(true);
    expect(meter!.onClose({ responseClosed: () => undefined }, null)).toBe(false);
  });
});
