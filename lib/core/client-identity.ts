import { boundedKeyPart, MAX_KEY_PART_LENGTH } from './bounded-key-part.js';
import { describeValue } from './describe-value.js';
import { forwardedFor } from './forwarded-element.js';
import { addressKey, dottedQuadValue, type IpAddress, parseIpAddress } from './ip-address.js';
import { normalizeAddress, nthFromRight } from './client-address.js';
import { ThrottleConfigError } from './throttle-config-error.js';
import { TrustedProxies } from './trusted-proxies.js';

/** Which request header carries the proxies' chain. */
export type ForwardedHeaderName = 'x-forwarded-for' | 'forwarded';

export interface ClientIdentityOptions {
  /** DRF's NUM_PROXIES: how many proxies append to the header. */
  readonly numProxies?: number;
  /** The proxies' addresses and CIDR ranges: the client is the rightmost entry of the chain that is not one of them. */
  readonly trustedProxies?: readonly string[];
  /** Default 'x-forwarded-for'; 'forwarded' reads RFC 7239's `for=` values instead. */
  readonly forwardedHeader?: ForwardedHeaderName;
  /** Default 64: IPv6 clients are counted per network of this prefix length; false (or 128) per address. */
  readonly ipv6Subnet?: number | false;
}

/** Told once per app when a request carries a forwarding header that nothing says to believe. */
export type UntrustedForwardingListener = (header: 'X-Forwarded-For' | 'Forwarded') => void;

/** Every ident is at most this long: longer non-address text is hashed (boundedKeyPart), an address never is. */
export const MAX_IDENT_LENGTH = MAX_KEY_PART_LENGTH;

const FORWARDED_HEADERS: readonly ForwardedHeaderName[] = ['x-forwarded-for', 'forwarded'];

/**
 * Who the client of a request is, built once at boot from the module's options; every transport
 * asks it, so the rules live here only.
 *
 * - Neither `numProxies` nor `trustedProxies`: the address the transport vouches for (`req.ip`, the
 *   socket's), no header read.
 * - `numProxies` n: DRF's rule, the n-th header entry from the right (the leftmost when there are
 *   fewer); 0 or no header: the socket address.
 * - `trustedProxies`: the chain is the header's entries then the socket address; the client is the
 *   rightmost that is not a trusted proxy (nginx real_ip with `real_ip_recursive on`, Express's
 *   `trust proxy` list), the leftmost when all are. Empty entries are skipped. An entry that is not
 *   an address (`unknown`, `_hidden`, garbage) ends the walk and is the client, as written: it
 *   cannot be shown to be a proxy, and the trusted proxy to its right is the one who wrote it.
 *
 * The chosen address is then keyed: IPv4 (IPv4-mapped too) as it is, IPv6 masked to `ipv6Subnet`
 * (`2001:db8:1:2::/64`). Text that is not an address is kept, trimmed, and hashed past
 * MAX_IDENT_LENGTH characters, so no header can make a key longer than that.
 */
export class ClientIdentity {
  /** The header the chain is read from. */
  readonly headerName: ForwardedHeaderName;
  /** The IPv6 prefix length clients are grouped by (128: the full address). */
  readonly ipv6Prefix: number;
  readonly numProxies: number | undefined;
  /** No proxy option is given: the transport's own address (`req.ip`) is the client. */
  readonly adapterDecides: boolean;
  /** Whether the header is read at all (numProxies above 0, or a non-empty trustedProxies). */
  readonly readsHeader: boolean;
  /** True while no option trusts a proxy and no forwarded request has been seen yet: see noticeForwarding(). */
  watchesForwarding: boolean;

  private readonly trusted: TrustedProxies | undefined;

  private constructor(
    options: { numProxies: number | undefined; trusted: TrustedProxies | undefined; headerName: ForwardedHeaderName; ipv6Prefix: number },
    private readonly onUntrustedForwarding: UntrustedForwardingListener | undefined,
  ) {
    this.numProxies = options.numProxies;
    this.trusted = options.trusted;
    this.headerName = options.headerName;
    this.ipv6Prefix = options.ipv6Prefix;
    this.adapterDecides = this.numProxies === undefined && this.trusted === undefined;
    this.readsHeader = (this.numProxies !== undefined && this.numProxies > 0) || (this.trusted !== undefined && !this.trusted.isEmpty);
    this.watchesForwarding = onUntrustedForwarding !== undefined && this.adapterDecides;
  }

