/**
 * How a configuration error quotes the value it refuses: strings in quotes, classes and functions by
 * name, class instances by their class, everything else as JSON. Never throws (cycles, BigInt).
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'function') return value.name ? `${value.name}` : 'an anonymous function';
  if (typeof value === 'string') return `'${value}'`;
  if (value === undefined) return 'undefined';
  if (typeof value === 'object' && value !== null && value.constructor !== Object && value.constructor !== Array) {
    return `an instance of ${value.constructor?.name ?? 'an unknown class'}`;
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
