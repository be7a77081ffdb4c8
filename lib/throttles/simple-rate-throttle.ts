import { Inject, Injectable, type Type } from '@nestjs/common';
import { boundedKeyPart } from '../core/bounded-key-part.js';
import { parseRate, type Rate, type RateInput } from '../core/rate.js';
import type { HitResult, WindowCheck } from '../core/store.js';
import { ThrottleConfigError } from '../core/throttle-config-error.js';
import { type ThrottleMode, validateThrottleMode } from '../core/throttle-mode.js';
import { slidingLogWait } from '../core/wait.js';
import { ALLOWED, type Throttle, type ThrottleContext, type ThrottleDecision } from './throttle.js';
import { THROTTLING_RUNTIME, type ThrottlingRuntime, whereToAdd } from './throttling-runtime.js';

/** What `.with()` may override on a rate throttle. */
export interface RateThrottleOverrides {
  readonly scope?: string;
  readonly rate?: RateInput;
  /** 'shadow': counted and reported, never denied (see the module's `mode`). */
  readonly mode?: ThrottleMode;
}

/**
 * DRF's SimpleRateThrottle: a sliding log of request times per cache key.
 *
 * Subclasses set `scope` (whose rate comes from the module's `rates`) or `rate` (which wins), and
 * implement `getCacheKey()`; returning null there means "do not throttle this request".
 * The guard batches every rate throttle of a request into one store call; a subclass that
 * overrides `allowRequest()` is called on its own instead.
 */
@Injectable()
export abstract class SimpleRateThrottle implements Throttle {
  /** The scope: names the rate in the module's `rates` and appears in cache keys and headers. */
  scope?: string;
  /** A rate fixed on the class; when set it wins over `rates[scope]`. */
  rate?: RateInput;
  /** This throttle's mode; unset, the module's `mode` applies (and `@ThrottleShadow()` beats both). */
  mode?: ThrottleMode;

  @Inject(THROTTLING_RUNTIME)
  protected readonly runtime!: ThrottlingRuntime;

  private parsedFrom: RateInput | undefined;
  private parsedRate: Rate | null = null;
  /** `throttle_<scope>_` for the scope last seen: spares building it on every request. */
  private keyPrefixScope: string | undefined;
  private keyPrefix = '';

  /** The bucket for this request, or null to let it through unthrottled. */
  abstract getCacheKey(ctx: ThrottleContext): string | null;

  /**
   * A configured variant without boilerplate: `UserThrottle.with({ scope: 'burst', rate: '60/min' })`
   * is a new class, resolved through DI like any other.
   */
  static with<T extends Type<SimpleRateThrottle>>(this: T, overrides: RateThrottleOverrides): T {
    const Base = this as unknown as new (...args: any[]) => { scope?: string; rate?: RateInput; mode?: ThrottleMode };
    const mode = validateThrottleMode(overrides.mode, `${Base.name}.with()`);
    const Variant = class extends Base {
      constructor(...args: any[]) {
        super(...args);
        if (overrides.scope !== undefined) this.scope = overrides.scope;
        if (overrides.rate !== undefined) this.rate = overrides.rate;
        if (mode !== undefined) this.mode = mode;
      }
    };
    const label = [overrides.scope, typeof overrides.rate === 'string' ? overrides.rate : undefined, mode === 'shadow' ? 'shadow' : undefined].filter(Boolean).join(', ');
    Object.defineProperty(Variant, 'name', { value: `${Base.name}(${label})` });
    // A variant given a rate but no scope counts in its base's keys: the boot's shared-key check reads this.
    Object.defineProperty(Variant, INHERITS_SCOPE, { value: overrides.scope === undefined });
    return Variant as unknown as T;
  }

  /** The scope this request is counted under. ScopedThrottle takes it from the route. */
  scopeFor(_ctx: ThrottleContext): string | undefined {
    return this.scope;
  }

