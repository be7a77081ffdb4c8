import ipaddr from 'ipaddr.js';

/**
 * An address read from a socket or a forwarding header: IPv4 as its 32-bit value, IPv6 as its
 * eight 16-bit groups. IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is IPv4: one client on a dual-stack
 * socket and on an IPv4 one is one client.
 */
export type IpAddress = { readonly kind: 4; readonly value: number; readonly text: string } | { readonly kind: 6; readonly ip: ipaddr.IPv6 };

/**
 * Parses what a socket, a proxy or a Forwarded `for=` writes for a node: `1.2.3.4`, `1.2.3.4:80`,
 * `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:443`, with RFC 7239's obfuscated port (`:_a1`) too.
 * Undefined for anything else (`unknown`, `_hidden`, garbage): it names no address. Only a dotted
 * quad is IPv4 (ipaddr.js also reads `7` or `127.1` as IPv4, which no proxy writes).
 */
export function parseIpAddress(text: string): IpAddress | undefined {
  const trimmed = text.trim();
  const colon = trimmed.indexOf(':');
  if (colon === -1) return ipv4(trimmed);
  if (trimmed.charCodeAt(0) === OPEN_BRACKET) {
    const close = trimmed.indexOf(']');
    if (close === -1 || !isPortOrNothing(trimmed, close + 1)) return undefined;
    return ipv6(trimmed.slice(1, close));
  }
  // Exactly one colon: IPv4 and a port (an unbracketed IPv6 address has several).
  if (colon === trimmed.lastIndexOf(':')) return isPortOrNothing(trimmed, colon) && colon > 0 ? ipv4(trimmed.slice(0, colon)) : undefined;
  return ipv6(trimmed);
}

/** The 32-bit value of a dotted quad (no leading zeros, as ipaddr.js's four-part decimal), else -1. Allocates nothing. */
export function dottedQuadValue(text: string): number {
  const length = text.length;
  if (length < 7 || length > 15) return -1;
  let value = 0;
  let part = -1;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i <= length; i++) {
    const code = i === length ? DOT : text.charCodeAt(i);
    if (code === DOT) {
      if (digits === 0 || part > 255 || (digits > 1 && text.charCodeAt(i - digits) === ZERO)) return -1;
      value = value * 256 + part;
      part = -1;
      digits = 0;
      if (i < length && ++dots > 3) return -1;
    } else if (code >= ZERO && code <= NINE) {
      part = (part === -1 ? 0 : part * 10) + (code - ZERO);
      digits++;
    } else {
      return -1;
    }
  }
  return dots === 3 ? value : -1;
}

function ipv4(text: string): IpAddress | undefined {
  const value = dottedQuadValue(text);
  return value === -1 ? undefined : { kind: 4, value, text };
}

function ipv6(text: string): IpAddress | undefined {
  // ipaddr.js parses with regular expressions; an over-long candidate cannot be an address anyway.
  if (text.length > MAX_IPV6_TEXT) return undefined;
  let ip: ipaddr.IPv6;
  try {
    ip = ipaddr.IPv6.parse(text);
  } catch {
    return undefined;
  }
  if (ip.isIPv4MappedAddress()) {
    const v4 = ip.toIPv4Address();
    return { kind: 4, value: ((v4.octets[0] << 24) >>> 0) + (v4.octets[1] << 16) + (v4.octets[2] << 8) + v4.octets[3], text: v4.toString() };
  }
  return { kind: 6, ip };
}

/** From `at`: nothing, or `:` and a port of 1 to 5 digits, or RFC 7239's obfuscated port (`:_` and ALPHA / DIGIT / `.` / `_` / `-`). */
function isPortOrNothing(text: string, at: number): boolean {
  if (at === text.length) return true;
  if (text.charCodeAt(at) !== COLON || at + 1 === text.length) return false;
  if (text.charCodeAt(at + 1) === UNDERSCORE) return /^[A-Za-z0-9._-]*$/.test(text.slice(at + 2));
  return /^\d{1,5}$/.test(text.slice(at + 1));
}

/**
 * The bucket text of an address: IPv4 as written (a dotted quad); IPv6 masked to its first `prefix`
 * bits, written as the network in RFC 5952 form with the prefix (`2001:db8:1:2::/64`), or with
 * prefix 128 the plain RFC 5952 address (its zone, `%eth0`, kept).
 */
export function addressKey(address: IpAddress, prefix: number): string {
  if (address.kind === 4) return address.text;
  if (prefix >= 128) return address.ip.toString();
  return `${rfc5952(maskedParts(address.ip.parts, prefix))}/${prefix}`;
}

function maskedParts(parts: readonly number[], prefix: number): number[] {
  const masked = new Array<number>(8);
  for (let i = 0; i < 8; i++) {
    const bits = Math.min(16, Math.max(0, prefix - 16 * i));
    masked[i] = bits === 0 ? 0 : parts[i] & ((0xffff << (16 - bits)) & 0xffff);
  }
  return masked;
}

/** Lower-case hex groups, the longest run of two or more zero groups (the first on a tie) as `::`. */
function rfc5952(parts: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (parts[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && parts[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => parts.slice(from, to).map((part) => part.toString(16)).join(':');
  if (bestStart === -1) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/** The longest IPv6 text a proxy could write: 45 characters (an IPv4 tail) and a zone id. */
const MAX_IPV6_TEXT = 45 + 1 + 64;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const COLON = 58;
const OPEN_BRACKET = 91;
const UNDERSCORE = 95;
