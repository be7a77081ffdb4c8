import { Logger } from '@nestjs/common';
import { ClientIdentity } from '../../core/client-identity.js';
import type { ThrottlingModuleOptions } from './throttling-options.interface.js';

/**
 * The module's ClientIdentity: the options validated (errors start with `where`), and a warning
 * for the first request that arrives through a proxy nobody trusts, logged once per app.
 */
export function clientIdentityFromOptions(options: ThrottlingModuleOptions, where: string): ClientIdentity {
  return ClientIdentity.fromOptions(options, where, (header) => new Logger('ThrottlingModule').warn(untrustedForwardingMessage(header)));
}

/**
 * Without a proxy option every client behind a proxy looks like the proxy, so they all share its
 * bucket: express-rate-limit's most useful check. Harmless when clients reach the app directly
 * (the header is then theirs, and rightly ignored), so a warning, not an error.
 */
export function untrustedForwardingMessage(header: 'X-Forwarded-For' | 'Forwarded'): string {
  return (
    `A request carries ${header === 'Forwarded' ? 'a Forwarded' : 'an X-Forwarded-For'} header (X-Forwarded-For / Forwarded), but nothing says to trust it: ` +
    `throttles key it by the address of whoever connected, so behind a proxy or load balancer every client shares the proxy's bucket. ` +
    `If the app runs behind proxies, name them with the trustedProxies option (addresses / CIDRs, e.g. ['10.0.0.0/8']), or count them with numProxies, ` +
    `or turn on the adapter's own trust (Express app.set('trust proxy', ...), Fastify trustProxy); ` +
    `forwardedHeader: 'forwarded' reads RFC 7239 Forwarded instead of X-Forwarded-For. ` +
    `If clients reach the app directly, the header is theirs and rightly ignored. This is logged once.`
  );
}
