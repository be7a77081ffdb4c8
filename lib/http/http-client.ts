import { identFromForwardedFor, normalizeAddress } from '../core/client-address.js';

/**
 * The client address of an Express or Fastify request.
 * - `numProxies` unset: the adapter's own `req.ip`, so Express 'trust proxy' and Fastify
 *   `trustProxy` decide, and a raw header a client can forge is never read here.
 * - `numProxies` set: DRF's rule on the socket address and X-Forwarded-For.
 */
export function httpClientIdent(request: any, numProxies: number | undefined): string {
  if (numProxies === undefined) return normalizeAddress(request.ip ?? socketAddress(request));
  const forwardedFor: string | string[] | undefined = request.headers?.['x-forwarded-for'];
  // The socket address is read only when DRF's rule falls back to it: it is a chain of getters.
  const fallsBack = numProxies === 0 || forwardedFor === undefined || forwardedFor.length === 0;
  return identFromForwardedFor(fallsBack ? socketAddress(request) : undefined, forwardedFor, numProxies);
}

function socketAddress(request: any): string | undefined {
  return request.socket?.remoteAddress ?? request.raw?.socket?.remoteAddress ?? request.connection?.remoteAddress;
}

/** The URL with its query string: Express keeps the mount path in originalUrl. */
export function httpUrl(request: any): string {
  return request.originalUrl ?? request.url ?? '';
}

/** Sets a header on an Express response, a Fastify reply, or a bare Node response. */
export function setResponseHeader(response: any, name: string, value: string): void {
  if (typeof response?.setHeader === 'function') response.setHeader(name, value);
  else if (typeof response?.header === 'function') response.header(name, value);
}
