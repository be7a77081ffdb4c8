import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { ALLOWED, DENIED, type ThrottleDecision, writeRateLimitHeaders } from '../../lib/index.js';
import { emitRateLimitHeaders, RateLimitHeaderCache, type RateLimitHeaderMode } from '../../lib/http/rate-limit-headers.js';

const user: ThrottleDecision = { allowed: true, wait: null, limit: 1000, remaining: 999, reset: 86_400, policy: 'user', window: 86_400 };
const burst: ThrottleDecision = { allowed: true, wait: null, limit: 60, remaining: 5, reset: 12.2, policy: 'burst', window: 60 };

function headers(decisions: ThrottleDecision[], mode: RateLimitHeaderMode, cache?: RateLimitHeaderCache): Record<string, string> {
  const written: Record<string, string> = {};
  writeRateLimitHeaders(
    (name, value) => {
      written[name] = value;
    },
    decisions,
    mode,
    cache,
  );
  return written;
}

describe('writeRateLimitHeaders', () => {
  test("'ietf': RateLimit-Policy and RateLimit, one structured-field item per policy", () => {
    expect(headers([user, burst], 'ietf')).toEqual({
      'ratelimit-policy': '"user";q=1000;w=86400, "burst";q=60;w=60',
      ratelimit: '"user";r=999;t=86400, "burst";r=5;t=13',
    });
  });

  test("'legacy': X-RateLimit-* for the most restrictive policy (fewest remaining)", () => {
    expect(headers([user, burst], 'legacy')).toEqual({ 'x-ratelimit-limit': '60', 'x-ratelimit-remaining': '5', 'x-ratelimit-reset': '13' });
  });

  test("'legacy': on equal remaining the later reset is the tighter one", () => {
    const a: ThrottleDecision = { allowed: false, wait: 1, limit: 3, remaining: 0, reset: 1, policy: 'sec', window: 1 };
    const b: ThrottleDecision = { allowed: false, wait: 59, limit: 6, remaining: 0, reset: 59, policy: 'min', window: 60 };
    expect(headers([a, b], 'legacy')).toEqual({ 'x-ratelimit-limit': '6', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '59' });
  });

  test("'both': the IETF and the legacy headers", () => {
    expect(headers([user, burst], 'both')).toEqual({
      'ratelimit-policy': '"user";q=1000;w=86400, "burst";q=60;w=60',
      ratelimit: '"user";r=999;t=86400, "burst";r=5;t=13',
      'x-ratelimit-limit': '60',
      'x-ratelimit-remaining': '5',
      'x-ratelimit-reset': '13',
    });
  });

  test('false: no headers', () => {
    expect(headers([user, burst], false)).toEqual({});
  });

  test('decisions that do not know their limit (custom throttles) are left out; none at all writes nothing', () => {
    expect(headers([ALLOWED, DENIED], 'both')).toEqual({});
    expect(headers([ALLOWED, burst], 'ietf')).toEqual({ 'ratelimit-policy': '"burst";q=60;w=60', ratelimit: '"burst";r=5;t=13' });
  });

  test('a policy without a name is named by position; quotes in names are escaped', () => {
    const nameless: ThrottleDecision = { allowed: true, wait: null, limit: 3, remaining: 2, reset: 1 };
    const quoted: ThrottleDecision = { ...nameless, policy: 'a"b' };
    expect(headers([ALLOWED, nameless, quoted], 'ietf')).toEqual({
      'ratelimit-policy': '"policy2";q=3, "a\\"b";q=3',
      ratelimit: '"policy2";r=2;t=1, "a\\"b";r=2;t=1',
    });
  });

  test('names are lower case, as HTTP/2 requires and Fastify writes them', () => {
    for (const name of Object.keys(headers([user, burst], 'both'))) expect(name).toBe(name.toLowerCase());
  });

  test("a route's cache follows a policy whose rate changes from one response to the next", () => {
    const cache = new RateLimitHeaderCache();
    expect(headers([user, burst], 'ietf', cache)['ratelimit-policy']).toBe('"user";q=1000;w=86400, "burst";q=60;w=60');
    const cheaper: ThrottleDecision = { ...burst, limit: 10, remaining: 9 };
    expect(headers([user, cheaper], 'ietf', cache)).toEqual({
      'ratelimit-policy': '"user";q=1000;w=86400, "burst";q=10;w=60',
      ratelimit: '"user";r=999;t=86400, "burst";r=9;t=13',
    });
    const renamed: ThrottleDecision = { ...burst, policy: 'spike', window: 1 };
    expect(headers([user, renamed], 'ietf', cache)['ratelimit-policy']).toBe('"user";q=1000;w=86400, "spike";q=60;w=1');
  });

  test("a shared cache notices a policy whose window alone changes", () => {
    const cache = new RateLimitHeaderCache();
    const perMinute: ThrottleDecision = { allowed: true, wait: null, limit: 10, remaining: 9, reset: 60, policy: 'a', window: 60 };
    expect(headers([perMinute], 'ietf', cache)['ratelimit-policy']).toBe('"a";q=10;w=60');
    expect(headers([{ ...perMinute, reset: 3600, window: 3600 }], 'ietf', cache)['ratelimit-policy']).toBe('"a";q=10;w=3600');
  });

  test("a shared cache notices a policy whose name alone changes, in both headers", () => {
    const cache = new RateLimitHeaderCache();
    const a: ThrottleDecision = { allowed: true, wait: null, limit: 10, remaining: 9, reset: 60, policy: 'a', window: 60 };
    headers([a], 'ietf', cache);
    expect(headers([{ ...a, policy: 'b' }], 'ietf', cache)).toEqual({ 'ratelimit-policy': '"b";q=10;w=60', ratelimit: '"b";r=9;t=60' });
  });

  test('a sub-second window is written rounded up to whole seconds', () => {
    const halfSecond: ThrottleDecision = { allowed: true, wait: null, limit: 10, remaining: 9, reset: 0.5, policy: 'tiny', window: 0.5 };
    expect(headers([halfSecond], 'ietf')).toEqual({ 'ratelimit-policy': '"tiny";q=10;w=1', ratelimit: '"tiny";r=9;t=1' });
  });

  test('a decision with a limit but no remaining count reports none remaining', () => {
    const unknownRemaining: ThrottleDecision = { allowed: false, wait: 5, limit: 10, reset: 5, policy: 'a', window: 60 };
    expect(headers([unknownRemaining], 'both')).toEqual({
      'ratelimit-policy': '"a";q=10;w=60',
      ratelimit: '"a";r=0;t=5',
      'x-ratelimit-limit': '10',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': '5',
    });
  });

  test("'legacy': on equal remaining the earlier reset is not the tighter one, and a full tie keeps the first", () => {
    const slow: ThrottleDecision = { allowed: true, wait: null, limit: 10, remaining: 5, reset: 60, policy: 'slow', window: 60 };
    const quick: ThrottleDecision = { allowed: true, wait: null, limit: 100, remaining: 5, reset: 30, policy: 'quick', window: 60 };
    expect(headers([slow, quick], 'legacy')['x-ratelimit-limit']).toBe('10');
    const twin: ThrottleDecision = { ...slow, limit: 20, policy: 'twin' };
    expect(headers([slow, twin], 'legacy')['x-ratelimit-limit']).toBe('10');
  });

  test("a route's cache follows a policy that stops or starts knowing its limit", () => {
    const cache = new RateLimitHeaderCache();
    expect(headers([ALLOWED, burst], 'ietf', cache)).toEqual({ 'ratelimit-policy': '"burst";q=60;w=60', ratelimit: '"burst";r=5;t=13' });
    expect(headers([user, burst], 'ietf', cache)).toEqual({
      'ratelimit-policy': '"user";q=1000;w=86400, "burst";q=60;w=60',
      ratelimit: '"user";r=999;t=86400, "burst";r=5;t=13',
    });
    expect(headers([user], 'ietf', cache)).toEqual({ 'ratelimit-policy': '"user";q=1000;w=86400', ratelimit: '"user";r=999;t=86400' });
  });

  test('the guard calls setHeader as a method of the sink, so a class-based transport binding keeps its this', () => {
    class RecordingBinding {
      readonly written = new Map<string, string>();
      setHeader(target: string, name: string, value: string): void {
        this.written.set(`${target}:${name}`, value);
      }
    }
    const binding = new RecordingBinding();
    emitRateLimitHeaders(binding, 'req1', [user, burst], 'ietf', new RateLimitHeaderCache());
    expect(Object.fromEntries(binding.written)).toEqual({
      'req1:ratelimit-policy': '"user";q=1000;w=86400, "burst";q=60;w=60',
      'req1:ratelimit': '"user";r=999;t=86400, "burst";r=5;t=13',
    });
  });
});

