import { describe, expect, test } from '@jest/globals';
import { formatRate, parseRate, ThrottleConfigError } from '../../lib/index.js';

describe('parseRate accepts', () => {
  test.each([
    ['100/day', 100, 86_400_000],
    ['5/second', 5, 1_000],
    ['3/min', 3, 60_000],
    ['1000/hour', 1000, 3_600_000],
    ['60/m', 60, 60_000],
    ['10/5m', 10, 300_000],
    ['2/30s', 2, 30_000],
    ['500/1.5h', 500, 5_400_000],
    ['1/2-sec', 1, 2_000],
    ['7/2days', 7, 172_800_000],
    ['0/min', 0, 60_000],
    [' 4 / 10 s ', 4, 10_000],
  ])('%j as %d requests per %d ms', (input, limit, durationMs) => {
    expect(parseRate(input)).toEqual({ limit, durationMs });
  });

  test('any spelling of a unit (s/sec/second, m/min/minute, h/hr/hour, d/day), in any case', () => {
    expect(parseRate('3/Minutes')).toEqual({ limit: 3, durationMs: 60_000 });
    expect(parseRate('3/SEC')).toEqual({ limit: 3, durationMs: 1_000 });
    expect(parseRate('3/hr')).toEqual({ limit: 3, durationMs: 3_600_000 });
  });

  test('the plural short spellings secs, mins and hrs', () => {
    expect(parseRate('5/secs')).toEqual({ limit: 5, durationMs: 1_000 });
    expect(parseRate('5/mins')).toEqual({ limit: 5, durationMs: 60_000 });
    expect(parseRate('5/hrs')).toEqual({ limit: 5, durationMs: 3_600_000 });
  });

  test('a fractional period rounded to the nearest millisecond, not down', () => {
    expect(parseRate('1/0.0009s')).toEqual({ limit: 1, durationMs: 1 });
    expect(parseRate({ limit: 1, duration: 1.0006 })).toEqual({ limit: 1, durationMs: 1001 });
    // Half a millisecond is the shortest object duration that still makes a window.
    expect(parseRate({ limit: 1, duration: 0.0005 })).toEqual({ limit: 1, durationMs: 1 });
  });

  test('an object with a limit of 0 (every request refused), like the string form', () => {
    expect(parseRate({ limit: 0, duration: 1 })).toEqual({ limit: 0, durationMs: 1_000 });
  });

  test('an object { limit, duration } with the duration in seconds', () => {
    expect(parseRate({ limit: 5, duration: 10 })).toEqual({ limit: 5, durationMs: 10_000 });
    expect(parseRate({ limit: 1, duration: 0.5 })).toEqual({ limit: 1, durationMs: 500 });
  });

  test('null as switched off', () => {
    expect(parseRate(null)).toBeNull();
  });

  test('formatRate shows the window in seconds', () => {
    expect(formatRate(parseRate('10/5m')!)).toBe('10/300s');
  });
});

describe('parseRate rejects with an error quoting the bad value', () => {
  test.each(['100/dya', '100/month', '-1/min', '1.5/min', 'abc', '5/ms', '5/millisecond', '10/0s', '', '5/', '/min', '5/x'])('%j', (input) => {
    let caught: unknown;
    try {
      parseRate(input, 'rates.user');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ThrottleConfigError);
    expect((caught as Error).message).toContain(`'${input}'`);
    expect((caught as Error).message).toContain('rates.user');
  });

  test.each([
    [{ limit: -1, duration: 60 }, '-1'],
    [{ limit: 1.5, duration: 60 }, '1.5'],
    [{ limit: '3', duration: 60 }, '"3"'],
    [{ limit: 3, duration: 0 }, 'got 0'],
    [{ limit: 3, duration: -5 }, '-5'],
    [{ limit: 3, duration: Number.NaN }, '{"limit":3,"duration":NaN}: duration must be a number of seconds > 0, got NaN'],
  ])('the object %j', (input, quoted) => {
    expect(() => parseRate(input as never, 'rates.user')).toThrow(ThrottleConfigError);
    expect(() => parseRate(input as never, 'rates.user')).toThrow(quoted);
  });

  test('an object whose duration rounds to 0 ms, as the string form refuses a zero period', () => {
    expect(() => parseRate({ limit: 1, duration: 0.0004 }, 'rates.user')).toThrow(ThrottleConfigError);
    expect(() => parseRate({ limit: 1, duration: 0.0004 }, 'rates.user')).toThrow(
      'rates.user: invalid rate {"limit":1,"duration":0.0004}: duration rounds to 0 milliseconds, the period must be longer than zero, got 0.0004',
    );
  });

  test('a negative object limit, quoting the limit last', () => {
    expect(() => parseRate({ limit: -1, duration: 1 })).toThrow(/limit must be a non-negative integer, got -1$/);
  });

  // The generic test above only checks the quote; these pin that the message names the actual problem.
  test('milliseconds, saying they are not supported rather than an unknown unit', () => {
    expect(() => parseRate('10/ms')).toThrow(/'10\/ms': milliseconds are not a supported unit/);
    expect(() => parseRate('5/milliseconds')).toThrow(/'5\/milliseconds': milliseconds are not a supported unit/);
  });

  test('an unknown unit, quoting it as written', () => {
    expect(() => parseRate('5/Fortnight')).toThrow("unknown unit 'Fortnight'");
  });

  test('a request count too large to count exactly', () => {
    expect(() => parseRate('99999999999999999999/day')).toThrow(/'99999999999999999999\/day': the request count must be a non-negative integer/);
  });

  test('a zero period', () => {
    expect(() => parseRate('5/0s')).toThrow(/'5\/0s': the period must be longer than zero/);
  });

  test('something that is not a rate at all', () => {
    expect(() => parseRate(undefined, 'rates.user')).toThrow(/rates\.user: expected a rate .* got undefined/);
    expect(() => parseRate(42 as never, 'rates.user')).toThrow(/got 42/);
    expect(() => parseRate((() => 1) as never)).toThrow(/got an anonymous function$/);
  });
});
