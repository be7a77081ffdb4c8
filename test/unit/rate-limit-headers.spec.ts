import { describe, expect, test } from '@jest/globals';
import { ALLOWED, DENIED, type ThrottleDecision, writeRateLimitHeaders } from '../../lib/index.js';
import type { RateLimitHeaderMode } from '../../lib/http/rate-limit-headers.js';

const user: ThrottleDecision = { allowed: true, wait: null, limit: 1000, remaining: 999, reset: 86_400, policy: 'user', window: 86_400 };
const burst: ThrottleDecision = { allowed: true, wait: null, limit: 60, remaining: 5, reset: 12.2, policy: 'burst', window: 60 };

function headers(decisions: ThrottleDecision[], mode: RateLimitHeaderMode): Record<string, string> {
  const written: Record<string, string> = {};
  writeRateLimitHeaders((name, value) => {
    written[name] = value;
  }, decisions, mode);
  return written;
}

describe('writeRateLimitHeaders', () => {
  test("'ietf': RateLimit-Policy and RateLimit, one structured-field item per policy", () => {
    expect(headers([user, burst], 'ietf')).toEqual({
      'RateLimit-Policy': '"user";q=1000;w=86400, "burst";q=60;w=60',
      RateLimit: '"user";r=999;t=86400, "burst";r=5;t=13',
    });
  });

  test("'legacy': X-RateLimit-* for the most restrictive policy (fewest remaining)", () => {
    expect(headers([user, burst], 'legacy')).toEqual({ 'X-RateLimit-Limit': '60', 'X-RateLimit-Remaining': '5', 'X-RateLimit-Reset': '13' });
  });

  test("'legacy': on equal remaining the later reset is the tighter one", () => {
    const a: ThrottleDecision = { allowed: false, wait: 1, limit: 3, remaining: 0, reset: 1, policy: 'sec', window: 1 };
    const b: ThrottleDecision = { allowed: false, wait: 59, limit: 6, remaining: 0, reset: 59, policy: 'min', window: 60 };
    expect(headers([a, b], 'legacy')).toEqual({ 'X-RateLimit-Limit': '6', 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': '59' });
  });

  test("'both': the IETF and the legacy headers", () => {
    expect(headers([user, burst], 'both')).toEqual({
      'RateLimit-Policy': '"user";q=1000;w=86400, "burst";q=60;w=60',
      RateLimit: '"user";r=999;t=86400, "burst";r=5;t=13',
      'X-RateLimit-Limit': '60',
      'X-RateLimit-Remaining': '5',
      'X-RateLimit-Reset': '13',
    });
  });

  test('false: no headers', () => {
    expect(headers([user, burst], false)).toEqual({});
  });

  test('decisions that do not know their limit (custom throttles) are left out; none at all writes nothing', () => {
    expect(headers([ALLOWED, DENIED], 'both')).toEqual({});
    expect(headers([ALLOWED, burst], 'ietf')).toEqual({ 'RateLimit-Policy': '"burst";q=60;w=60', RateLimit: '"burst";r=5;t=13' });
  });

  test('a policy without a name is named by position; quotes in names are escaped', () => {
    const nameless: ThrottleDecision = { allowed: true, wait: null, limit: 3, remaining: 2, reset: 1 };
    const quoted: ThrottleDecision = { ...nameless, policy: 'a"b' };
    expect(headers([ALLOWED, nameless, quoted], 'ietf')).toEqual({
      'RateLimit-Policy': '"policy2";q=3, "a\\"b";q=3',
      RateLimit: '"policy2";r=2;t=1, "a\\"b";r=2;t=1',
    });
  });
});
