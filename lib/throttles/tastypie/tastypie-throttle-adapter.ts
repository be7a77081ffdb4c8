import type { Awaitable } from '../../core/store.js';
import { isPromise } from '../evaluate-throttles.js';
import { ALLOWED, DENIED, type ReservedDecision, type Throttle, type ThrottleContext, type ThrottleDecision } from '../throttle.js';
import { recordsAfterHandler } from '../records-after-handler.js';
import { type NoThrottle, type TastypieStyleThrottle, tastypieIdentifier } from './no-throttle.js';

/** What CacheThrottle adds to Tastypie's shape for reservations. */
interface ReservingThrottle {
  readonly reservesSlots: boolean;
  reserve(identifier: string, ctx?: ThrottleContext): Awaitable<ReservedDecision>;
  commit(identifier: string, reservation: string | null, ctx?: ThrottleContext): Awaitable<void>;
  release(identifier: string, reservation: string | null, ctx?: ThrottleContext): Awaitable<void>;
}

/** True for a class whose instances have Tastypie's shouldBeThrottled/accessed and no allowRequest. */
export function isTastypieStyleClass(candidate: unknown): boolean {
  const prototype = typeof candidate === 'function' ? (candidate as { prototype?: Record<string, unknown> }).prototype : undefined;
  return typeof prototype?.shouldBeThrottled === 'function' && typeof prototype.accessed === 'function' && typeof prototype.allowRequest !== 'function';
}

/**
 * Runs a Tastypie-style throttle as a Throttle: the identifier comes from the request (the
 * throttle's identifierFor(), else the username, the user's id or the client address), `shouldBeThrottled`
 * becomes allowRequest and `accessed(identifier, ctx)` becomes accessed(ctx).
 */
export class TastypieThrottleAdapter implements Throttle {
  /** Present only when the throttle records something, so routes without it skip the interceptor. */
  readonly accessed?: (ctx: ThrottleContext) => Awaitable<void>;
  /** Present only for throttles that reserve (CacheThrottle, CacheDBThrottle); others keep check-then-accessed. */
  readonly reserve?: (ctx: ThrottleContext) => Awaitable<ReservedDecision>;
  readonly settle?: (ctx: ThrottleContext, reservation: string | null, commit: boolean) => Awaitable<void>;

  constructor(readonly inner: TastypieStyleThrottle & Partial<Pick<NoThrottle, 'identifierFor' | 'check'>> & Partial<ReservingThrottle>) {
    if (recordsAfterHandler(inner.accessed)) {
      this.accessed = (ctx) => inner.accessed(this.identifierFor(ctx), ctx);
    }
    if (inner.reservesSlots === true && typeof inner.reserve === 'function' && typeof inner.commit === 'function' && typeof inner.release === 'function') {
      const reserving = inner as ReservingThrottle;
      this.reserve = (ctx) => reserving.reserve(this.identifierFor(ctx), ctx);
      this.settle = (ctx, reservation, commit) => (commit ? reserving.commit : reserving.release).call(reserving, this.identifierFor(ctx), reservation, ctx);
    }
  }

  identifierFor(ctx: ThrottleContext): string {
    return typeof this.inner.identifierFor === 'function' ? this.inner.identifierFor(ctx) : tastypieIdentifier(ctx);
  }

  allowRequest(ctx: ThrottleContext): Awaitable<boolean | ThrottleDecision> {
    const identifier = this.identifierFor(ctx);
    if (typeof this.inner.check === 'function') return this.inner.check(identifier, ctx);
    const answer = this.inner.shouldBeThrottled(identifier, ctx);
    return isPromise(answer) ? answer.then(fromTastypieAnswer) : fromTastypieAnswer(answer);
  }
}

/**
 * Tastypie's truthiness, as Python has it: false, 0, null, undefined and '' let through; anything
 * else throttles. A finite n > 0 is the wait in seconds; any other answer (true, Infinity, a negative
 * number, NaN, which Python counts as true, a string) throttles with no known wait, so no
 * Retry-After. A throttle that answers something odd fails closed, never open.
 */
export function fromTastypieAnswer(answer: boolean | number | null | undefined): ThrottleDecision {
  if (answer === false || answer === 0 || answer === null || answer === undefined || (answer as unknown) === '') return ALLOWED;
  if (typeof answer === 'number' && answer > 0 && Number.isFinite(answer)) return { allowed: false, wait: answer };
  return DENIED;
}

/**
 * The Throttle to run for a freshly resolved throttle instance: Tastypie-style ones are checked
 * (throttleAt, timeframe, an access log for CacheDBThrottle) and adapted.
 */
export function prepareThrottle(instance: unknown, where: string): Throttle {
  const ready = (instance as { assertReady?: (where: string) => void }).assertReady;
  if (typeof ready === 'function') ready.call(instance, where);
  return asThrottle(instance);
}

/** The Throttle to run for a throttle instance: Tastypie-style ones are adapted. */
export function asThrottle(instance: unknown): Throttle {
  const candidate = instance as Partial<Throttle & TastypieStyleThrottle>;
  if (typeof candidate.allowRequest === 'function') return candidate as Throttle;
  return new TastypieThrottleAdapter(candidate as TastypieStyleThrottle);
}
