import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A plain Node HTTP server on an ephemeral loopback port, for tests below the Nest layer. */
export async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Exchange {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The response body as received. */
  readonly body: Buffer;
}

export interface Upload {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Record<string, string>;
  /** Written in these pieces; a chunked body unless headers give a Content-Length. */
  readonly body?: readonly (Buffer | string)[];
}

/** One request; resolves with the whole response. */
export function exchange(port: number, upload: Upload = {}): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, method: upload.method ?? 'GET', path: upload.path ?? '/', headers: upload.headers, agent: false }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body: Buffer.concat(chunks) }));
      incoming.on('error', reject);
    });
    outgoing.on('error', reject);
    for (const piece of upload.body ?? []) outgoing.write(piece);
    outgoing.end();
  });
}

/** Downloads until `atLeast` body bytes arrived, then drops the connection; resolves with how many had arrived. */
export function abortedDownload(port: number, atLeast: number, path = '/', headers?: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, path, headers, agent: false }, (incoming) => {
      let received = 0;
      incoming.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= atLeast) {
          incoming.pause();
          outgoing.destroy();
          resolve(received);
        }
      });
      incoming.on('end', () => reject(new Error(`the download ended after ${received} bytes, before ${atLeast} arrived`)));
    });
    outgoing.on('error', () => undefined);
    outgoing.end();
  });
}

/** Sends `sent` bytes of a body declared longer (or chunked), then drops the connection. */
export function abortedUpload(port: number, sent: Buffer, headers: Record<string, string>, path = '/'): Promise<void> {
  return new Promise((resolve) => {
    const outgoing = request({ host: '127.0.0.1', port, method: 'POST', path, headers, agent: false });
    outgoing.on('error', () => undefined);
    outgoing.write(sent, () => setTimeout(() => (outgoing.destroy(), resolve()), 50));
  });
}
