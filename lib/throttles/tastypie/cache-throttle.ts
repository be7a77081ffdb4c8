import { Inject, Injectable } from '@nestjs/common';
import type { Awaitable, HitResult, WindowCheck } from '../../core/store.js';
import { isPromise } from '../evaluate-throttles.js';
import { ALLOWED, type ReservedDecision, type ThrottleContext, type ThrottleDecision } from '../throttle.js';
import { THROTTLING_RUNTIME, type ThrottlingRuntime } from '../throttling-runtime.js';
import { NoThrottle } from './no-throttle.js';

/**
 * Tastypie's CacheThrottle: the access times of each identifier in the module's store.
 *
 * A request is throttled when `throttleAt` accesses lie inside the last `timeframe` seconds; the
 * wait is the time until the `throttleAt`-th newest of them leaves the window. Checking records
 * nothing: `accessed()` records, after the handler succeeded, so failed requests are not counted.
 *
 * reserve() is the check that also holds a slot until commit() (the access, at its time) or
 * release(), or until `reservationTimeout`: the guard uses it on the after-success path and
 * ThrottlingService.attempt() by hand, so concurrent requests never pass more than `throttleAt`.
 * It reserves only on a store with settle() (every built-in one); on another it is check().
 */
@Injectable()
export class CacheThrottle extends NoThrottle {
  @Inject(THROTTLING_RUNTIME)
  protected readonly runtime!: ThrottlingRuntime;

  override shouldBeThrottled(identifier: string, ctx?: ThrottleContext): Awaitable<boolean | number> {
    const decision = this.check(identifier, ctx);
    return isPromise(decision) ? decision.then(toTastypieAnswer) : toTastypieAnswer(decision);
  }

  override check(identifier: string, _ctx?: ThrottleContext): Awaitable<ThrottleDecision> {
    const results = this.runtime.store.hit([this.windowCheck(identifier, false)]);
    return isPromise(results) ? results.then(([result]) => this.decide(result)) : this.decide(results[0]);
  }

  /** check(), holding a pending slot when allowed; settle it with commit() or release(). */
  reserve(identifier: string, _ctx?: ThrottleContext): Awaitable<ReservedDecision> {
    const store = this.runtime.store;
    const results = store.hit([this.windowCheck(identifier, typeof store.settle === 'function')]);
    return isPromise(results) ? results.then(([result]) => this.reserved(result)) : this.reserved(results[0]);
  }

  override accessed(identifier: string, ctx?: ThrottleContext): Awaitable<void> {
    return this.commit(identifier, null, ctx);
  }

  /** Records the access (at this time), turning the reservation into it; null: none was held. */
  commit(identifier: string, reservation: string | null, _ctx?: ThrottleContext): Awaitable<void> {
    const store = this.runtime.store;
    const access = { key: this.cacheKey(identifier), windowMs: this.timeframe * 1000, ttlMs: this.expiration * 1000 };
    if (reservation === null || store.settle === undefined) return store.record([access]);
    return store.settle([{ ...access, reservation, commit: true }]);
  }

  /** Frees the reservation without counting the request. */
  release(identifier: string, reservation: string | null, _ctx?: ThrottleContext): Awaitable<void> {
    const store = this.runtime.store;
    if (reservation === null || store.settle === undefined) return undefined;
    return store.settle([{ key: this.cacheKey(identifier), reservation, commit: false, windowMs: this.timeframe * 1000, ttlMs: this.expiration * 1000 }]);
  }

  /**
   * Whether reserve() stands for this throttle's check and accessed(): false for a subclass that
   * overrides either, which then keeps the check-then-record path it defines.
   */
  get reservesSlots(): boolean {
    return this.shouldBeThrottled === CacheThrottle.prototype.shouldBeThrottled && this.check === CacheThrottle.prototype.check && this.accessed === CacheThrottle.prototype.accessed;
  }

  private windowCheck(identifier: string, reserve: boolean): WindowCheck {
    const check: WindowCheck = { key: this.cacheKey(identifier), limit: this.throttleAt, windowMs: this.timeframe * 1000, record: false, ttlMs: this.expiration * 1000 };
    return reserve ? { ...check, reserveMs: this.reservationSeconds * 1000 } : check;
  }

  private reserved(result: HitResult): ReservedDecision {
    return { decision: this.decide(result), reservation: result.allowed ? (result.reservation ?? null) : null };
  }

  /** Forgets an identifier's accesses (e.g. after a successful login). */
  reset(identifier: string): Awaitable<void> {
    return this.runtime.store.reset(this.cacheKey(identifier));
  }

  private decide(result: HitResult): ThrottleDecision {
    const windowMs = this.timeframe * 1000;
    const window = this.timeframe;
    const policy = this.scope ?? 'tastypie';
    if (result.uncounted === true) return ALLOWED;
    if (result.allowed) {
      const reset = result.oldest === null ? window : (result.oldest + windowMs - result.now) / 1000;
      // The check records nothing: this request will be the (count + 1)-th access once it succeeds.
      return { allowed: true, wait: null, limit: this.throttleAt, remaining: Math.max(0, this.throttleAt - result.count - 1), reset, policy, window };
    }
    // throttleAt 0 shuts the door: no access will ever free a slot.
    if (this.throttleAt === 0) return { allowed: false, wait: null, limit: 0, remaining: 0, reset: window, policy, window };
    const blocking = result.blockingHit ?? result.oldest ?? result.now;
    // The window keeps accesses newer than now - timeframe, so at now + wait the blocking one has left.
    const wait = Math.max(0, (blocking + windowMs - result.now) / 1000);
    return { allowed: false, wait, limit: this.throttleAt, remaining: 0, reset: wait, policy, window };
  }
}

/** Tastypie's answer: false, or the seconds to wait (at least a millisecond, so it stays truthy). */
function toTastypieAnswer(decision: ThrottleDecision): boolean | number {
  if (decision.allowed) return false;
  return decision.wait === null ? true : Math.max(decision.wait, 0.001);
}
