import { describeValue } from './describe-value.js';
import { parseRate, type Rate } from './rate.js';
import { ThrottleConfigError } from './throttle-config-error.js';

/**
 * What users may write for a byte budget (BandwidthThrottle):
 * - `'<amount><unit>/<period>'`: `'100MB/day'`, `'512KB/min'`, `'1.5GiB/hour'`, `'10MB/5m'`, with
 *   the periods parseRate() knows (s/sec/second, m/min/minute, h/hr/hour, d/day, plurals, counts
 *   such as `5m` or `1.5h`);
 * - a plain count of bytes: `'1000/min'`, `'1000B/min'`;
 * - an object `{ limit, duration }`: limit in bytes, duration in seconds;
 * - `null`: switched off.
 *
 * Units are case-sensitive and read as their standards define them (SI, IEC 80000-13):
 * kB = KB = 1000 B, MB = 1000^2, GB = 1000^3, TB = 1000^4, PB = 1000^5 (KB is read as kB: a
 * capital K has no other meaning, and reading it as 1024 like some tools would make 'MB' ambiguous);
 * KiB = 1024 B, MiB = 1024^2, GiB = 1024^3, TiB = 1024^4, PiB = 1024^5. A lower-case 'b' (bits)
 * or 'm' (milli) is refused rather than guessed.
 */
export type ByteRateInput = string | { readonly limit: number; readonly duration: number } | null;

/** Bytes per unit, the standard spellings only. */
export const BYTE_UNITS: Readonly<Record<string, number>> = {
  B: 1,
  kB: 1000,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  TB: 1000 ** 4,
  PB: 1000 ** 5,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
  PiB: 1024 ** 5,
};

const UNIT_LIST = 'B, kB or KB, MB, GB, TB, PB (powers of 1000) or KiB, MiB, GiB, TiB, PiB (powers of 1024)';

// <amount, decimals allowed><optional unit>/<period as parseRate reads it>
const BYTE_RATE_PATTERN = /^\s*(\d+)(?:\.(\d+))?\s*([a-zA-Z]*)\s*\/\s*(\S(?:.*\S)?)\s*$/;

/**
 * Parses a byte rate into a Rate whose limit is in bytes. Returns null for null (switched off).
 * Throws a ThrottleConfigError that quotes the bad value otherwise.
 */
export function parseByteRate(input: ByteRateInput | undefined, where = 'rate'): Rate | null {
  if (input === null) return null;
  if (typeof input === 'object' && input !== undefined) return parseRate(input, where);
  if (typeof input !== 'string') {
    throw new ThrottleConfigError(`${where}: expected a byte rate such as '100MB/day' or { limit, duration }, got ${describeValue(input)}`);
  }
  const match = BYTE_RATE_PATTERN.exec(input);
  if (!match) {
    throw new ThrottleConfigError(`${where}: invalid byte rate '${input}': expected '<amount><unit>/<period>' such as '100MB/day', '512KB/min' or '1.5GiB/hour'`);
  }
  const [, wholeText, fractionText = '', unitText, periodText] = match;
  const unitBytes = unitText === '' ? 1 : BYTE_UNITS[unitText];
  if (unitBytes === undefined) {
    const hint = BYTE_UNITS[unitText.replace(/b$/, 'B').replace(/^m/, 'M').replace(/^k(?=i)/, 'K')] === undefined ? '' : ` (units are case-sensitive: 'b' would be bits, 'm' milli)`;
    throw new ThrottleConfigError(`${where}: invalid byte rate '${input}': unknown unit '${unitText}'${hint}; use ${UNIT_LIST}`);
  }
  // Exactly, in integers: 1.1 x 1000 in floating point is not 1100.
  const scale = 10n ** BigInt(fractionText.length);
  const scaled = (BigInt(wholeText) * scale + BigInt(fractionText || '0')) * BigInt(unitBytes);
  if (scaled % scale !== 0n) {
    throw new ThrottleConfigError(`${where}: invalid byte rate '${input}': ${wholeText}.${fractionText} ${unitText} is not a whole number of bytes`);
  }
  const bytes = scaled / scale;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ThrottleConfigError(`${where}: invalid byte rate '${input}': more than ${Number.MAX_SAFE_INTEGER} bytes per period`);
  }
  return { limit: Number(bytes), durationMs: periodMs(periodText, input, where) };
}

/** The period, read by parseRate() (one place for periods), its errors quoting the byte rate. */
function periodMs(periodText: string, input: string, where: string): number {
  try {
    return parseRate(`1/${periodText}`, where)!.durationMs;
  } catch (error) {
    if (!(error instanceof ThrottleConfigError)) throw error;
    throw new ThrottleConfigError(`${where}: invalid byte rate '${input}': invalid period '${periodText}': use a count of s, m, h or d such as 'day', 'min', '5m' or '1.5h'`);
  }
}

const FORMAT_UNITS: readonly (readonly [string, number])[] = Object.entries(BYTE_UNITS)
  .filter(([unit]) => unit !== 'kB')
  .sort((a, b) => b[1] - a[1]);

const FORMAT_PERIODS: readonly (readonly [number, string, string])[] = [
  [86_400_000, 'day', 'd'],
  [3_600_000, 'hour', 'h'],
  [60_000, 'min', 'm'],
  [1000, 'second', 's'],
];

/** A byte rate as users write it, in the largest unit that divides it: `100MB/day`, `1536MiB/hour` (parseByteRate reads it back). */
export function formatByteRate(rate: Rate): string {
  const [unit, size] = FORMAT_UNITS.find(([, size]) => rate.limit % size === 0 && rate.limit >= size) ?? ['B', 1];
  return `${rate.limit / size}${unit}/${formatPeriod(rate.durationMs)}`;
}

function formatPeriod(durationMs: number): string {
  for (const [size, word, letter] of FORMAT_PERIODS) {
    if (durationMs % size === 0) return durationMs === size ? word : `${durationMs / size}${letter}`;
  }
  return `${durationMs / 1000}s`;
}
