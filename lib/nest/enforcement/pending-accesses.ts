import type { Awaitable } from '../../core/store.js';
import { type Evaluation, settleEvaluation } from '../../throttles/evaluate-throttles.js';
import type { Throttle, ThrottleContext } from '../../throttles/throttle.js';

/**
 * A request that passed its throttles and still owes them its outcome: commit once its handler
 * succeeded (accessed(), or the reservation its check holds becomes the access), release otherwise.
 */
export interface PendingAccess {
  readonly ctx: ThrottleContext;
  /** The route's throttles, in the order of `reservations`. */
  readonly throttles: readonly Throttle[];
  readonly reservations?: Evaluation['reservations'];
}

/**
 * Filled by the enforcer for routes with an `accessed()` throttle, emptied by the access interceptor.
 * Held on the transport's request token under a symbol, as handled-requests.ts marks it: the state
 * lives and dies with its request, whichever app, module copy or interceptor instance handles it,
 * and the guard's ThrottleContext is reused without rebuilding it. A request that never reaches its
 * handler (401, 404) is simply forgotten. Frozen tokens, which take no property, fall back to a
 * WeakMap keyed by the token itself.
 */
const PENDING = Symbol('nestjs-throttling:pending-access');
const pendingOfFrozen = new WeakMap<object, PendingAccess>();

type Holder = { [PENDING]?: PendingAccess | undefined };

/** Set on a token by the access interceptor: the handler's outcome settles that request. */
const INTERCEPTED = Symbol('nestjs-throttling:intercepted');

export function rememberAccess(token: object, access: PendingAccess): void {
  try {
    (token as Holder)[PENDING] = access;
  } catch {
    // Frozen or sealed (this module is strict, so the write threw).
    pendingOfFrozen.set(token, access);
  }
}

/** The pending access of a request, handed out once: a second interceptor finds nothing. */
export function takeAccess(token: object): PendingAccess | undefined {
  const holder = token as Holder;
  const access = holder[PENDING];
  if (access !== undefined) {
    holder[PENDING] = undefined;
    return access;
  }
  const frozen = pendingOfFrozen.get(token);
  if (frozen !== undefined) pendingOfFrozen.delete(token);
  return frozen;
}

/** Settles a request's access (see PendingAccess). */
export function settleAccess({ ctx, throttles, reservations }: PendingAccess, commit: boolean): Awaitable<void> {
  return settleEvaluation(throttles, ctx, reservations, commit);
}

/** Marks the request as run by the access interceptor, which then settles it whatever happens. */
export function markIntercepted(token: object): void {
  try {
    (token as { [INTERCEPTED]?: true })[INTERCEPTED] = true;
  } catch {
    // A frozen token: the response's end may release it before the interceptor commits; rare, and
    // the only cost is a request not counted.
  }
}

/**
 * At the end of a response: a request the access interceptor never saw (a later guard refused it)
 * releases its reservations now instead of holding them until they expire.
 */
export function releaseUnhandled(token: object): void {
  if ((token as { [INTERCEPTED]?: true })[INTERCEPTED] === true) return;
  const access = takeAccess(token);
  if (access === undefined) return;
  try {
    const released = settleAccess(access, false);
    if (released !== undefined) released.catch(ignore);
  } catch {
    // A release that fails leaves the slot to expire on its own.
  }
}

function ignore(): void {}
