import { describe, expect, test } from '@jest/globals';
import { identFromForwardedFor, normalizeAddress } from '../../lib/core/client-address.js';
import { ClientIdentity } from '../../lib/core/client-identity.js';
import { httpClientIdent } from '../../lib/http/http-client.js';

const identity = (numProxies?: number) => ClientIdentity.fromOptions({ numProxies }, 'test');

const REMOTE = '3.3.3.3';
const XFF = '0.0.0.0, 1.1.1.1, 2.2.2.2';

describe('normalizeAddress', () => {
  test('IPv4-mapped IPv6 becomes plain IPv4, so dual-stack sockets share a bucket', () => {
    expect(normalizeAddress('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(normalizeAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeAddress(' ::FFFF:10.0.0.1 ')).toBe('10.0.0.1');
  });

  test('plain IPv4 and IPv6 are kept (IPv6 in its canonical short form)', () => {
    expect(normalizeAddress('10.0.0.1')).toBe('10.0.0.1');
    expect(normalizeAddress(' 10.0.0.1 ')).toBe('10.0.0.1');
    expect(normalizeAddress('::1')).toBe('::1');
    expect(normalizeAddress('2001:0db8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
  });

  test('a port is dropped, since it changes with every connection: one client stays one bucket', () => {
    expect(normalizeAddress('203.0.113.7:51234')).toBe('203.0.113.7');
    expect(normalizeAddress(' 203.0.113.7:443 ')).toBe('203.0.113.7');
    expect(normalizeAddress('[2001:db8::1]:443')).toBe('2001:db8::1');
    expect(normalizeAddress('[2001:0db8::0001]')).toBe('2001:db8::1');
    expect(normalizeAddress('[::ffff:10.0.0.1]:8080')).toBe('10.0.0.1');
  });

  test('what only looks like an address with a port is kept as it is', () => {
    expect(normalizeAddress('unknown:80')).toBe('unknown:80');
    expect(normalizeAddress('203.0.113.7:')).toBe('203.0.113.7:');
    expect(normalizeAddress('203.0.113.7:123456')).toBe('203.0.113.7:123456');
    expect(normalizeAddress('[2001:db8::1]x')).toBe('[2001:db8::1]x');
    expect(normalizeAddress('[2001:db8::1')).toBe('[2001:db8::1');
    expect(normalizeAddress('[not-an-ip]:80')).toBe('[not-an-ip]:80');
    // Unbracketed, the last group is part of the IPv6 address, not a port.
    expect(normalizeAddress('2001:db8::1:443')).toBe('2001:db8::1:443');
    // Only a dotted quad is IPv4 before a port: identities such as a tenant and a user keep both halves.
    expect(normalizeAddress('7:1001')).toBe('7:1001');
    expect(normalizeAddress('7:1002')).toBe('7:1002');
    expect(normalizeAddress('127.1:80')).toBe('127.1:80');
    expect(normalizeAddress('010.0.0.1:80')).toBe('010.0.0.1:80');
    // Brackets hold IPv6 only.
    expect(normalizeAddress('[1.2.3.4]:80')).toBe('[1.2.3.4]:80');
  });

  test('anything that is not an address is returned trimmed; nothing becomes empty', () => {
    expect(normalizeAddress(' unknown ')).toBe('unknown');
    expect(normalizeAddress('not:an:ip:address:zz')).toBe('not:an:ip:address:zz');
    expect(normalizeAddress(undefined)).toBe('');
    expect(normalizeAddress(null)).toBe('');
  });
});

describe('identFromForwardedFor (DRF NUM_PROXIES)', () => {
  test('0 proxies: the socket address, whatever X-Forwarded-For says', () => {
    expect(identFromForwardedFor(REMOTE, XFF, 0)).toBe(REMOTE);
    expect(identFromForwardedFor(REMOTE, '9.9.9.9', 0)).toBe(REMOTE);
  });

  test('1 proxy: the rightmost address; 2 proxies: the second from the right', () => {
    expect(identFromForwardedFor(REMOTE, XFF, 1)).toBe('2.2.2.2');
    expect(identFromForwardedFor(REMOTE, XFF, 2)).toBe('1.1.1.1');
  });

  test('more proxies than addresses: the leftmost', () => {
    expect(identFromForwardedFor(REMOTE, XFF, 3)).toBe('0.0.0.0');
    expect(identFromForwardedFor(REMOTE, XFF, 10)).toBe('0.0.0.0');
  });

  test('no header: the socket address', () => {
    expect(identFromForwardedFor(REMOTE, undefined, 1)).toBe(REMOTE);
    expect(identFromForwardedFor(REMOTE, '', 2)).toBe(REMOTE);
    expect(identFromForwardedFor('::ffff:3.3.3.3', undefined, 1)).toBe(REMOTE);
  });

  test('spoofing: whatever the client writes left of the trusted proxies does not change its identity', () => {
    expect(identFromForwardedFor(REMOTE, '4.4.4.4, 5.5.5.5, 2.2.2.2', 1)).toBe(identFromForwardedFor(REMOTE, XFF, 1));
    expect(identFromForwardedFor(REMOTE, '4.4.4.4, 1.1.1.1, 2.2.2.2', 2)).toBe(identFromForwardedFor(REMOTE, XFF, 2));
    expect(identFromForwardedFor(REMOTE, 'evil, 6.6.6.6, 1.1.1.1, 2.2.2.2', 2)).toBe('1.1.1.1');
  });

  test('unique clients behind the proxies are told apart', () => {
    expect(identFromForwardedFor(REMOTE, '0.0.0.0, 1.1.1.1, 7.7.7.7', 1)).not.toBe(identFromForwardedFor(REMOTE, XFF, 1));
    expect(identFromForwardedFor(REMOTE, '0.0.0.0, 7.7.7.7, 2.2.2.2', 2)).not.toBe(identFromForwardedFor(REMOTE, XFF, 2));
  });

  test('a header repeated on the request (an array) reads as one list', () => {
    expect(identFromForwardedFor(REMOTE, ['0.0.0.0, 1.1.1.1', '2.2.2.2'], 1)).toBe('2.2.2.2');
    expect(identFromForwardedFor(REMOTE, ['0.0.0.0, 1.1.1.1', '2.2.2.2'], 2)).toBe('1.1.1.1');
  });

  test('addresses in the header are normalized too', () => {
    expect(identFromForwardedFor(REMOTE, '0.0.0.0, ::ffff:1.1.1.1', 1)).toBe('1.1.1.1');
  });

  test('a proxy that appends the client port puts every connection of one client in one bucket', () => {
    expect(identFromForwardedFor(REMOTE, '198.51.100.1, 203.0.113.7:51234', 1)).toBe('203.0.113.7');
    expect(identFromForwardedFor(REMOTE, '198.51.100.1, 203.0.113.7:51300', 1)).toBe('203.0.113.7');
    expect(identFromForwardedFor(REMOTE, '[2001:db8::7]:51234, 10.0.0.2', 2)).toBe('2001:db8::7');
  });

  test("picks exactly what DRF's split(',')[-min(n, len)].strip() picks, empty entries included", () => {
    const headers = ['1.1.1.1', '1.1.1.1,2.2.2.2', ' 1.1.1.1 , 2.2.2.2 ,3.3.3.3', '1.1.1.1,,3.3.3.3', '1.1.1.1,2.2.2.2,', ',', ',,1.1.1.1'];
    for (const header of headers) {
      const entries = header.split(',');
      for (let n = 1; n <= 5; n++) {
        expect([header, n, identFromForwardedFor(REMOTE, header, n)]).toEqual([header, n, entries[entries.length - Math.min(n, entries.length)].trim()]);
      }
    }
  });
});

describe('httpClientIdent', () => {
  const request = { ip: '::ffff:8.8.8.8', socket: { remoteAddress: '127.0.0.1' }, headers: { 'x-forwarded-for': XFF } };

  test('numProxies unset: the adapter\'s req.ip, never the raw header', () => {
    expect(httpClientIdent(request, identity())).toBe('8.8.8.8');
  });

  test('numProxies set: DRF\'s rule on the socket address and the header', () => {
    expect(httpClientIdent(request, identity(0))).toBe('127.0.0.1');
    expect(httpClientIdent(request, identity(1))).toBe('2.2.2.2');
    expect(httpClientIdent(request, identity(2))).toBe('1.1.1.1');
  });

  test('a Fastify request without its own socket uses the raw request\'s', () => {
    expect(httpClientIdent({ raw: { socket: { remoteAddress: '::ffff:9.9.9.9' } }, headers: {} }, identity(0))).toBe('9.9.9.9');
  });
});
