import type { ClientIdentity } from '../core/client-identity.js';

/**
 * The client ident of an Express or Fastify request (GraphQL's too), by the module's ClientIdentity.
 * - No proxy option: the adapter's own `req.ip`, so Express 'trust proxy' and Fastify `trustProxy`
 *   decide, and a raw header a client can forge is never read here (only looked for, until the
 *   first forwarded request settles whether to warn).
 * - `numProxies` / `trustedProxies`: their rule on the socket address and the configured header.
 */
export function httpClientIdent(request: any, identity: ClientIdentity): string {
  const headers = request.headers;
  if (identity.adapterDecides) {
    if (identity.watchesForwarding && headers !== undefined) watchForwarding(request, headers, identity);
    return identity.ofAddress(request.ip ?? socketAddress(request));
  }
  const header: string | string[] | undefined = headers?.[identity.headerName];
  // The socket address is read only when the rule needs it: it is a chain of getters.
  return identity.fromHeaders(identity.needsSocketAddress(header) ? socketAddress(request) : undefined, header);
}

/** One presence check per request until a forwarded request arrives; then never again. */
function watchForwarding(request: any, headers: any, identity: ClientIdentity): void {
  const header = headers['x-forwarded-for'] !== undefined ? 'X-Forwarded-For' : headers.forwarded !== undefined ? 'Forwarded' : undefined;
  if (header !== undefined) identity.noticeForwarding(header, adapterTrustsProxies(request));
}

/**
 * Whether the adapter resolves proxies itself: Express's 'trust proxy' setting; Fastify defines
 * `ips` on its requests only with `trustProxy`; anything else, whether `req.ip` differs from the socket.
 */
function adapterTrustsProxies(request: any): boolean {
  const app = request.app;
  if (typeof app?.get === 'function') {
    const setting = app.get('trust proxy');
    return setting !== undefined && setting !== false && setting !== 0;
  }
  if (request.raw !== undefined && typeof request.raw === 'object') return 'ips' in request;
  return request.ip !== undefined && request.ip !== socketAddress(request);
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
