import { describe, expect, test } from '@jest/globals';
import { idText } from '../../lib/core/id-text.js';
import type { ModuleRef } from '@nestjs/core';
import { createThrottlingSettings } from '../../lib/nest/module/throttling-settings.js';
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

  test('bigints inside a plain object, and objects without a prototype, are keyed by their JSON too', () => {
    expect(idText({ id: 12345678901234567890n })).toBe('{"id":"12345678901234567890"}');
    const bare = Object.assign(Object.create(null), { tenant: 'acme' });
    expect(idText(bare)).toBe('{"tenant":"acme"}');
    expect(idText([7, 'acme'])).toBe('[7,"acme"]');
  });

  test('an id that cannot tell callers apart is an error naming the fix, never one shared bucket', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const id of [cyclic, new Map([['a', 1]]), new Set([1])]) {
      expect(() => idText(id)).toThrow(/cannot tell callers apart; have the userId \(or rpcIdentity\) option return a string or a number/);
    }
    expect(() => idText(new Map())).toThrow('an id of type [object Map]');
  });
});

test("the HTTP context keys a user whose id is a plain object by that object, not by '[object Object]'", async () => {
  // The module's own settings: the userId reader's answer is turned into key text there, once for every transport.
  const settings = await createThrottlingSettings({}, {} as ModuleRef);
  const contextOf = (user: unknown) => httpRequestContext({ ip: '10.0.0.1', headers: {}, user }, undefined, undefined, settings);
  expect(contextOf({ id: { tenant: 'acme', user: 7 } }).userId).toBe('{"tenant":"acme","user":7}');
  expect(contextOf({ id: 7 }).userId).toBe('7');
  expect(contextOf(undefined).userId).toBeNull();
});
