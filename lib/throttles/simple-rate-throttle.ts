import { Inject, Injectable, type Type } from '@nestjs/common';
import { boundedKeyPart } from '../core/bounded-key-part.js';
import { checkedCost, type AlgorithmOutcome } from '../core/algorithms/algorithm-outcome.js';
import { parseRate, type Rate, type RateInput } from '../core/rate.js';
import type { CountingAlgorithm, HitResult, PeekCounting, WindowCheck } from '../core/store.js';
import { ThrottleConfigError } from '../core/throttle-config-error.js';
import { type ThrottleMode, validateThrottleMode } from '../core/throttle-mode.js';
import { slidingLogWait } from '../core/wait.js';
import { blockMsOf, type CountingOptions, policyWindowSeconds, type ThrottleCostOption, validateCostFits, validateCountingOptions } from './counting-options.js';
import { ALLOWED, type Throttle, type ThrottleContext, type ThrottleDecision } from './throttle.js';
import { THROTTLING_RUNTIME, type ThrottlingRuntime, whereToAdd } from './throttling-runtime.js';

/** What `.with()` may override on a rate throttle: its scope and rate, its mode, and how it counts. */
export interface RateThrottleOverrides extends CountingOptions {
  readonly scope?: string;
  readonly rate?: RateInput;
  /** 'shadow': counted and reported, never denied (see the module's `mode`). */
  readonly mode?: ThrottleMode;
}

/** Where a throttle counts a request, whatever the request costs (ThrottlingService's peek, buckets, penalize). */
export interface RateBucket {
  readonly key: string;
  readonly limit: number;
  readonly windowMs: number;
  /** How the key counts, for peek() and record(): absent for a sliding log. */
  readonly counting?: PeekCounting;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * DRF's SimpleRateThrottle: a sliding log of request times per cache key, unless `algorithm` (or
 * the module's) picks a counter (docs/algorithms.md).
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
  /** How keys count; unset, the module's `algorithm` (default 'sliding-log', DRF's exact log). */
  algorithm?: CountingAlgorithm;
  /** gcra only: requests (units) admitted at once on an idle key; unset, the rate's limit. */
  burst?: number;
  /**
   * Units one request takes: a positive integer, or `(ctx) => number` checked on every request. It
   * beats the route's `@ThrottleCost`. Set (even to 1), the request's checks are all or nothing.
   */
  cost?: ThrottleCostOption;
  /** Seconds a client stays refused once this throttle denies it (brute force); 0 or unset: none. */
  blockFor?: number;

  @Inject(THROTTLING_RUNTIME)
  protected readonly runtime!: ThrottlingRuntime;

  private parsedFrom: RateInput | undefined;
  private parsedRate: Rate | null = null;
  /** `throttle_<scope>_` for the scope last seen: spares building it on every request. */
  private keyPrefixScope: string | undefined;
  private keyPrefix = '';
  /** `<class>.cost`, for the error of a cost function that returns no positive integer; built once. */
  private costLabel: string | undefined;

  /** The bucket for this request, or null to let it through unthrottled. */
  abstract getCacheKey(ctx: ThrottleContext): string | null;

