import ipaddr from 'ipaddr.js';

/**
 * Normalizes an address as Node or a proxy reports it, so that one client is one bucket:
 *
 * - IPv4-mapped IPv6 (`::ffff:10.0.0.1`) becomes plain IPv4, whether the client came in over an
 *   IPv4 or a dual-stack socket;
 * - a port is dropped (`203.0.113.7:51234`, `[2001:db8::1]:443`, as some proxies write their
 *   X-Forwarded-For entries): it changes with every connection, so keeping it would give a client
 *   a fresh bucket each time it reconnects;
 * - IPv6 takes its canonical short form.
 *
 * Anything that is not an IP address is returned trimmed, unchanged.
 */
export function normalizeAddress(address: string | undefined | null): string {
  if (!address) return '';
  // Fast path: a plain IPv4 address (the common case) needs no parsing.
  if (address.indexOf(':') === -1) return address.trim();
  const trimmed = address.trim();
  if (ipaddr.isValid(trimmed)) return ipaddr.process(trimmed).toString();
  const withoutPort = addressBeforePort(trimmed);
  return withoutPort === undefined ? trimmed : ipaddr.process(withoutPort).toString();
}

/**
 * `1.2.3.4:80` -> `1.2.3.4`, `[::1]:80` or `[::1]` -> `::1`; undefined for any other shape. Only a
 * dotted quad counts as IPv4 here: ipaddr.js also reads `7` or `127.1` as IPv4, and an identity
 * such as `7:1001` (a tenant and a user) must not lose its second half.
 */
function addressBeforePort(value: string): string | undefined {
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close === -1) return undefined;
    const inside = value.slice(1, close);
    const rest = value.slice(close + 1);
    return (rest === '' || isPortSuffix(rest)) && ipaddr.IPv6.isValid(inside) ? inside : undefined;
  }
  const colon = value.indexOf(':');
  // Exactly one colon: IPv4 and a port (an unbracketed IPv6 address has several).
  if (colon !== value.lastIndexOf(':')) return undefined;
  const host = value.slice(0, colon);
  return isPortSuffix(value.slice(colon)) && ipaddr.IPv4.isValidFourPartDecimal(host) ? host : undefined;
}

/** `:` followed by 1 to 5 digits. */
function isPortSuffix(text: string): boolean {
  return /^:\d{1,5}$/.test(text);
}

/**
 * DRF's SimpleRateThrottle.get_ident() with NUM_PROXIES set.
 *
 * - `numProxies` 0, or no X-Forwarded-For: the socket's address.
 * - `numProxies` n: the n-th address from the right of X-Forwarded-For (each proxy appends the
 *   address it received from), or the leftmost when the list is shorter than n.
 *
 * Only the addresses appended by the n trusted proxies are believed; whatever a client wrote to the
 * left of them cannot change its identity.
 */
export function identFromForwardedFor(socketAddress: string | undefined, forwardedFor: string | string[] | undefined, numProxies: number): string {
  if (numProxies === 0 || forwardedFor === undefined || forwardedFor.length === 0) {
    return normalizeAddress(socketAddress);
  }
  const header = typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',');
  return normalizeAddress(nthFromRight(header, numProxies));
}

/**
 * `header.split(',')[length - min(n, length)]` without building the array (this runs on every
 * request): the n-th comma-separated entry from the right, or the leftmost when there are fewer.
 * A charCodeAt loop rather than lastIndexOf(), which V8 runs in its C++ runtime, not in JIT code.
 */
export function nthFromRight(header: string, n: number): string {
  let end = header.length;
  let found = 0;
  for (let i = end - 1; i >= 0; i--) {
    if (header.charCodeAt(i) !== COMMA) continue;
    if (++found === n) return header.slice(i + 1, end);
    end = i;
  }
  return header.slice(0, end);
}

const COMMA = 44;
