import { describe, expect, test } from '@jest/globals';
import { idText } from '../../lib/core/id-text.js';
import { defaultUserId, type ThrottlingSettings } from '../../lib/index.js';
import { httpRequestContext } from '../../lib/nest/transports/http-transport.js';

/** Prints itself, as a MongoDB ObjectId does. */
class ObjectIdLike {
  constructor(private readonly hex: string) {}
  toString() {
    return this.hex;
  }
}

describe('an id as the text of its cache key', () => {
  test('strings as they are, numbers and bigints in decimal, no id as null', () => {
    expect(idText('alice')).toBe('alice');
    expect(idText(42)).toBe('42');
    expect(idText(12345678901234567890n)).toBe('12345678901234567890');
    expect(idText(null)).toBeNull();
    expect(idText(undefined)).toBeNull();
  });

  test('an object that prints itself is keyed by what it prints', () => {
    expect(idText(new ObjectIdLike('65f0c0ffee'))).toBe('65f0c0ffee');
  });

  test('plain objects are keyed by their JSON, so two users never share "[object Object]"', () => {
    expect(idText({ tenant: 'acme', user: 7 })).toBe('{"tenant":"acme","user":7}');
    expect(idText({ tenant: 'globex', user: 7 })).not.toBe(idText({ tenant: 'acme', user: 7 }));
  });

  test('an object JSON cannot write falls back to its printed form rather than failing the request', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(idText(cyclic)).toBe('[object Object]');
  });
});

test("the HTTP context keys a user whose id is a plain object by that object, not by '[object Object]'", () => {
  const settings = { userId: defaultUserId, numProxies: undefined } as unknown as ThrottlingSettings;
  const contextOf = (user: unknown) => httpRequestContext({ ip: '10.0.0.1', headers: {}, user }, undefined, undefined, settings);
  expect(contextOf({ id: { tenant: 'acme', user: 7 } }).userId).toBe('{"tenant":"acme","user":7}');
  expect(contextOf({ id: 7 }).userId).toBe('7');
  expect(contextOf(undefined).userId).toBeNull();
});