  /** Validates the options (each error names the option and quotes the value, after `where`: `ThrottlingModule`). */
  static fromOptions(options: ClientIdentityOptions, where: string, onUntrustedForwarding?: UntrustedForwardingListener): ClientIdentity {
    const { numProxies, trustedProxies, forwardedHeader, ipv6Subnet } = options;
    if (numProxies !== undefined && (!Number.isSafeInteger(numProxies) || numProxies < 0)) {
      throw new ThrottleConfigError(`${where}: numProxies must be a non-negative integer, got ${describeValue(numProxies)}`);
    }
    if (numProxies !== undefined && trustedProxies !== undefined) {
      throw new ThrottleConfigError(
        `${where}: give numProxies (${describeValue(numProxies)}) or trustedProxies (${describeValue(trustedProxies)}), not both: numProxies counts the proxies, trustedProxies names them`,
      );
    }
    const trusted = trustedProxies === undefined ? undefined : TrustedProxies.compile(trustedProxies, where);
    const headerName = forwardedHeader ?? 'x-forwarded-for';
    if (!FORWARDED_HEADERS.includes(headerName)) {
      throw new ThrottleConfigError(`${where}: forwardedHeader must be 'x-forwarded-for' or 'forwarded', got ${describeValue(forwardedHeader)}`);
    }
    if (ipv6Subnet !== undefined && ipv6Subnet !== false && (!Number.isInteger(ipv6Subnet) || ipv6Subnet < 1 || ipv6Subnet > 128)) {
      throw new ThrottleConfigError(`${where}: ipv6Subnet must be a prefix length from 1 to 128, or false to count every IPv6 address apart, got ${describeValue(ipv6Subnet)}`);
    }
    const ipv6Prefix = ipv6Subnet === false ? 128 : (ipv6Subnet ?? 64);
    return new ClientIdentity({ numProxies, trusted, headerName, ipv6Prefix }, onUntrustedForwarding);
  }

  /** The option that makes the header read, for error messages: `numProxies is 1`, `trustedProxies is set`. */
  describeRule(): string {
    return this.numProxies !== undefined ? `numProxies is ${this.numProxies}` : 'trustedProxies is set';
  }

  /** Whether fromHeaders() needs the socket address for this header value (numProxies reads it only without a header). */
  needsSocketAddress(header: string | string[] | undefined): boolean {
    return this.trusted !== undefined || this.numProxies === 0 || header === undefined || header.length === 0;
  }

  /**
   * The ident of an address the transport vouches for (the socket's, `req.ip`): IPv4 as it is, IPv6
   * masked, anything else trimmed and bounded. The plain IPv4 case allocates nothing.
   */
  ofAddress(address: string | undefined | null): string {
    if (!address) return '';
    if (address.indexOf(':') === -1) {
      const trimmed = address.trim();
      return trimmed.length <= MAX_IDENT_LENGTH ? trimmed : boundedKeyPart(trimmed);
    }
    // A dual-stack socket reports IPv4 clients as `::ffff:a.b.c.d`: the common case, no parsing.
    if (address.startsWith('::ffff:') && address.indexOf(':', 7) === -1 && address.length <= 22) {
      const v4 = address.slice(7);
      if (dottedQuadValue(v4) !== -1) return v4;
    }
    return this.keyOf(address);
  }

  /**
   * An identity the app gives (a microservice message's `rpcIdentity`): an address is keyed like a
   * client's (IPv6 masked); other text is kept as normalizeAddress() keeps it, unbounded (it is the
   * app's, not a header's, and the throttles bound their keys).
   */
  ofGivenIdentity(identity: string | null): string {
    const address = identity === null ? undefined : parseIpAddress(identity);
    return address === undefined ? normalizeAddress(identity) : addressKey(address, this.ipv6Prefix);
  }

