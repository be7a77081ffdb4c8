/**
 * Who the client is, through real HTTP on Express and Fastify: IPv6 clients are counted per /64
 * (ipv6Subnet), proxies are believed as the operator lists them (trustedProxies, numProxies), RFC
 * 7239 Forwarded is read on request (forwardedHeader), and an app that receives forwarded requests
 * without trusting anyone is told so once.
 */
import { Controller, Get, type INestApplication, Logger } from '@nestjs/common';
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import { AnonThrottle, MemoryThrottleStore, ThrottleClasses, type ThrottlingModuleOptions } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { type AppOptions, bootError, PLATFORMS, type Platform, startApp } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';

@Controller()
class AnonController {
  @Get('anon') @ThrottleClasses(AnonThrottle) anon() { return 'ok'; }
}

/** The n-th address of the /64 2001:db8:1:2::/64, in its full (uncompressed) spelling. */
const inSubnet = (n: number) => `2001:0db8:0001:0002:${[n >> 16, n & 0xffff, (n * 7) & 0xffff, (n * 13) & 0xffff].map((part) => part.toString(16).padStart(4, '0')).join(':')}`;

describe.each(PLATFORMS)('client identity on %s', (platform: Platform) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function boot(options: ThrottlingModuleOptions, appOptions: AppOptions = {}) {
    const store = new MemoryThrottleStore();
    app = await startApp(platform, testModule({ options: { clock: new FakeClock().read, store, rates: { anon: '1000/day' }, ...options }, controllers: [AnonController], auth: false }), appOptions);
    const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    /** GET /anon with these headers; the status. fetch keeps its connection alive, so 1,000 requests stay quick. */
    const get = async (headers: Record<string, string> = {}) => {
      const response = await fetch(`${base}/anon`, { headers });
      await response.arrayBuffer();
      return response.status;
    };
    return { get, store };
  }

  describe('ipv6Subnet', () => {
    test('1,000 addresses of one /64 share one bucket by default: the 1,001st request is refused', async () => {
      const { get, store } = await boot({ numProxies: 1 });
      for (let n = 0; n < 1000; n++) expect([n, await get({ 'x-forwarded-for': inSubnet(n) })]).toEqual([n, 200]);
      expect(await get({ 'x-forwarded-for': inSubnet(1000) })).toBe(429);
      expect(store.peek('throttle_anon_2001:db8:1:2::/64', 86_400_000).count).toBe(1000);
    });

    test('two /64s do not share a bucket', async () => {
      const { get } = await boot({ numProxies: 1, rates: { anon: '1/day' } });
      expect(await get({ 'x-forwarded-for': '2001:db8:1:2::1' })).toBe(200);
      expect(await get({ 'x-forwarded-for': '2001:db8:1:2:ffff::9' })).toBe(429);
      expect(await get({ 'x-forwarded-for': '2001:db8:1:3::1' })).toBe(200);
    });

    test('through trustedProxies as well: the client picked from the chain is masked', async () => {
      const { get } = await boot({ trustedProxies: ['127.0.0.1'], rates: { anon: '2/day' } });
      expect(await get({ 'x-forwarded-for': '2001:db8:1:2::1' })).toBe(200);
      expect(await get({ 'x-forwarded-for': '[2001:DB8:1:2:0:0:0:2]:4711' })).toBe(200);
      expect(await get({ 'x-forwarded-for': '2001:db8:1:2:aaaa::3' })).toBe(429);
    });

    test('ipv6Subnet: false restores one bucket per address', async () => {
      const { get, store } = await boot({ numProxies: 1, ipv6Subnet: false, rates: { anon: '1/day' } });
      for (let n = 0; n < 50; n++) expect(await get({ 'x-forwarded-for': inSubnet(n) })).toBe(200);
      expect(await get({ 'x-forwarded-for': inSubnet(7) })).toBe(429);
      expect(store.peek('throttle_anon_2001:db8:1:2::/64', 86_400_000).count).toBe(0);
    });

    test('a /48 groups wider; IPv4 (and IPv4-mapped) addresses stay one bucket each', async () => {
      const { get } = await boot({ numProxies: 1, ipv6Subnet: 48, rates: { anon: '1/day' } });
      expect(await get({ 'x-forwarded-for': '2001:db8:1:2::1' })).toBe(200);
      expect(await get({ 'x-forwarded-for': '2001:db8:1:ffff::1' })).toBe(429);
      expect(await get({ 'x-forwarded-for': '203.0.113.1' })).toBe(200);
      expect(await get({ 'x-forwarded-for': '203.0.113.2' })).toBe(200);
      expect(await get({ 'x-forwarded-for': '::ffff:203.0.113.2' })).toBe(429);
    });

    test.each([0, 129, 1.5, '64', true, null])('ipv6Subnet %p fails the boot, naming the value', async (value) => {
      const error = await bootError(testModule({ options: { ipv6Subnet: value as never }, controllers: [AnonController] }));
      expect(error?.message).toContain('ipv6Subnet');
      expect(error?.message).toContain(`got ${typeof value === 'string' ? `'${value}'` : String(value)}`);
    });
  });

  describe('trustedProxies', () => {
    test('the client is the rightmost entry that is not a trusted proxy; what it wrote further left changes nothing', async () => {
      const { get } = await boot({ trustedProxies: ['127.0.0.1', '10.0.0.0/8'], rates: { anon: '1/day' } });
      expect(await get({ 'x-forwarded-for': '198.51.100.7, 10.1.1.1, 10.2.2.2' })).toBe(200);
      // The same client, whatever it claims to the left.
      expect(await get({ 'x-forwarded-for': '203.0.113.99, 198.51.100.7, 10.1.1.1' })).toBe(429);
      expect(await get({ 'x-forwarded-for': '198.51.100.8, 10.1.1.1' })).toBe(200);
    });

    test('every entry trusted: the leftmost; no header: the socket address', async () => {
      const { get } = await boot({ trustedProxies: ['127.0.0.1', '10.0.0.0/8'], rates: { anon: '1/day' } });
      expect(await get({ 'x-forwarded-for': '10.9.9.9, 10.1.1.1' })).toBe(200);
      expect(await get({ 'x-forwarded-for': '10.9.9.9' })).toBe(429);
      expect(await get()).toBe(200);
      expect(await get({ 'x-forwarded-for': '127.0.0.1' })).toBe(429);
    });

    test('a socket that is not a trusted proxy is the client: its X-Forwarded-For is not read', async () => {
      const { get } = await boot({ trustedProxies: ['10.0.0.0/8'], rates: { anon: '1/day' } });
      expect(await get({ 'x-forwarded-for': '198.51.100.1' })).toBe(200);
      expect(await get({ 'x-forwarded-for': '198.51.100.2' })).toBe(429);
    });

    test("an IPv4-mapped socket address matches the proxy's IPv4 entry, and named ranges work like Express's", async () => {
      const { get } = await boot({ trustedProxies: ['loopback'], rates: { anon: '1/day' } });
      expect(await get({ 'x-forwarded-for': '198.51.100.1' })).toBe(200);
      expect(await get({ 'x-forwarded-for': '198.51.100.2' })).toBe(200);
      expect(await get({ 'x-forwarded-for': '198.51.100.1' })).toBe(429);
    });

    test('numProxies and trustedProxies together fail the boot, naming both', async () => {
      const error = await bootError(testModule({ options: { numProxies: 1, trustedProxies: ['10.0.0.1'] }, controllers: [AnonController] }));
      expect(error?.message).toContain(`give numProxies (1) or trustedProxies (["10.0.0.1"]), not both`);
    });

    test.each([[['10.0.0.0/33'], "trustedProxies[0]", "'10.0.0.0/33'"], [['nginx'], 'trustedProxies[0]', "'nginx'"], ['10.0.0.1', 'trustedProxies', "'10.0.0.1'"], [[7], 'trustedProxies[0]', '7']])(
      'trustedProxies %p fails the boot, naming the entry',
      async (value, where, quoted) => {
        const error = await bootError(testModule({ options: { trustedProxies: value as never }, controllers: [AnonController] }));
        expect(error?.message).toContain(where);
        expect(error?.message).toContain(`got ${quoted}`);
      },
    );
  });

  describe("forwardedHeader: 'forwarded' (RFC 7239)", () => {
    test('quoted IPv6 with a port, IPv4 with a port, several elements, case-insensitive names: the rightmost untrusted for=', async () => {
      const { get } = await boot({ trustedProxies: ['127.0.0.1', '192.0.2.0/24'], forwardedHeader: 'forwarded', rates: { anon: '1/day' } });
      expect(await get({ forwarded: 'for=198.51.100.9, For="[2001:db8:cafe::17]:4711";proto=https;by=192.0.2.60, for=192.0.2.43:47011' })).toBe(200);
      expect(await get({ forwarded: 'for="[2001:db8:cafe:0:1::99]"' })).toBe(429);
      // X-Forwarded-For is not read any more.
      expect(await get({ forwarded: 'for=203.0.113.5', 'x-forwarded-for': '2001:db8:cafe::1' })).toBe(200);
    });

    test('numProxies counts Forwarded elements from the right', async () => {
      const { get } = await boot({ numProxies: 2, forwardedHeader: 'forwarded', rates: { anon: '1/day' } });
      expect(await get({ forwarded: 'for=203.0.113.1, for=198.51.100.1;proto=http, for=192.0.2.1' })).toBe(200);
      expect(await get({ forwarded: 'for=203.0.113.77, for="198.51.100.1:80", for=192.0.2.2' })).toBe(429);
    });

    test('an obfuscated identifier ends the trusted walk and is the client: one bucket per identifier', async () => {
      const { get } = await boot({ trustedProxies: ['127.0.0.1', '192.0.2.0/24'], forwardedHeader: 'forwarded', rates: { anon: '1/day' } });
      expect(await get({ forwarded: 'for=198.51.100.1, for=_hidden, for=192.0.2.1' })).toBe(200);
      expect(await get({ forwarded: 'for=198.51.100.2, for=_hidden, for=192.0.2.1' })).toBe(429);
      expect(await get({ forwarded: 'for=198.51.100.2, for=_other' })).toBe(200);
    });
  });

  describe('the untrusted-forwarding warning', () => {
    test('requests with X-Forwarded-For and nothing trusting it: one warning per app naming the options', async () => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      try {
        const { get } = await boot({});
        await get();
        expect(warn).not.toHaveBeenCalled();
        await get({ 'x-forwarded-for': '203.0.113.1' });
        await get({ 'x-forwarded-for': '203.0.113.2' });
        await get({ forwarded: 'for=203.0.113.3' });
        const ours = warn.mock.calls.filter((call) => String(call[0]).includes('X-Forwarded-For'));
        expect(ours).toHaveLength(1);
        expect(String(ours[0][0])).toMatch(/trustedProxies.*numProxies/);
        expect(warn.mock.contexts[warn.mock.calls.indexOf(ours[0])]).toMatchObject({ context: 'ThrottlingModule' });
      } finally {
        warn.mockRestore();
      }
    });

    test("no warning when the adapter's own trust proxy is on, or when a proxy option is given", async () => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      try {
        await (await boot({}, { trustProxy: true })).get({ 'x-forwarded-for': '203.0.113.1' });
        await app!.close();
        await (await boot({ numProxies: 1 })).get({ 'x-forwarded-for': '203.0.113.1' });
        await app!.close();
        await (await boot({ trustedProxies: ['10.0.0.1'] })).get({ 'x-forwarded-for': '203.0.113.1' });
        expect(warn.mock.calls.filter((call) => String(call[0]).includes('X-Forwarded-For'))).toHaveLength(0);
      } finally {
        warn.mockRestore();
      }
    });
  });
});
