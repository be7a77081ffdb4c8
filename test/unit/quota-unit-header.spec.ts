import { describe, expect, test } from '@jest/globals';
import { type ThrottleDecision, writeRateLimitHeaders } from '../../lib/index.js';
import { RateLimitHeaderCache, type RateLimitHeaderMode } from '../../lib/http/rate-limit-headers.js';

const user: ThrottleDecision = { allowed: true, wait: null, limit: 1000, remaining: 999, reset: 86_400, policy: 'user', window: 86_400 };
const bandwidth: ThrottleDecision = { allowed: true, wait: null, limit: 1_000_000, remaining: 250_000, reset: 30, policy: 'bandwidth', window: 60, quotaUnit: 'content-bytes' };

function headers(decisions: ThrottleDecision[], mode: RateLimitHeaderMode, cache?: RateLimitHeaderCache): Record<string, string> {
  const written: Record<string, string> = {};
  writeRateLimitHeaders((name, value) => (written[name] = value), decisions, mode, cache);
  return written;
}

describe("RateLimit-Policy's quota unit (qu)", () => {
  test('a policy counting bytes carries qu="content-bytes"; a request policy carries none', () => {
    expect(headers([user, bandwidth], 'ietf')).toEqual({
      'ratelimit-policy': '"user";q=1000;w=86400, "bandwidth";q=1000000;w=60;qu="content-bytes"',
      ratelimit: '"user";r=999;t=86400, "bandwidth";r=250000;t=30',
    });
  });

  test('without a window the unit still follows the quota', () => {
    const windowless: ThrottleDecision = { ...bandwidth, window: undefined };
    expect(headers([windowless], 'ietf')['ratelimit-policy']).toBe('"bandwidth";q=1000000;qu="content-bytes"');
  });

  test("the legacy headers have no unit: they report the tightest policy's numbers alone", () => {
    expect(headers([bandwidth], 'legacy')).toEqual({ 'x-ratelimit-limit': '1000000', 'x-ratelimit-remaining': '250000', 'x-ratelimit-reset': '30' });
  });

  test("a route's cache rebuilds when a policy's unit alone changes, both ways", () => {
    const cache = new RateLimitHeaderCache();
    const asRequests: ThrottleDecision = { ...bandwidth, quotaUnit: undefined };
    expect(headers([asRequests], 'ietf', cache)['ratelimit-policy']).toBe('"bandwidth";q=1000000;w=60');
    expect(headers([bandwidth], 'ietf', cache)['ratelimit-policy']).toBe('"bandwidth";q=1000000;w=60;qu="content-bytes"');
    expect(headers([bandwidth], 'ietf', cache)['ratelimit-policy']).toBe('"bandwidth";q=1000000;w=60;qu="content-bytes"');
    expect(headers([asRequests], 'ietf', cache)['ratelimit-policy']).toBe('"bandwidth";q=1000000;w=60');
  });

  test('a unit a custom throttle hands that is not plain printable ASCII is written as an escaped sf-string', () => {
    const odd: ThrottleDecision = { ...bandwidth, quotaUnit: 'kilo"bytes\u00e9' };
    expect(headers([odd], 'ietf')['ratelimit-policy']).toBe('"bandwidth";q=1000000;w=60;qu="kilo\\"bytes%C3%A9"');
  });
});