/**
 * RFC 9651's grammar, for the parts these headers use: a List of Items whose bare item is an
 * sf-string and whose parameters are integers.
 *   sf-string  = DQUOTE *( unescaped / "%" / bs-escaped ) DQUOTE
 *   unescaped  = %x20-21 / %x23-24 / %x26-5B / %x5D-7E ; bs-escaped = "\" ( DQUOTE / "\" )
 *   parameters = *( ";" *SP key [ "=" bare-item ] ) ; key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )
 *   sf-list    = list-member *( OWS "," OWS list-member )
 */
const SF_STRING = /^"(?:[\x20\x21\x23-\x5B\x5D-\x7E]|\\["\\])*"$/;
const SF_STRING_SOURCE = SF_STRING.source.slice(1, -1);
const SF_ITEM = `${SF_STRING_SOURCE}(?:; *[a-z*][a-z0-9_.*-]*=-?\\d{1,15})*`;
const SF_LIST = new RegExp(`^${SF_ITEM}(?:[ \\t]*,[ \\t]*${SF_ITEM})*$`);

/** The names of an sf-list's items, unescaped (the inverse of the backslash escapes only). */
function itemNames(list: string): string[] {
  return [...list.matchAll(new RegExp(SF_STRING_SOURCE, 'g'))].map(([quoted]) => quoted.slice(1, -1).replace(/\\(["\\])/g, '$1'));
}

describe('policy names are valid structured-field strings, whatever the scope', () => {
  const decision = (policy: string): ThrottleDecision => ({ allowed: true, wait: null, limit: 5, remaining: 4, reset: 60, policy, window: 60 });

  test('any string yields RateLimit and RateLimit-Policy values that are sf-lists of sf-strings of bounded length', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 50 }), (a, b) => {
        const written = headers([decision(a), decision(b)], 'ietf');
        for (const value of [written['ratelimit-policy'], written.ratelimit]) {
          expect(value).toMatch(SF_LIST);
          for (const name of itemNames(value)) expect(name.length).toBeLessThanOrEqual(64);
        }
      }),
      { numRuns: 500 },
    );
  });

  test('a name within the bound is reversible: unescape, then percent-decode', () => {
    // At most 5 code points of 4 UTF-8 bytes each, 60 characters encoded; lone surrogates have no UTF-8.
    const wellFormed = fc.string({ unit: 'binary', maxLength: 5 }).filter((name) => Buffer.from(name, 'utf8').toString('utf8') === name);
    fc.assert(
      fc.property(wellFormed, (name) => {
        const [encoded] = itemNames(headers([decision(name)], 'ietf')['ratelimit-policy']);
        expect(decodeURIComponent(encoded)).toBe(name);
      }),
      { numRuns: 500 },
    );
  });

  test.each([
    ['上传', '%E4%B8%8A%E4%BC%A0'],
    ['téléchargement', 't%C3%A9l%C3%A9chargement'],
    ['100%', '100%25'],
    ['a"b\\c', 'a\\"b\\\\c'],
    ['two words', 'two words'],
    ['tab\there\r\n\u0000\u007f', 'tab%09here%0D%0A%00%7F'],
  ])('%j is written as %j', (name, expected) => {
    expect(headers([decision(name)], 'ietf')['ratelimit-policy']).toBe(`"${expected}";q=5;w=60`);
  });

  test('a long name is shortened to a prefix and a hash of the whole name: two names that differ only at the end stay apart', () => {
    const a = headers([decision(`${'x'.repeat(1023)}a`)], 'ietf')['ratelimit-policy'];
    const b = headers([decision(`${'x'.repeat(1023)}b`)], 'ietf')['ratelimit-policy'];
    expect(a).toMatch(/^"x{55}~[0-9a-f]{8}";q=5;w=60$/);
    expect(b).toMatch(/^"x{55}~[0-9a-f]{8}";q=5;w=60$/);
    expect(a).not.toBe(b);
    expect(headers([decision(`${'x'.repeat(1023)}a`)], 'ietf')['ratelimit-policy']).toBe(a);
    // An escape is never cut in two.
    expect(headers([decision('上'.repeat(400))], 'ietf')['ratelimit-policy']).toMatch(/^"(?:%E4%B8%8A){6}~[0-9a-f]{8}";q=5;w=60$/);
  });

  test('a policy that is not a string (a custom throttle) is written as its text, not a crash', () => {
    expect(headers([{ ...decision('x'), policy: 42 as never }], 'ietf')['ratelimit-policy']).toBe('"42";q=5;w=60');
  });
});