  /**
   * The rate in force for a scope: the class's own `rate`, else `rates[scope]`.
   * Returns null when switched off; undefined when nothing configures it. Override it to pick a
   * rate per request (e.g. by the user's plan); `ctx` is absent when called at boot for validation.
   */
  rateFor(scope: string | undefined, _ctx?: ThrottleContext): Rate | null | undefined {
    if (this.rate !== undefined) {
      if (this.rate !== this.parsedFrom) {
        this.parsedRate = parseRate(this.rate, `${this.constructor.name}.rate`);
        this.parsedFrom = this.rate;
      }
      return this.parsedRate;
    }
    return scope === undefined ? undefined : this.runtime.rates.get(scope);
  }

  /** DRF's cache format: `throttle_<scope>_<ident>`, with over-long identities hashed. */
  protected formatKey(scope: string, ident: string): string {
    if (scope !== this.keyPrefixScope) {
      this.keyPrefix = `throttle_${scope}_`;
      this.keyPrefixScope = scope;
    }
    return this.keyPrefix + boundedKeyPart(ident);
  }

  /**
   * Checked at boot for every route that uses this throttle (and `scope` from `@ThrottleScope`):
   * throws a ThrottleConfigError naming the throttle, the scope and the bad value.
   */
  validate(routeScope: string | undefined, where: string): void {
    const scope = this.scopeOnRoute(routeScope);
    if (this.rate !== undefined) {
      this.rateFor(scope);
      return;
    }
    if (scope === undefined) {
      throw new ThrottleConfigError(`${where}: ${this.constructor.name} has neither a scope nor a rate: set one of them on the class, or use .with({ scope, rate })`);
    }
    if (!this.runtime.rates.has(scope)) {
      throw new ThrottleConfigError(
        `${where}: ${this.constructor.name} uses scope '${scope}', which has no rate: add it to ${whereToAdd(this.runtime.entryPoint, `rates: { ${scope}: '100/day' }`)} or set it to null to switch it off`,
      );
    }
  }

  /** The scope this throttle uses on a route; ScopedThrottle reads the route's scope. */
  scopeOnRoute(_routeScope: string | undefined): string | undefined {
    return this.scope;
  }

  /** The store check for this request, or null when the request is not throttled by this class. */
  planCheck(ctx: ThrottleContext): WindowCheck | null {
    const rate = this.rateFor(this.scopeFor(ctx), ctx);
    if (!rate) return null;
    const key = this.getCacheKey(ctx);
    if (key === null) return null;
    return { key, limit: rate.limit, windowMs: rate.durationMs, record: true };
  }

  /** DRF's throttle_success / throttle_failure, plus what headers need. */
  decide(check: WindowCheck, result: HitResult, ctx: ThrottleContext): ThrottleDecision {
    const { limit, windowMs } = check;
    const policy = this.scopeFor(ctx);
    const window = windowMs / 1000;
    if (!result.allowed) {
      const wait = slidingLogWait(limit, windowMs, result.count, result.oldest, result.now);
      const reset = result.oldest === null ? window : Math.max(0, (result.oldest + windowMs - result.now) / 1000);
      return { allowed: false, wait, limit, remaining: 0, reset, policy, window };
    }
    // The store let this through without counting (an outage under 'allow'): there is no quota to report.
    if (result.uncounted === true) return ALLOWED;
    const used = result.count + (check.record ? 1 : 0);
    const oldest = result.oldest ?? result.now;
    return { allowed: true, wait: null, limit, remaining: Math.max(0, limit - used), reset: (oldest + windowMs - result.now) / 1000, policy, window };
  }

  async allowRequest(ctx: ThrottleContext): Promise<boolean | ThrottleDecision> {
    const check = this.planCheck(ctx);
    if (check === null) return ALLOWED;
    const [result] = await this.runtime.store.hit([check]);
    return this.decide(check, result, ctx);
  }
}

/** On a `.with()` variant: true when it keeps its base class's scope (see SimpleRateThrottle.with). */
export const INHERITS_SCOPE = Symbol('nestjs-throttling:inherits-scope');

/** True when the throttle's allowRequest is the batched one, i.e. not overridden by a subclass. */
export function isBatchable(throttle: Throttle): throttle is SimpleRateThrottle {
  return throttle instanceof SimpleRateThrottle && throttle.allowRequest === SimpleRateThrottle.prototype.allowRequest;
}
