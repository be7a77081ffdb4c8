import { describe, expect, test } from '@jest/globals';
import { markHandled } from '../../lib/nest/enforcement/handled-requests.js';

describe('a request is counted once however many guards see it', () => {
  test('the first mark says "new", every later one "already handled"', () => {
    const request = { url: '/' };
    expect(markHandled(request)).toBe(false);
    expect(markHandled(request)).toBe(true);
    expect(markHandled(request)).toBe(true);
    expect(markHandled({ url: '/' })).toBe(false);
  });

  test('the mark does not show in JSON or in the object keys', () => {
    const request = { url: '/' };
    markHandled(request);
    expect(JSON.stringify(request)).toBe('{"url":"/"}');
    expect(Object.keys(request)).toEqual(['url']);
  });

  test('a frozen request is remembered all the same', () => {
    const request = Object.freeze({ url: '/' });
    expect(markHandled(request)).toBe(false);
    expect(markHandled(request)).toBe(true);
  });

  test('a sealed request, or one whose proxy refuses the mark, is remembered all the same', () => {
    const sealed = Object.seal({ url: '/' });
    const refusing = new Proxy({ url: '/' }, { set: () => false, defineProperty: () => false });
    for (const request of [sealed, refusing]) {
      expect(markHandled(request)).toBe(false);
      expect(markHandled(request)).toBe(true);
    }
  });

  test('a function token is marked like an object', () => {
    const token = () => undefined;
    expect(markHandled(token)).toBe(false);
    expect(markHandled(token)).toBe(true);
  });

  test('something that is not an object is counted every time instead of throwing', () => {
    expect(markHandled('payload' as unknown as object)).toBe(false);
    expect(markHandled('payload' as unknown as object)).toBe(false);
    expect(markHandled(null as unknown as object)).toBe(false);
  });
});
