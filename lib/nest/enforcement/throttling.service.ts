import { Inject, Injectable, type Type } from '@nestjs/common';
import { setResponseHeader } from '../../http/http-client.js';
import { RateLimitHeaderCache, writeRateLimitHeaders } from '../../http/rate-limit-headers.js';
import type { RateInput } from '../../core/rate.js';
import { ThrottleConfigError } from '../../core/throttle-config-error.js';
import { type Evaluation, evaluateThrottles, settleEvaluation } from '../../throttles/evaluate-throttles.js';
import { SimpleRateThrottle } from '../../throttles/simple-rate-throttle.js';
import type { Throttle, ThrottleContext } from '../../throttles/throttle.js';
import { UserThrottle } from '../../throttles/user-throttle.js';
import { StoreUnavailableError } from '../../stores/store-unavailable-error.js';
import { storeUnavailableException } from '../transports/store-unavailable-message.js';
import { ThrottledException } from '../transports/throttled.exception.js';
import { ThrottleRegistry } from './throttle-registry.js';
import type { ThrottlingSettings } from '../module/throttling-settings.js';
import { THROTTLING_SETTINGS } from '../module/tokens.js';
import { httpRequestContext, httpThrottledProblem, httpUnavailableProblem } from '../transports/http-transport.js';
import { describeValue } from '../../core/describe-value.js';
import { retryAfterSeconds } from '../../core/wait.js';
import { type Bucket, bucketOfThrottle, type BucketReading, listBuckets, penalizeBucket, readBucket, type ThrottleBucketState } from './throttle-admin.js';
import type { CountingOptions } from '../../throttles/counting-options.js';
import { checkedCost } from '../../core/algorithms/algorithm-outcome.js';

/** How many `{ scope, rate }` specs ThrottlingService keeps a throttle for. */
export const MAX_CACHED_RATE_SPECS = 1_000;

/** Who is checked: an Express/Fastify request, or any identity (a username, an API key, ...). */
export type ThrottleTarget = { readonly identity: string } | object;

/**
 * A named rate, counted like `UserThrottle.with({ scope, rate, algorithm, burst, blockFor })` (`rate`
 * omitted: the module's `rates[scope]`; `algorithm` omitted: the module's).
 */
export interface RateSpec extends Pick<CountingOptions, 'algorithm' | 'burst' | 'blockFor'> {
  readonly scope: string;
  readonly rate?: RateInput;
}

/** A throttle class (DRF or Tastypie style, resolved through DI), or a named rate. */
export type ThrottleSpec = Type<unknown> | RateSpec;

export interface ManualCheckOptions {
  /** The scope ScopedThrottle reads (what @ThrottleScope gives on a route). */
  readonly scope?: string;
  /**
   * What this check costs, in units of each rate throttle's limit (what @ThrottleCost gives on a
   * route; a throttle's own `cost` beats it). Given, the check is all or nothing. Default 1.
   */
  readonly cost?: number;
  /** Where to write Retry-After and RateLimit headers (Express response or Fastify reply). */
  readonly response?: unknown;
  /** For identity targets: the URL and method recorded by CacheDBThrottle. */
  readonly url?: string;
  readonly method?: string;
}

/** The verdict of a manual check: Evaluation plus the Retry-After value the guard would send. */
export interface ThrottleVerdict extends Evaluation {
  /** ceil(wait) when the request is throttled and the wait is known, else null. */
  readonly retryAfter: number | null;
}

/**
 * A manual check that holds its slots until its outcome is known (ThrottlingService.attempt()):
 * concurrent attempts can never pass more than the limit before any of them is counted.
 */
export interface ThrottleAttempt {
  readonly verdict: ThrottleVerdict;
  /**
   * Counts the attempt (e.g. after a wrong password): each reserved slot becomes an access at this
   * time, as accessed() records it. Settles once: a later commit() or release() does nothing.
   */
  commit(): Promise<void>;
  /** Does not count the attempt (e.g. after a success): frees its slots. Settles once, like commit(). */
  release(): Promise<void>;
}

/** The state of one throttle's bucket for a target (`limit`: what `remaining` counts down from, gcra's burst). */
export interface ThrottleKeyState extends BucketReading {
  readonly key: string;
  readonly windowMs: number;
}

/** penalize(): how many requests to add (default: as many as fill the window to the limit). */
export interface PenalizeOptions extends ManualCheckOptions {
  readonly requests?: number;
}