  /**
   * The ident of a request from its socket address and the configured header (a string, or the
   * lines of a repeated header), by numProxies or trustedProxies. Never throws.
   */
  fromHeaders(socketAddress: string | undefined, header: string | string[] | undefined): string {
    const text = header === undefined ? '' : typeof header === 'string' ? header : header.join(',');
    if (this.trusted !== undefined) return this.walkTrusted(this.trusted, socketAddress, text);
    const numProxies = this.numProxies ?? 0;
    if (numProxies === 0 || text.length === 0) return this.ofAddress(socketAddress);
    return this.keyOf(this.headerName === 'forwarded' ? nthForwardedFromRight(text, numProxies) : nthFromRight(text, numProxies));
  }

  /**
   * For the transports while watchesForwarding is true: given whether the request carries
   * X-Forwarded-For or Forwarded and whether the adapter itself resolves proxies (Express
   * `trust proxy`, Fastify `trustProxy`), warns once when nothing believes the header. The first
   * forwarded request settles it: the watch then ends.
   */
  noticeForwarding(header: 'X-Forwarded-For' | 'Forwarded', adapterTrustsProxies: boolean): void {
    if (!this.watchesForwarding) return;
    this.watchesForwarding = false;
    if (!adapterTrustsProxies) this.onUntrustedForwarding?.(header);
  }

  /** The rightmost chain entry that is not a trusted proxy; the leftmost when all are. */
  private walkTrusted(trusted: TrustedProxies, socketAddress: string | undefined, header: string): string {
    const socket = socketAddress === undefined ? undefined : parseIpAddress(socketAddress);
    if (socket === undefined || !trusted.has(socket) || header.length === 0) return socket === undefined ? this.ofAddress(socketAddress) : addressIdent(socket, this.ipv6Prefix);
    const forwarded = this.headerName === 'forwarded';
    let leftmost: IpAddress = socket;
    let end = header.length;
    while (end >= 0) {
      const start = lastComma(header, end) + 1;
      const entryEnd = end;
      end = start - 1;
      if (isBlank(header, start, entryEnd)) continue;
      const entry = forwarded ? forwardedFor(header, start, entryEnd) : header.slice(start, entryEnd);
      const address = parseIpAddress(entry);
      if (address === undefined) return boundedText(entry);
      if (!trusted.has(address)) return addressIdent(address, this.ipv6Prefix);
      leftmost = address;
      if (start === 0) break;
    }
    return addressIdent(leftmost, this.ipv6Prefix);
  }

  /** An entry as a key: an address keyed by its kind, anything else trimmed and bounded. */
  private keyOf(text: string): string {
    const address = parseIpAddress(text);
    return address === undefined ? boundedText(text) : addressIdent(address, this.ipv6Prefix);
  }
}

function addressIdent(address: IpAddress, prefix: number): string {
  const key = addressKey(address, prefix);
  // Only a zone id (`fe80::1%eth0`, kept with prefix 128) can make an address long.
  return key.length <= MAX_IDENT_LENGTH ? key : boundedKeyPart(key);
}

function boundedText(text: string): string {
  return boundedKeyPart(text.trim());
}

/** Whether text[start, end) holds only spaces and tabs. */
function isBlank(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code !== 32 && code !== 9) return false;
  }
  return true;
}

/** The `for=` of the n-th non-empty Forwarded element from the right (RFC 7230 lists may hold empty elements), or of the leftmost. */
function nthForwardedFromRight(header: string, n: number): string {
  let end = header.length;
  let found = 0;
  let leftmost: string | undefined;
  while (end >= 0) {
    const start = lastComma(header, end) + 1;
    const elementEnd = end;
    end = start - 1;
    if (isBlank(header, start, elementEnd)) {
      if (start === 0) break;
      continue;
    }
    leftmost = forwardedFor(header, start, elementEnd);
    if (++found === n || start === 0) break;
  }
  return leftmost ?? '';
}

/** The index of the last comma before `end`, or -1. */
function lastComma(header: string, end: number): number {
  for (let i = end - 1; i >= 0; i--) if (header.charCodeAt(i) === COMMA) return i;
  return -1;
}

const COMMA = 44;
