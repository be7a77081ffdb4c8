/**
 * An id (a user's, or the identity an rpc message carries) as the text that goes into cache keys:
 * a string as it is, a number or a bigint in decimal, an object that prints itself (a MongoDB
 * ObjectId, a UUID class) by its own toString(). A plain object would print as "[object Object]"
 * and put every caller in one bucket, so it is written as JSON instead. Null when there is no id.
 */
export function idText(id: unknown): string | null {
  if (id === null || id === undefined) return null;
  if (typeof id === 'string') return id;
  if (typeof id !== 'object') return String(id);
  const printed = String(id);
  if (printed !== '[object Object]') return printed;
  try {
    return JSON.stringify(id);
  } catch {
    // Cyclic or holding a bigint: nothing better to tell users apart by.
    return printed;
  }
}