/**
 * Throttling by hand, Tastypie's throttle_check / log_throttled_access, for custom endpoints,
 * GraphQL resolvers, gateways, and brute-force protection keyed by e.g. a username.
 *
 * - check(): the decision object (rate throttles record their hit, like the guard; Tastypie
 *   throttles record nothing until accessed());
 * - enforce(): the same, throwing the guard's ThrottledException (429) when throttled;
 * - attempt(): enforce() that holds the Tastypie throttles' slots until commit() or release(), for
 *   brute-force protection that holds under concurrency (a login);
 * - accessed(): records an access with every throttle that has accessed() (Tastypie);
 * - peek() / reset(): a bucket's state, or forget it (e.g. after a successful login);
 * - buckets() / grant() / penalize(): for support staff, every bucket of a client, forgive its usage
 *   of one, or count extra requests on one (see throttle-admin.ts).
 */
@Injectable()
export class ThrottlingService {
  /**
   * The throttle of each `{ scope, rate }` spec, least recently used first (a Map keeps insertion
   * order, and a hit is moved to the end). Bounded, because a rate may be computed per call (a plan's
   * quota, say): past MAX_CACHED_RATE_SPECS the oldest is dropped and made again when next used.
   * Counts live in the store under `throttle_<scope>_<ident>`, so a remade throttle finds them.
   */
  private readonly rateThrottles = new Map<string, Promise<Throttle>>();
  /**
   * Shared by every manual check: it rebuilds its strings when the policies differ from the last
   * call's, and is only read synchronously while the headers are written, so sharing is safe.
   */
  private readonly headerCache = new RateLimitHeaderCache();

  constructor(
    private readonly registry: ThrottleRegistry,
    @Inject(THROTTLING_SETTINGS) private readonly settings: ThrottlingSettings,
  ) {}

  async check(target: ThrottleTarget, specs: ThrottleSpec | readonly ThrottleSpec[], options: ManualCheckOptions = {}): Promise<ThrottleVerdict> {
    const ctx = this.contextFor(target, options);
    const throttles = await this.resolveAll(specs, options.scope);
    return this.verdict(await evaluateThrottles(throttles, ctx, this.settings.runtime.store), options);
  }

  /**
   * check(), throwing ThrottledException (429, DRF's message) when throttled, and answering a store
   * outage under `onStoreError: 'deny'` as the guard does: 503, with Retry-After on `options.response`.
   */
  async enforce(target: ThrottleTarget, specs: ThrottleSpec | readonly ThrottleSpec[], options: ManualCheckOptions = {}): Promise<ThrottleVerdict> {
    const verdict = await this.unavailableAs503(this.check(target, specs, options), options);
    if (!verdict.allowed) throw this.throttledError(verdict, options);
    return verdict;
  }

  /**
   * enforce() for an outcome known later, which cannot be misused: Tastypie throttles (CacheThrottle,
   * CacheDBThrottle) hold a slot from this check on, so concurrent attempts never pass more than
   * `throttleAt`; then commit() counts the attempt (a wrong password) and release() does not (a
   * success). Throws the 429 when full (nothing is held then), the 503 on an outage under 'deny'.
   * Rate throttles among the specs count here, as with check(); commit and release leave them alone.
   * An attempt never settled frees its slots after the throttle's `reservationTimeout`.
   */
  async attempt(target: ThrottleTarget, specs: ThrottleSpec | readonly ThrottleSpec[], options: ManualCheckOptions = {}): Promise<ThrottleAttempt> {
    const ctx = this.contextFor(target, options);
    const throttles = await this.resolveAll(specs, options.scope);
    const evaluation = await this.unavailableAs503(Promise.resolve(evaluateThrottles(throttles, ctx, this.settings.runtime.store, true)), options);
    const verdict = this.verdict(evaluation, options);
    let settled = false;
    const settle = async (commit: boolean): Promise<void> => {
      if (settled) return;
      settled = true;
      await settleEvaluation(throttles, ctx, evaluation.reservations, commit);
    };
    if (!verdict.allowed) {
      await settle(false);
      throw this.throttledError(verdict, options);
    }
    return { verdict, commit: () => settle(true), release: () => settle(false) };
  }

  /** The guard's 429 for a denied verdict: problem details (typed on `options.response`) under errorFormat 'problem'. */
  private throttledError(verdict: ThrottleVerdict, options: ManualCheckOptions): ThrottledException {
    return this.settings.errorFormat === 'problem' ? httpThrottledProblem(verdict.wait, options.response, verdict.decisions) : new ThrottledException(verdict.wait);
  }