  /**
   * A configured variant without boilerplate: `UserThrottle.with({ scope: 'burst', rate: '60/min' })`
   * is a new class, resolved through DI like any other.
   */
  static with<T extends Type<SimpleRateThrottle>>(this: T, overrides: RateThrottleOverrides): T {
    const Base = this as unknown as new (...args: any[]) => Pick<SimpleRateThrottle, 'scope' | 'rate' | 'mode' | keyof CountingOptions>;
    const mode = validateThrottleMode(overrides.mode, `${Base.name}.with()`);
    // algorithm, burst, cost and blockFor are checked at boot, naming the route (see validate()).
    const { scope, rate, algorithm, burst, cost, blockFor } = overrides;
    const Variant = class extends Base {
      constructor(...args: any[]) {
        super(...args);
        if (scope !== undefined) this.scope = scope;
        if (rate !== undefined) this.rate = rate;
        if (mode !== undefined) this.mode = mode;
        if (algorithm !== undefined) this.algorithm = algorithm;
        if (burst !== undefined) this.burst = burst;
        if (cost !== undefined) this.cost = cost;
        if (blockFor !== undefined) this.blockFor = blockFor;
      }
    };
    const shown = [scope, typeof rate === 'string' ? rate : undefined, typeof algorithm === 'string' ? algorithm : undefined, mode === 'shadow' ? 'shadow' : undefined];
    const label = shown.filter(Boolean).join(', ');
    Object.defineProperty(Variant, 'name', { value: `${Base.name}(${label})` });
    // A variant given a rate but no scope counts in its base's keys: the boot's shared-key check reads this.
    Object.defineProperty(Variant, INHERITS_SCOPE, { value: scope === undefined });
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
   * Checked at boot for every route that uses this throttle (and `scope` from `@ThrottleScope`,
   * `routeCost` from `@ThrottleCost`): throws a ThrottleConfigError naming the throttle, the scope
   * and the bad value.
   */
  validate(routeScope: string | undefined, where: string, routeCost?: number): void {
    this.validateCounting(where);
    const scope = this.scopeOnRoute(routeScope);
    if (this.rate !== undefined) {
      this.rateFor(scope);
    } else {
      if (scope === undefined) {
        throw new ThrottleConfigError(`${where}: ${this.constructor.name} has neither a scope nor a rate: set one of them on the class, or use .with({ scope, rate })`);
      }
      if (!this.runtime.rates.has(scope)) {
        throw new ThrottleConfigError(
          `${where}: ${this.constructor.name} uses scope '${scope}', which has no rate: add it to ${whereToAdd(this.runtime.entryPoint, `rates: { ${scope}: '100/day' }`)} or set it to null to switch it off`,
        );
      }
    }
    // A rate picked per request (rateFor overridden) is not known here: a cost above it is refused then, with no wait.
    if (this.rateFor !== SimpleRateThrottle.prototype.rateFor) return;
    const rate = this.rateFor(scope);
    if (!rate) return;
    const fixedCost = typeof this.cost === 'number' ? this.cost : this.cost === undefined ? routeCost : undefined;
    if (fixedCost === undefined) return;
    const costText = this.cost === undefined ? `the route's @ThrottleCost(${fixedCost})` : `cost ${fixedCost}`;
    validateCostFits(fixedCost, costText, rate, this.countingAlgorithm(), this.burst, `${where}: ${this.constructor.name}${scope === undefined ? '' : `, scope '${scope}'`}`);
  }

  /** The checks of algorithm, burst, cost and blockFor that need no rate (see counting-options.ts). */
  protected validateCounting(where: string): void {
    validateCountingOptions(this, this.countingAlgorithm(), `${where}: ${this.constructor.name}`);
  }

  /** The algorithm this throttle counts with: its own, else the module's, else DRF's sliding log. */
  countingAlgorithm(): CountingAlgorithm {
    return this.algorithm ?? this.runtime?.algorithm ?? 'sliding-log';
  }

  /** The scope this throttle uses on a route; ScopedThrottle reads the route's scope. */
  scopeOnRoute(_routeScope: string | undefined): string | undefined {
    return this.scope;
  }

  /**
   * The store check for this request, or null when the request is not throttled by this class.
   * A plain DRF request (sliding log, no cost, no blockFor) gets exactly DRF's check; the others
   * carry only the fields that differ from the defaults.
   */
  planCheck(ctx: ThrottleContext): WindowCheck | null {
    const rate = this.rateFor(this.scopeFor(ctx), ctx);
    if (!rate) return null;
    const key = this.getCacheKey(ctx);
    if (key === null) return null;
    const algorithm = this.countingAlgorithm();
    const hasCost = this.cost !== undefined || ctx.cost !== undefined;
    const blocks = this.blockFor !== undefined && this.blockFor > 0;
    if (algorithm === 'sliding-log' && !hasCost && !blocks) return { key, limit: rate.limit, windowMs: rate.durationMs, record: true };
    const check: Writable<WindowCheck> = { key, limit: rate.limit, windowMs: rate.durationMs, record: true };
    if (algorithm !== 'sliding-log') check.algorithm = algorithm;
    if (algorithm === 'gcra') check.burst = this.burstFor(rate);
    if (hasCost) {
      const cost = this.requestCost(ctx);
      if (cost !== 1) check.cost = cost;
      // A request that weighs something is consumed by all of its throttles or by none.
      check.allOrNothing = true;
    }
    if (blocks) check.blockMs = blockMsOf(this.blockFor);
    return check;
  }

  /**
   * Where this request counts, what it costs aside: null when this throttle does not count it. For
   * ThrottlingService's peek(), buckets() and penalize(), which must not call a cost function with
   * a context made up for an identity.
   */
  planBucket(ctx: ThrottleContext): RateBucket | null {
    const rate = this.rateFor(this.scopeFor(ctx), ctx);
    if (!rate) return null;
    const key = this.getCacheKey(ctx);
    if (key === null) return null;
    const algorithm = this.countingAlgorithm();
    const bucket = { key, limit: rate.limit, windowMs: rate.durationMs };
    if (algorithm === 'sliding-log') return bucket;
    const counting: PeekCounting = algorithm === 'gcra' ? { algorithm, limit: rate.limit, burst: this.burstFor(rate) } : { algorithm, limit: rate.limit };
    return { ...bucket, counting };
  }

  /**
   * gcra's burst under a rate: the throttle's, else the limit. A limit of 0 admits nothing, under
   * gcra too (its interval, period / limit, would be infinite), so its burst is 0 whatever is set.
   */
  burstFor(rate: Rate): number {
    return rate.limit === 0 ? 0 : (this.burst ?? rate.limit);
  }

  /**
   * What this throttle's RateLimit-Policy announces for a rate (also in the OpenAPI document): the
   * limit and period, except under gcra (see decideOutcome).
   */
  policyOf(rate: Rate): { readonly quota: number; readonly window: number } {
    if (this.countingAlgorithm() !== 'gcra') return { quota: rate.limit, window: rate.durationMs / 1000 };
    const burst = this.burstFor(rate);
    return { quota: burst, window: policyWindowSeconds(rate.limit, rate.durationMs, 'gcra', burst) };
  }

  /** The units of this request: the throttle's own cost, else the route's (`@ThrottleCost`), else 1. */
  private requestCost(ctx: ThrottleContext): number {
    const own = this.cost;
    if (own === undefined) return ctx.cost ?? 1;
    if (typeof own === 'number') return own;
    return checkedCost(own.call(this, ctx), (this.costLabel ??= `${this.constructor.name}.cost`));
  }

  /** DRF's throttle_success / throttle_failure, plus what headers need. */
  decide(check: WindowCheck, result: HitResult, ctx: ThrottleContext): ThrottleDecision {
    if (result.outcome !== undefined) return this.decideOutcome(check, result, result.outcome, ctx);
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

  /**
   * The decision of a store that answered in units (the counter algorithms; a sliding log with a
   * cost or a blockFor). `limit` and `remaining` are in units, `reset` is when `remaining` next grows.
   *
   * gcra in the IETF headers: its quota is the burst, refilled one unit per period / limit, so
   * RateLimit-Policy says q = burst and w = burst x period / limit seconds (the time an emptied burst
   * takes to refill: with burst = limit, the rate's own period), and RateLimit says r = the units
   * that could be taken at once now, t = seconds until the next unit is earned back.
   */
  private decideOutcome(check: WindowCheck, result: HitResult, outcome: AlgorithmOutcome, ctx: ThrottleContext): ThrottleDecision {
    if (result.uncounted === true) return ALLOWED;
    const { limit, windowMs } = check;
    const windowSeconds = policyWindowSeconds(limit, windowMs, check.algorithm, check.burst);
    const wait = outcome.allowed || outcome.waitMs === null ? null : outcome.waitMs / 1000;
    return { allowed: outcome.allowed, wait, limit: outcome.limit, remaining: outcome.remaining, reset: outcome.resetMs / 1000, policy: this.scopeFor(ctx), window: windowSeconds };
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
