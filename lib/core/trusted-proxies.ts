import ipaddr from 'ipaddr.js';
import { describeValue } from './describe-value.js';
import type { IpAddress } from './ip-address.js';
import { dottedQuadValue } from './ip-address.js';
import { ThrottleConfigError } from './throttle-config-error.js';

/** Express's names for the ranges most proxies sit in (proxy-addr), so `['loopback']` reads as it does there. */
const NAMED_RANGES: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/**
 * The `trustedProxies` list, compiled once at boot: IPv4 ranges as (network, mask) pairs of 32-bit
 * numbers, IPv6 ranges as masked groups, so a lookup is a few integer comparisons per range and
 * never parses the list again. IPv4-mapped entries (`::ffff:10.0.0.0/104`) become IPv4 ranges.
 */
export class TrustedProxies {
  private constructor(
    private readonly v4: readonly number[],
    private readonly v6: readonly { readonly network: readonly number[]; readonly masks: readonly number[] }[],
  ) {}

  /** Throws a ThrottleConfigError naming the entry (`trustedProxies[2]`) that is neither an address, a CIDR nor a range name. */
  static compile(list: unknown, where: string): TrustedProxies {
    if (!Array.isArray(list)) {
      throw new ThrottleConfigError(`${where}: trustedProxies must be a list of proxy addresses or CIDR ranges such as ['10.0.0.0/8', '2001:db8::/32'], got ${describeValue(list)}`);
    }
    const v4: number[] = [];
    const v6: { network: number[]; masks: number[] }[] = [];
    list.forEach((entry, index) => {
      const ranges = typeof entry === 'string' ? (NAMED_RANGES[entry.trim().toLowerCase()] ?? [entry.trim()]) : undefined;
      if (ranges === undefined) throw badEntry(where, index, entry);
      for (const range of ranges) {
        const parsed = parseRange(range);
        if (parsed === undefined) throw badEntry(where, index, entry);
        const [address, prefix] = parsed;
        if (address.kind() === 'ipv4') {
          const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
          v4.push((ipv4Value(address as ipaddr.IPv4) & mask) >>> 0, mask);
        } else {
          const masks = groupMasks(prefix);
          v6.push({ network: (address as ipaddr.IPv6).parts.map((part, i) => part & masks[i]), masks });
        }
      }
    });
    return new TrustedProxies(v4, v6);
  }

  /** Whether the address belongs to a trusted proxy. */
  has(address: IpAddress): boolean {
    if (address.kind === 4) {
      const v4 = this.v4;
      for (let i = 0; i < v4.length; i += 2) if (((address.value & v4[i + 1]) >>> 0) === v4[i]) return true;
      return false;
    }
    const parts = address.ip.parts;
    outer: for (const { network, masks } of this.v6) {
      for (let i = 0; i < 8; i++) if ((parts[i] & masks[i]) !== network[i]) continue outer;
      return true;
    }
    return false;
  }

  /** Whether the list holds no range at all (then no header is ever believed). */
  get isEmpty(): boolean {
    return this.v4.length === 0 && this.v6.length === 0;
  }
}

/** `10.0.0.1`, `10.0.0.0/8`, `2001:db8::/32`, `::ffff:10.0.0.0/104`; undefined when it is none of these. IPv4 must be a dotted quad. */
function parseRange(text: string): [ipaddr.IPv4 | ipaddr.IPv6, number] | undefined {
  const slash = text.indexOf('/');
  const host = slash === -1 ? text : text.slice(0, slash);
  const prefixText = slash === -1 ? undefined : text.slice(slash + 1);
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  if (host.indexOf(':') === -1) {
    if (dottedQuadValue(host) === -1) return undefined;
    address = ipaddr.IPv4.parse(host);
  } else {
    if (!ipaddr.IPv6.isValid(host)) return undefined;
    address = ipaddr.IPv6.parse(host);
  }
  const bits = address.kind() === 'ipv4' ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) return undefined;
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
    return [(address as ipaddr.IPv6).toIPv4Address(), prefix - 96];
  }
  return [address, prefix];
}

function ipv4Value(address: ipaddr.IPv4): number {
  const [a, b, c, d] = address.octets;
  return ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
}

function groupMasks(prefix: number): number[] {
  const masks: number[] = [];
  for (let i = 0; i < 8; i++) {
    const bits = Math.min(16, Math.max(0, prefix - 16 * i));
    masks.push(bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff);
  }
  return masks;
}

function badEntry(where: string, index: number, entry: unknown): ThrottleConfigError {
  return new ThrottleConfigError(
    `${where}: trustedProxies[${index}] must be a proxy address ('10.0.0.7', '2001:db8::7'), a CIDR range ('10.0.0.0/8', '2001:db8::/32') or one of 'loopback', 'linklocal', 'uniquelocal', got ${describeValue(entry)}`,
  );
}