  /** The verdict of an evaluation, with its headers written to `options.response`. */
  private verdict(evaluation: Evaluation, options: ManualCheckOptions): ThrottleVerdict {
    const retryAfter = evaluation.allowed ? null : retryAfterSeconds(evaluation.wait);
    if (options.response !== undefined) {
      writeRateLimitHeaders((name, value) => setResponseHeader(options.response, name, value), evaluation.decisions, this.settings.headers, this.headerCache);
      if (retryAfter !== null) setResponseHeader(options.response, 'retry-after', String(retryAfter));
    }
    const { reservations: _held, ...verdict } = evaluation;
    return { ...verdict, retryAfter };
  }

  /** A store outage under onStoreError 'deny' as the guard answers it: 503, with Retry-After. */
  private async unavailableAs503<T>(pending: Promise<T>, options: ManualCheckOptions): Promise<T> {
    try {
      return await pending;
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      if (options.response !== undefined && error.retryAfter !== null) setResponseHeader(options.response, 'retry-after', String(error.retryAfter));
      throw this.settings.errorFormat === 'problem' ? httpUnavailableProblem(options.response, error.retryAfter, error) : storeUnavailableException(error);
    }
  }

  /** Tastypie's log_throttled_access: records the access with every throttle that records accesses. */
  async accessed(target: ThrottleTarget, specs: ThrottleSpec | readonly ThrottleSpec[], options: ManualCheckOptions = {}): Promise<void> {
    const ctx = this.contextFor(target, options);
    const throttles = await this.resolveAll(specs, options.scope);
    await Promise.all(throttles.map((throttle) => throttle.accessed?.(ctx)));
  }

  /** The state of one throttle's bucket for a target, without changing it. */
  async peek(target: ThrottleTarget, spec: ThrottleSpec, options: ManualCheckOptions = {}): Promise<ThrottleKeyState> {
    const bucket = await this.bucketOf(target, spec, options);
    return { ...(await readBucket(this.settings.runtime.store, bucket)), key: bucket.key, windowMs: bucket.windowMs };
  }

  /**
   * Every bucket the target has among the throttles in use: those of the routes (each with the scopes
   * of its routes) and the throttle classes this service was called with, read as peek() reads them;
   * `options.scope` keeps those counted under that scope. One store read per bucket, never a scan.
   */
  async buckets(target: ThrottleTarget, options: ManualCheckOptions = {}): Promise<ThrottleBucketState[]> {
    this.contextFor(target, options);
    const { scope, ...rest } = options;
    return listBuckets(this.registry.throttleUses(), (routeScope) => this.contextFor(target, { ...rest, scope: routeScope }), this.settings.runtime.store, scope);
  }

  /**
   * Forgives the target's whole usage of one bucket (reset()): its next request is counted as its
   * first. Forgiving only some requests is not offered: the store keeps each hit's time, which
   * re-recording fewer hits would lose, moving when the window frees.
   */
  async grant(target: ThrottleTarget, spec: ThrottleSpec, options: ManualCheckOptions = {}): Promise<ThrottleKeyState> {
    if ((options as { requests?: unknown }).requests !== undefined) {
      throw new TypeError(`ThrottlingService.grant(): forgives the whole window, so it takes no requests count (got ${describeValue((options as { requests?: unknown }).requests)})`);
    }
    await this.reset(target, spec, options);
    return this.peek(target, spec, options);
  }

  /**
   * Counts `options.requests` extra requests now on one bucket (default: as many as fill it to the
   * limit, throttled until the window frees), so the target is throttled sooner. Returns the state after.
   */
  async penalize(target: ThrottleTarget, spec: ThrottleSpec, options: PenalizeOptions = {}): Promise<ThrottleKeyState> {
    const bucket = await this.bucketOf(target, spec, options);
    await penalizeBucket(this.settings.runtime.store, bucket, options.requests, 'ThrottlingService.penalize()');
    return this.peek(target, spec, options);
  }

  /** Forgets one throttle's bucket for a target. */
  async reset(target: ThrottleTarget, spec: ThrottleSpec, options: ManualCheckOptions = {}): Promise<void> {
    const { key } = await this.bucketOf(target, spec, options);
    await this.settings.runtime.store.reset(key);
  }

