/**
 * Requests already throttled by some ThrottlingGuard or ThrottlingInterceptor.
 *
 * The module may be imported twice, and a user may also bind the guard with @UseGuards(): each
 * request must still be counted once. Weakly held, so a finished request is simply forgotten.
 */
const handled = new WeakSet<object>();

/** Marks the request and tells whether it was already marked. */
export function markHandled(request: object): boolean {
  if (handled.has(request)) return true;
  handled.add(request);
  return false;
}
