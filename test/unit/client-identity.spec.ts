import { describe, expect, jest, test } from '@jest/globals';
import { ClientIdentity, type ClientIdentityOptions } from '../../lib/core/client-identity.js';
import { ThrottleConfigError } from '../../lib/core/throttle-config-error.js';

const identity = (options: ClientIdentityOptions = {}, onUntrusted?: (header: string) => void) => ClientIdentity.fromOptions(options, 'ThrottlingModule', onUntrusted);
const configError = (options: unknown) => {
  try {
    identity(options as ClientIdentityOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(ThrottleConfigError);
    return (error as Error).message;
  }
  throw new Error('no error');
};

describe('ipv6Subnet', () => {
  test('by default an IPv6 client is its /64, written as the network in RFC 5952 form with the prefix', () => {
    const id = identity();
    expect(id.ofAddress('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(id.ofAddress('2001:0DB8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(id.ofAddress('2001:db8::1')).toBe('2001:db8::/64');
    expect(id.ofAddress('::1')).toBe('::/64');
    expect(id.ofAddress('fe80::1%eth0')).toBe('fe80::/64');
  });

  test('other prefix lengths mask that many bits, mid-group too', () => {
    expect(identity({ ipv6Subnet: 48 }).ofAddress('2001:db8:1:2::1')).toBe('2001:db8:1::/48');
    expect(identity({ ipv6Subnet: 56 }).ofAddress('2001:db8:1:2ff::1')).toBe('2001:db8:1:200::/56');
    expect(identity({ ipv6Subnet: 1 }).ofAddress('ffff::1')).toBe('8000::/1');
    expect(identity({ ipv6Subnet: 127 }).ofAddress('2001:db8::3')).toBe('2001:db8::2/127');
  });

  test('false and 128 key the full canonical address', () => {
    for (const ipv6Subnet of [false, 128] as const) {
      expect(identity({ ipv6Subnet }).ofAddress('2001:0db8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
    }
  });

  test('IPv4 and IPv4-mapped IPv6 stay IPv4, one bucket per address', () => {
    const id = identity();
    expect(id.ofAddress('203.0.113.7')).toBe('203.0.113.7');
    expect(id.ofAddress('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(id.ofAddress('::FFFF:203.0.113.7')).toBe('203.0.113.7');
    expect(id.ofAddress('[::ffff:203.0.113.7]:443')).toBe('203.0.113.7');
  });

  test('an app-given identity (rpc) is masked when it is an IPv6 address, kept otherwise', () => {
    const id = identity();
    expect(id.ofGivenIdentity('2001:db8:1:2::9')).toBe('2001:db8:1:2::/64');
    expect(id.ofGivenIdentity('7:1001')).toBe('7:1001');
    expect(id.ofGivenIdentity('x'.repeat(100))).toBe('x'.repeat(100));
  });

  test.each([[0, 'got 0'], [129, 'got 129'], [1.5, 'got 1.5'], ['64', "got '64'"], [true, 'got true'], [null, 'got null'], [NaN, 'got NaN']])('ipv6Subnet %p is refused, quoted', (value, quoted) => {
    const message = configError({ ipv6Subnet: value });
    expect(message).toContain('ThrottlingModule: ipv6Subnet must be a prefix length from 1 to 128, or false');
    expect(message).toContain(quoted);
  });
});

describe('trustedProxies', () => {
  const chain = (trustedProxies: string[], socket: string, header?: string, forwardedHeader?: 'forwarded') => identity({ trustedProxies, forwardedHeader }).fromHeaders(socket, header);

  test('the rightmost entry that is not trusted: socket first, then the header from the right', () => {
    expect(chain(['10.0.0.0/8'], '10.0.0.1', '198.51.100.1, 203.0.113.9, 10.0.0.2')).toBe('203.0.113.9');
    expect(chain(['10.0.0.0/8', '203.0.113.9'], '10.0.0.1', '198.51.100.1, 203.0.113.9, 10.0.0.2')).toBe('198.51.100.1');
    expect(chain(['10.0.0.0/8'], '192.0.2.1', '198.51.100.1')).toBe('192.0.2.1');
  });

  test('all trusted: the leftmost; no header: the socket', () => {
    expect(chain(['10.0.0.0/8'], '10.0.0.1', '10.1.0.0, 10.0.0.2')).toBe('10.1.0.0');
    expect(chain(['10.0.0.0/8'], '10.0.0.1')).toBe('10.0.0.1');
    expect(chain(['10.0.0.0/8'], '10.0.0.1', '')).toBe('10.0.0.1');
  });

  test('IPv6 ranges, IPv4-mapped sockets and mapped ranges, named ranges', () => {
    expect(chain(['2001:db8:ffff::/48'], '2001:db8:ffff::1', '2001:db8:1:2::7')).toBe('2001:db8:1:2::/64');
    expect(chain(['10.0.0.0/8'], '::ffff:10.0.0.1', '198.51.100.1')).toBe('198.51.100.1');
    expect(chain(['::ffff:10.0.0.0/104'], '10.0.0.1', '198.51.100.1')).toBe('198.51.100.1');
    expect(chain(['loopback'], '::1', '198.51.100.1')).toBe('198.51.100.1');
    expect(chain(['uniquelocal'], '172.16.5.5', '192.168.1.1, 198.51.100.1, 10.0.0.1')).toBe('198.51.100.1');
    expect(chain(['172.16.0.0/12'], '172.32.0.1', '198.51.100.1')).toBe('172.32.0.1');
  });

  test('ports and brackets on the entries are dropped before matching', () => {
    expect(chain(['10.0.0.0/8', '2001:db8::/32'], '10.0.0.1', '198.51.100.1:5555, [2001:db8::5]:443, 10.0.0.9:80')).toBe('198.51.100.1');
  });

  test('an entry that is not an address ends the walk and is the client, as written; empty entries are skipped', () => {
    expect(chain(['10.0.0.0/8'], '10.0.0.1', '198.51.100.1, unknown, 10.0.0.2')).toBe('unknown');
    expect(chain(['10.0.0.0/8'], '10.0.0.1', '198.51.100.1, garbage!')).toBe('garbage!');
    expect(chain(['10.0.0.0/8'], '10.0.0.1', '198.51.100.1, , 10.0.0.2,')).toBe('198.51.100.1');
    expect(chain(['10.0.0.0/8'], '10.0.0.1', ',,,')).toBe('10.0.0.1');
  });

  test('an empty list trusts nobody: the socket address', () => {
    expect(chain([], '10.0.0.1', '198.51.100.1')).toBe('10.0.0.1');
  });

  test('a repeated header (an array of lines) reads as one chain', () => {
    expect(identity({ trustedProxies: ['10.0.0.0/8'] }).fromHeaders('10.0.0.1', ['198.51.100.1', '10.0.0.3'])).toBe('198.51.100.1');
  });

  test.each([
    [{ trustedProxies: '10.0.0.1' }, "trustedProxies must be a list of proxy addresses or CIDR ranges such as ['10.0.0.0/8', '2001:db8::/32'], got '10.0.0.1'"],
    [{ trustedProxies: ['10.0.0.1', '10.0.0.0/33'] }, "trustedProxies[1] must be a proxy address"],
    [{ trustedProxies: ['10.1/16'] }, "got '10.1/16'"],
    [{ trustedProxies: ['2001:db8::/129'] }, "got '2001:db8::/129'"],
    [{ trustedProxies: [null] }, 'trustedProxies[0] must be a proxy address'],
    [{ trustedProxies: ['10.0.0.1'], numProxies: 1 }, "give numProxies (1) or trustedProxies (['10.0.0.1']), not both"],
    [{ forwardedHeader: 'Forwarded-For' }, "forwardedHeader must be 'x-forwarded-for' or 'forwarded', got 'Forwarded-For'"],
    [{ numProxies: -1 }, 'numProxies must be a non-negative integer, got -1'],
  ])('%p is refused at boot', (options, message) => {
    expect(configError(options)).toContain(message.replace("['10.0.0.1']", '["10.0.0.1"]'));
  });
});

describe("forwardedHeader: 'forwarded' (RFC 7239)", () => {
  const forwarded = (header: string | string[], options: ClientIdentityOptions = { trustedProxies: ['127.0.0.1', '192.0.2.0/24'] }) =>
    identity({ forwardedHeader: 'forwarded', ...options }).fromHeaders('127.0.0.1', header);

  test("RFC 7239's own examples", () => {
    expect(forwarded('for="_gazonk"')).toBe('_gazonk');
    expect(forwarded('For="[2001:db8:cafe::17]:4711"')).toBe('2001:db8:cafe::/64');
    expect(forwarded('for=192.0.2.60;proto=http;by=203.0.113.43')).toBe('192.0.2.60');
    expect(forwarded('for=192.0.2.43, for=198.51.100.17')).toBe('198.51.100.17');
    expect(forwarded('for=198.51.100.17, for=192.0.2.43')).toBe('198.51.100.17');
  });

  test('IPv4 with a port (quoted or not), obfuscated ports, pairs in any order and case, spaces', () => {
    expect(forwarded('for="198.51.100.17:47011"')).toBe('198.51.100.17');
    expect(forwarded('for=198.51.100.17:47011')).toBe('198.51.100.17');
    expect(forwarded('for="[2001:db8::17]:_p1"')).toBe('2001:db8::/64');
    expect(forwarded(' proto=https ; FOR = "198.51.100.9" ; by=192.0.2.1 ')).toBe('198.51.100.9');
  });

  test('several header lines, unknown, an element without for=, empty elements', () => {
    expect(forwarded(['for=198.51.100.1', 'for=192.0.2.7'])).toBe('198.51.100.1');
    expect(forwarded('for=198.51.100.1, for=unknown, for=192.0.2.7')).toBe('unknown');
    expect(forwarded('for=198.51.100.1, proto=https')).toBe('unknown');
    expect(forwarded('for=198.51.100.1,,  ,for=192.0.2.7')).toBe('198.51.100.1');
  });

  test('a quote a client leaves open does not swallow the elements appended after it', () => {
    expect(forwarded('for="198.51.100.66, for=203.0.113.1')).toBe('203.0.113.1');
    expect(forwarded('for="\\"x, for="[2001:db8::1]"')).toBe('2001:db8::/64');
  });

  test('numProxies counts elements from the right, the leftmost when there are fewer', () => {
    const header = 'for=203.0.113.1, for="[2001:db8::1]:80", for=192.0.2.1';
    expect(forwarded(header, { numProxies: 1 })).toBe('192.0.2.1');
    expect(forwarded(header, { numProxies: 2 })).toBe('2001:db8::/64');
    expect(forwarded(header, { numProxies: 9 })).toBe('203.0.113.1');
  });
});

describe('the untrusted-forwarding notice', () => {
  test('watched only when no proxy option is given; told once, only when the adapter does not trust proxies either', () => {
    const told = jest.fn();
    const id = identity({}, told);
    expect(id.watchesForwarding).toBe(true);
    id.noticeForwarding('X-Forwarded-For', false);
    id.noticeForwarding('Forwarded', false);
    expect(told.mock.calls).toEqual([['X-Forwarded-For']]);
    expect(id.watchesForwarding).toBe(false);

    const trusting = identity({}, told);
    trusting.noticeForwarding('X-Forwarded-For', true);
    expect(trusting.watchesForwarding).toBe(false);
    expect(told).toHaveBeenCalledTimes(1);

    expect(identity({ numProxies: 0 }, told).watchesForwarding).toBe(false);
    expect(identity({ trustedProxies: [] }, told).watchesForwarding).toBe(false);
  });
});
