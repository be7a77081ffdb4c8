import type { Throttle, ThrottleContext } from '../throttles/throttle.js';

/** A request that passed its throttles and still owes them `accessed()` once its handler succeeds. */
export interface PendingAccess {
  readonly ctx: ThrottleContext;
  readonly throttles: readonly Throttle[];
}

/**
 * Filled by the enforcer for routes with an `accessed()` throttle, emptied by the access interceptor.
 * Keyed weakly by the transport's request token, so the guard's ThrottleContext is reused without
 * rebuilding it, and a request that never reaches its handler (401, 404) is simply forgotten.
 */
const pending = new WeakMap<object, PendingAccess>();

export function rememberAccess(token: object, access: PendingAccess): void {
  pending.set(token, access);
}

/** The pending access of a request, handed out once: a second interceptor finds nothing. */
export function takeAccess(token: object): PendingAccess | undefined {
  const access = pending.get(token);
  if (access !== undefined) pending.delete(token);
  return access;
}