  /** The ThrottleContext of a target: the guard's own for a request, a synthetic one for an identity. */
  contextFor(target: ThrottleTarget, options: ManualCheckOptions = {}): ThrottleContext {
    if (target === null || typeof target !== 'object') {
      throw new TypeError(`ThrottlingService: the target must be a request or { identity }, got ${describeValue(target)}`);
    }
    const cost = options.cost === undefined ? undefined : checkedCost(options.cost, 'ThrottlingService: options.cost');
    const identity = (target as { identity?: unknown }).identity;
    if (identity === undefined) return httpRequestContext(target, options.response, options.scope, this.settings, undefined, undefined, cost);
    if (typeof identity !== 'string' || identity.length === 0) {
      throw new TypeError(`ThrottlingService: identity must be a non-empty string, got ${describeValue(identity)}`);
    }
    return {
      transport: 'http',
      request: undefined,
      response: options.response,
      ident: identity,
      user: undefined,
      userId: null,
      scope: options.scope,
      controller: undefined,
      handler: undefined,
      method: options.method ?? '',
      url: options.url ?? '',
      cost,
    };
  }

  private async resolveAll(specs: ThrottleSpec | readonly ThrottleSpec[], scope: string | undefined): Promise<Throttle[]> {
    const list = Array.isArray(specs) ? specs : [specs];
    return Promise.all(list.map((spec) => this.resolve(spec as ThrottleSpec, scope)));
  }

  private resolve(spec: ThrottleSpec, routeScope?: string): Promise<Throttle> {
    if (typeof spec === 'function') {
      // Checked on first use (once per scope) against the routes' throttles: sharing keys with another limit throws.
      return this.registry.resolve(spec as Type<Throttle>).then((throttle) => {
        this.registry.claimKeys(throttle, routeScope, (spec as Type<Throttle>).name, true);
        return throttle;
      });
    }
    if (spec === null || typeof spec !== 'object' || typeof (spec as { scope?: unknown }).scope !== 'string') {
      throw new ThrottleConfigError(`ThrottlingService: expected a throttle class or { scope, rate }, got ${describeValue(spec)}`);
    }
    const { scope, rate, algorithm, burst, blockFor } = spec as RateSpec;
    const id = `${scope}\u0000${JSON.stringify([rate, algorithm, burst, blockFor])}`;
    const cached = this.rateThrottles.get(id);
    if (cached !== undefined) {
      this.rateThrottles.delete(id);
      this.rateThrottles.set(id, cached);
      return cached;
    }
    const created = this.registry.createDetached(UserThrottle.with({ scope, rate, algorithm, burst, blockFor })).then((throttle) => {
      // Validated the way the registry validates routes at boot: a bad rate, algorithm, burst or blockFor is named here.
      if (throttle instanceof SimpleRateThrottle) throttle.validate(scope, 'ThrottlingService');
      this.registry.claimKeys(throttle, scope, specLabel(spec as RateSpec), false);
      return throttle;
    });
    this.rateThrottles.set(id, created);
    if (this.rateThrottles.size > MAX_CACHED_RATE_SPECS) this.rateThrottles.delete(this.rateThrottles.keys().next().value!);
    // A spec that fails (a malformed rate) is not kept: the next call reports it again.
    created.catch(() => {
      if (this.rateThrottles.get(id) === created) this.rateThrottles.delete(id);
    });
    return created;
  }

  private async bucketOf(target: ThrottleTarget, spec: ThrottleSpec, options: ManualCheckOptions): Promise<Bucket> {
    const ctx = this.contextFor(target, options);
    const throttle = await this.resolve(spec);
    const bucket = bucketOfThrottle(throttle, ctx);
    if (bucket === null) throw new ThrottleConfigError(`ThrottlingService: ${throttle.constructor.name} does not throttle this target, so it has no bucket`);
    if (bucket === undefined) throw new ThrottleConfigError(`ThrottlingService: ${throttle.constructor.name} keeps no bucket in the store that peek() or reset() could read`);
    return bucket;
  }
}

/** How a `{ scope, rate, ... }` spec is named in errors: as it was written. */
function specLabel({ scope, rate, algorithm, burst, blockFor }: RateSpec): string {
  const parts = [`scope: ${describeValue(scope)}`];
  if (rate !== undefined) parts.push(`rate: ${describeValue(rate)}`);
  if (algorithm !== undefined) parts.push(`algorithm: ${describeValue(algorithm)}`);
  if (burst !== undefined) parts.push(`burst: ${describeValue(burst)}`);
  if (blockFor !== undefined) parts.push(`blockFor: ${describeValue(blockFor)}`);
  return `{ ${parts.join(', ')} }`;
}
