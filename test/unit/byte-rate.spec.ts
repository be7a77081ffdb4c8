import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { formatByteRate, parseByteRate } from '../../lib/core/byte-rate.js';
import { ThrottleConfigError } from '../../lib/core/throttle-config-error.js';

describe('parseByteRate', () => {
  test.each([
    ['100MB/day', 100_000_000, 86_400_000],
    ['512KB/min', 512_000, 60_000],
    ['512kB/min', 512_000, 60_000],
    ['512KiB/min', 524_288, 60_000],
    ['1.5GiB/hour', 1_610_612_736, 3_600_000],
    ['2TB/day', 2_000_000_000_000, 86_400_000],
    ['1TiB/2d', 1_099_511_627_776, 172_800_000],
    ['10MB/5m', 10_000_000, 300_000],
    ['0.5MB/30s', 500_000, 30_000],
    ['1000/min', 1000, 60_000],
    ['1000B/second', 1000, 1000],
    [' 20 MiB / 1.5h ', 20_971_520, 5_400_000],
  ])('reads %p as %p bytes per %p ms', (text, limit, durationMs) => {
    expect(parseByteRate(text)).toEqual({ limit, durationMs });
  });

  test('reads null as switched off and an object as bytes per seconds', () => {
    expect(parseByteRate(null)).toBeNull();
    expect(parseByteRate({ limit: 4096, duration: 60 })).toEqual({ limit: 4096, durationMs: 60_000 });
  });

  test.each([
    ['100XB/day', "bandwidth: invalid byte rate '100XB/day': unknown unit 'XB'; use B, kB or KB"],
    ['100mb/day', "unknown unit 'mb' (units are case-sensitive: 'b' would be bits, 'm' milli)"],
    ['100Mb/day', "unknown unit 'Mb' (units are case-sensitive"],
    ['100MB/dya', "bandwidth: invalid byte rate '100MB/dya': invalid period 'dya'"],
    ['100MB/0s', "invalid byte rate '100MB/0s': invalid period '0s'"],
    ['1.5B/s', "invalid byte rate '1.5B/s': 1.5 B is not a whole number of bytes"],
    ['MB/day', "invalid byte rate 'MB/day': expected '<amount><unit>/<period>'"],
    ['100MB', "invalid byte rate '100MB': expected"],
    ['-1MB/day', "invalid byte rate '-1MB/day'"],
    ['9PiB/day', "invalid byte rate '9PiB/day': more than 9007199254740991 bytes per period"],
  ])('refuses %p naming it', (text, message) => {
    expect(() => parseByteRate(text, 'bandwidth')).toThrow(ThrottleConfigError);
    expect(() => parseByteRate(text, 'bandwidth')).toThrow(message);
  });

  test('refuses what is not a byte rate, naming it', () => {
    expect(() => parseByteRate(42 as never, 'bandwidth')).toThrow("bandwidth: expected a byte rate such as '100MB/day' or { limit, duration }, got 42");
    expect(() => parseByteRate({ limit: -1, duration: 1 }, 'bandwidth')).toThrow('limit must be a non-negative integer, got -1');
  });
});

describe('formatByteRate', () => {
  test.each([
    [{ limit: 100_000_000, durationMs: 86_400_000 }, '100MB/day'],
    [{ limit: 1_610_612_736, durationMs: 3_600_000 }, '1536MiB/hour'],
    [{ limit: 3 * 1024 ** 3, durationMs: 7_200_000 }, '3GiB/2h'],
    [{ limit: 524_288, durationMs: 300_000 }, '512KiB/5m'],
    [{ limit: 1234, durationMs: 1500 }, '1234B/1.5s'],
  ])('writes %p as %p', (rate, text) => {
    expect(formatByteRate(rate)).toBe(text);
  });

  test('parseByteRate reads back what formatByteRate writes, for any rate', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
          fc.tuple(fc.integer({ min: 1, max: 4096 }), fc.constantFrom(1000, 1024, 1000 ** 3, 1024 ** 3, 1024 ** 4)).map(([n, unit]) => (n * unit) / (n % 2 === 0 ? 2 : 1)),
        ),
        fc.oneof(fc.integer({ min: 1, max: 10 ** 10 }), fc.integer({ min: 1, max: 400 }).map((n) => n * 60_000)),
        (limit, durationMs) => {
          expect(parseByteRate(formatByteRate({ limit, durationMs }))).toEqual({ limit, durationMs });
        },
      ),
      { numRuns: 2000 },
    );
  });
});
