/**
 * Requests already throttled by some ThrottlingGuard or ThrottlingInterceptor.
 *
 * The module may be imported twice, and a user may also bind the guard with @UseGuards(): each
 * request must still be counted once. The mark is a symbol-keyed property on the request object:
 * invisible to JSON and for-in, gone with the request, and far cheaper for the garbage collector
 * than a WeakSet entry per request (an ephemeron it must trace on every scavenge). Objects that
 * cannot take a property (frozen) fall back to a WeakSet.
 */
const HANDLED = Symbol('nestjs-throttling:handled');
const handledFrozen = new WeakSet<object>();

/** Marks the request and tells whether it was already marked. */
export function markHandled(request: object): boolean {
  // A transport that hands over no object cannot be deduplicated: count the request rather than throw.
  if (request === null || (typeof request !== 'object' && typeof request !== 'function')) return false;
  const marked = request as { [HANDLED]?: true };
  if (marked[HANDLED] === true) return true;
  try {
    marked[HANDLED] = true;
    return false;
  } catch {
    // Frozen or sealed: this module's code is strict, so the write threw. Checking with
    // Object.isExtensible() first would cost a call into V8's runtime on every request instead.
  }
  if (handledFrozen.has(request)) return true;
  handledFrozen.add(request);
  return false;
}
