import { Inject, Injectable } from '@nestjs/common';
import type { Awaitable, HitResult, WindowCheck } from '../../core/store.js';
import { isPromise } from '../evaluate-throttles.js';
import { ALLOWED, type ThrottleContext, type ThrottleDecision } from '../throttle.js';
import { THROTTLING_RUNTIME, type ThrottlingRuntime } from '../throttling-runtime.js';
import { NoThrottle } from './no-throttle.js';

/**
 * Tastypie's CacheThrottle: the access times of each identifier in the module's store.
 *
 * A request is throttled when `throttleAt` accesses lie inside the last `timeframe` seconds; the
 * wait is the time until the `throttleAt`-th newest of them leaves the window. Checking records
 * nothing: `accessed()` records, after the handler succeeded, so failed requests are not counted.
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
    const check: WindowCheck = { key: this.cacheKey(identifier), limit: this.throttleAt, windowMs: this.timeframe * 1000, record: false, ttlMs: this.expiration * 1000 };
    const results = this.runtime.store.hit([check]);
    return isPromise(results) ? results.then(([result]) => this.decide(result)) : this.decide(results[0]);
  }

  override accessed(identifier: string, _ctx?: ThrottleContext): Awaitable<void> {
    return this.runtime.store.record([{ key: this.cacheKey(identifier), windowMs: this.timeframe * 1000, ttlMs: this.expiration * 1000 }]);
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
