/**
 * An id (a user's, or the identity an rpc message carries) as the text that goes into cache keys:
 *
 * - a string as it is, a number or a bigint in decimal;
 * - an object that prints itself (a MongoDB ObjectId, a UUID class) by its own toString();
 * - a plain object or an array as JSON (bigints in decimal): printed, it would read
 *   "[object Object]" and put every caller in one bucket.
 *
 * Null when there is no id. Anything else (a Map, a cyclic object) cannot tell callers apart, so it
 * is an error that names the fix, rather than one bucket shared by everyone.
 */
export function idText(id: unknown): string | null {
  if (id === null || id === undefined) return null;
  if (typeof id === 'string') return id;
  if (typeof id !== 'object' && typeof id !== 'function') return String(id);
  // An array prints its items joined by commas, which two different arrays can share.
  const printed = Array.isArray(id) ? undefined : ownPrintedForm(id);
  if (printed !== undefined) return printed;
  const json = isPlainData(id) ? jsonOf(id) : undefined;
  if (json !== undefined) return json;
  throw new TypeError(
    `nestjs-throttling: an id of type ${Object.prototype.toString.call(id)} cannot tell callers apart; ` +
      'have the userId (or rpcIdentity) option return a string or a number',
  );
}

/** What the object's own toString() gives, unless that is the generic "[object Tag]". */
function ownPrintedForm(id: object): string | undefined {
  try {
    const text = String(id);
    return /^\[object [^\]]*\]$/.test(text) ? undefined : text;
  } catch {
    // No toString at all (a null-prototype object).
    return undefined;
  }
}

function isPlainData(id: object): boolean {
  const prototype = Object.getPrototypeOf(id);
  return Array.isArray(id) || prototype === Object.prototype || prototype === null;
}

function jsonOf(id: object): string | undefined {
  try {
    return JSON.stringify(id, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  } catch {
    // Cyclic.
    return undefined;
  }
}
