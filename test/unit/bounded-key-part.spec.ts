import { createHash } from 'node:crypto';
import { describe, expect, test } from '@jest/globals';
import { boundedKeyPart } from '../../lib/core/bounded-key-part.js';
import { AnonThrottle, type ThrottleContext } from '../../lib/index.js';

/** Only what AnonThrottle.getCacheKey() reads. */
const anonymous = (ident: string) => ({ userId: null, ident }) as unknown as ThrottleContext;

describe('boundedKeyPart (no client chooses how large its key gets)', () => {
  test('keeps an identity of up to 64 characters verbatim', () => {
    const ident = 'a'.repeat(64);
    expect(boundedKeyPart(ident)).toBe(ident);
    expect(boundedKeyPart('1.2.3.4')).toBe('1.2.3.4');
  });

  test('replaces a 65-character identity by sha256: and its base64url digest, 43 characters', () => {
    const ident = 'a'.repeat(65);
    const part = boundedKeyPart(ident);
    expect(part).toBe(`sha256:${createHash('sha256').update(ident).digest('base64url')}`);
    expect(part).toMatch(/^sha256:[A-Za-z0-9_-]{43}$/);
  });

  test('a throttle key keeps a 64-character identity and hashes a longer one to a fixed length', () => {
    const throttle = new AnonThrottle();
    const short = 'b'.repeat(64);
    expect(throttle.getCacheKey(anonymous(short))).toBe(`throttle_anon_${short}`);
    expect(throttle.getCacheKey(anonymous('b'.repeat(100)))).toMatch(/^throttle_anon_sha256:[A-Za-z0-9_-]{43}$/);
    // Still one bucket per client: a different long identity gets a different key.
    expect(throttle.getCacheKey(anonymous('c'.repeat(100)))).not.toBe(throttle.getCacheKey(anonymous('b'.repeat(100))));
  });
});
