/**
 * How a configuration error quotes the value it refuses: strings in quotes, classes and functions by
 * name, class instances by their class, numbers as JavaScript writes them (NaN, Infinity), everything
 * else as JSON. Never throws (cycles).
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'function') return value.name ? `${value.name}` : 'an anonymous function';
  if (typeof value === 'string') return `'${value}'`;
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' || typeof value === 'bigint') return numberText(value);
  if (typeof value === 'object' && value !== null && value.constructor !== Object && value.constructor !== Array) {
    return `an instance of ${value.constructor?.name ?? 'an unknown class'}`;
  }
  try {
    // JSON would write NaN and Infinity as null (pointing the user at the wrong mistake), and throws on a BigInt.
    return JSON.stringify(value, keepNumbers)?.replace(UNQUOTE, '$1') ?? String(value);
  } catch {
    return String(value);
  }
}

/** Marks a number JSON cannot write, so that it comes out bare, as JavaScript writes it. */
const MARK = '\u0000';
const UNQUOTE = /"\\u0000(.*?)\\u0000"/g;

function keepNumbers(_key: string, value: unknown): unknown {
  if ((typeof value === 'number' && !Number.isFinite(value)) || typeof value === 'bigint') return `${MARK}${numberText(value)}${MARK}`;
  return value;
}

function numberText(value: number | bigint): string {
  return typeof value === 'bigint' ? `${value}n` : Object.is(value, -0) ? '-0' : String(value);
}
