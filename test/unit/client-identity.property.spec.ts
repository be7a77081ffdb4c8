/**
 * Whatever a client or a proxy writes, the identity rules never throw, never make an ident longer
 * than MAX_IDENT_LENGTH, and one client written in any IPv6 spelling is one bucket.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { ClientIdentity, type ClientIdentityOptions, MAX_IDENT_LENGTH } from '../../lib/core/client-identity.js';

const RULES: ClientIdentityOptions[] = [
  {},
  { numProxies: 1 },
  { numProxies: 3 },
  { numProxies: 1000 },
  { trustedProxies: ['127.0.0.1', '10.0.0.0/8', '2001:db8::/32'] },
  { numProxies: 2, forwardedHeader: 'forwarded' },
  { trustedProxies: ['127.0.0.1', '10.0.0.0/8', '2001:db8::/32'], forwardedHeader: 'forwarded' },
  { trustedProxies: ['0.0.0.0/0', '::/0'], ipv6Subnet: false },
  { numProxies: 1, ipv6Subnet: 128 },
  { numProxies: 1, ipv6Subnet: 7 },
];
const identities = RULES.map((options) => ({ options, identity: ClientIdentity.fromOptions(options, 'test') }));

const hex4 = fc.integer({ min: 0, max: 0xffff });
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((octets) => octets.join('.'));
const ipv6 = fc.array(hex4, { minLength: 8, maxLength: 8 }).map((parts) => parts.map((part) => part.toString(16)).join(':'));

/** Pieces a header is made of: addresses with and without ports, Forwarded syntax, separators, garbage, unicode, CR / LF. */
const piece = fc.oneof(
  ipv4,
  ipv6,
  ipv4.map((address) => `${address}:${Math.floor(Math.random() * 65536)}`),
  ipv6.map((address) => `[${address}]:443`),
  ipv6.map((address) => `for="[${address}]:4711"`),
  ipv4.map((address) => `For=${address};proto=https;by=_p`),
  fc.constantFrom(',', ', ', ';', '=', '"', '\\', '[', ']', ':', '::', '%', '_hidden', 'unknown', 'for=', 'for="', '\r\n', '\u0000', '::ffff:', '%eth0', '/64'),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
/** Up to 1,000 pieces joined by commas (or not), so up to 1,000 entries and past 10 KB; sizes drawn over the whole range. */
const header = fc.oneof(
  fc.array(piece, { maxLength: 1000, size: 'max' }).map((pieces) => pieces.join(',')),
  fc.array(piece, { maxLength: 1000, size: 'max' }).map((pieces) => pieces.join('')),
  fc.array(piece, { maxLength: 20 }).map((pieces) => pieces.join(',')),
  fc.string({ maxLength: 10_240, size: 'max' }),
  fc.array(fc.string({ maxLength: 200 }), { maxLength: 5 }),
);
const socket = fc.oneof(ipv4, ipv6, fc.constant('::ffff:127.0.0.1'), fc.constant('10.0.0.1'), fc.constant('2001:db8::1'), fc.string({ maxLength: 80 }), fc.constant(undefined));

describe('client identity, for any input', () => {
  test('any header text and socket address: never throws, and the ident is at most MAX_IDENT_LENGTH characters', () => {
    let longest = 0;
    fc.assert(
      fc.property(socket, header, (address, value) => {
        longest = Math.max(longest, typeof value === 'string' ? value.length : value.join(',').length);
        for (const { identity } of identities) {
          const fromHeaders = identity.fromHeaders(address, value);
          expect(typeof fromHeaders).toBe('string');
          expect(fromHeaders.length).toBeLessThanOrEqual(MAX_IDENT_LENGTH);
          const ofAddress = identity.ofAddress(typeof value === 'string' ? value : address);
          expect(ofAddress.length).toBeLessThanOrEqual(MAX_IDENT_LENGTH);
        }
      }),
      { numRuns: 300 },
    );
    expect(MAX_IDENT_LENGTH).toBe(64);
    // The runs did reach headers of 10 KB and more.
    expect(longest).toBeGreaterThan(10_000);
  });

  /** Every way a client's address gets written, by a socket or a proxy, for the same eight groups. */
  const spelling = (parts: number[]) =>
    fc.record({ compress: fc.boolean(), upper: fc.boolean(), pad: fc.boolean(), bracket: fc.constantFrom('none', 'brackets', 'port') }).map(({ compress, upper, pad, bracket }) => {
      let text = parts.map((part) => (pad ? part.toString(16).padStart(4, '0') : part.toString(16))).join(':');
      if (compress) {
        // Compress the first run of zero groups, if any.
        const groups = text.split(':');
        const first = groups.findIndex((group) => /^0+$/.test(group));
        if (first !== -1) {
          let last = first;
          while (last + 1 < groups.length && /^0+$/.test(groups[last + 1])) last++;
          text = `${groups.slice(0, first).join(':')}::${groups.slice(last + 1).join(':')}`;
        }
      }
      if (upper) text = text.toUpperCase();
      return bracket === 'none' ? text : bracket === 'brackets' ? `[${text}]` : `[${text}]:${1 + (parts[7] % 65535)}`;
    });

  test('one IPv6 client in any spelling (compressed, expanded, upper case, zero-padded, bracketed, with a port) is one bucket', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(hex4, fc.constant(0)), { minLength: 8, maxLength: 8 }).chain((parts) => fc.tuple(fc.constant(parts), spelling(parts), spelling(parts))),
        ([parts, a, b]) => {
          // Not an IPv4-mapped address: that is IPv4, and has its own property below.
          fc.pre(!(parts.slice(0, 5).every((part) => part === 0) && parts[5] === 0xffff));
          for (const { identity } of identities) {
            const viaHeader = (text: string) => identity.fromHeaders('127.0.0.1', `198.51.100.1, ${text}`);
            if (identity.adapterDecides) {
              expect(identity.ofAddress(a)).toBe(identity.ofAddress(b));
            } else {
              expect(viaHeader(a)).toBe(viaHeader(b));
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test('an IPv4 client written as IPv4-mapped IPv6, in any case, bracketed or with a port, is the IPv4 bucket', () => {
    fc.assert(
      fc.property(ipv4, fc.constantFrom('::ffff:', '::FFFF:', '0:0:0:0:0:ffff:', '0000:0000:0000:0000:0000:FFFF:'), fc.constantFrom('none', 'brackets', 'port'), (v4, prefix, form) => {
        const mapped = form === 'none' ? `${prefix}${v4}` : form === 'brackets' ? `[${prefix}${v4}]` : `[${prefix}${v4}]:8080`;
        for (const { identity } of identities) {
          if (identity.adapterDecides) expect(identity.ofAddress(mapped)).toBe(v4);
          else if (identity.numProxies === 1) expect(identity.fromHeaders('127.0.0.1', mapped)).toBe(v4);
        }
      }),
      { numRuns: 200 },
    );
  });

  test('two addresses of one /64 share its bucket; addresses of two /64s do not', () => {
    const id = ClientIdentity.fromOptions({ numProxies: 1 }, 'test');
    fc.assert(
      fc.property(fc.array(hex4, { minLength: 8, maxLength: 8 }), fc.array(hex4, { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 3 }), (parts, otherHost, changed) => {
        fc.pre(!(parts.slice(0, 5).every((part) => part === 0) && parts[5] === 0xffff) && parts.slice(0, 4).some((part) => part !== 0));
        const text = (groups: number[]) => groups.map((group) => group.toString(16)).join(':');
        const sameNetwork = [...parts.slice(0, 4), ...otherHost];
        expect(id.fromHeaders('127.0.0.1', text(parts))).toBe(id.fromHeaders('127.0.0.1', text(sameNetwork)));
        const otherNetwork = [...parts];
        otherNetwork[changed] ^= 1;
        expect(id.fromHeaders('127.0.0.1', text(parts))).not.toBe(id.fromHeaders('127.0.0.1', text(otherNetwork)));
      }),
      { numRuns: 300 },
    );
  });
});
