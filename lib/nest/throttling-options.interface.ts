import type { ModuleMetadata, Provider, Type } from '@nestjs/common';
import type { Clock } from '../core/clock.js';
import type { RateInput } from '../core/rate.js';
import type { Awaitable, ThrottleStore } from '../core/store.js';
import type { RateLimitHeaderMode } from '../http/rate-limit-headers.js';
import type { Throttle } from '../throttles/throttle.js';

/** Where throttles are enforced: see README, "Throttling per user when auth guards sit on controllers". */
export type EnforcementPoint = 'guard' | 'interceptor';

/** Reads the authenticated user's id from a request. Return null or undefined for an anonymous request. */
export type UserIdReader = (request: any, user: unknown) => string | number | null | undefined;

export interface ThrottlingModuleOptions {
  /** Throttles for every route that names none (DRF DEFAULT_THROTTLE_CLASSES). Default: none. */
  readonly defaultThrottles?: readonly Type<Throttle>[];
  /** scope -> rate (DRF DEFAULT_THROTTLE_RATES); `null` switches a scope off. */
  readonly rates?: Readonly<Record<string, RateInput>>;
  /**
   * DRF's NUM_PROXIES: how many trusted proxies append to X-Forwarded-For. Unset: the adapter's own
   * client address (`req.ip`, which honours Express 'trust proxy' and Fastify `trustProxy`).
   */
  readonly numProxies?: number;
  /** Where counts live: a store instance, or a store class to create through DI. Default: memory. */
  readonly store?: ThrottleStore | Type<ThrottleStore>;
  /** Milliseconds since the epoch; for tests. Default: Date.now. */
  readonly clock?: Clock;
  /** Which rate-limit headers to send on throttled routes. Default: 'ietf'. */
  readonly headers?: RateLimitHeaderMode;
  /** How to read the user's id. Default: `req.user.id`, then `sub`, then `pk`. */
  readonly userId?: UserIdReader;
  /** 'guard' (default) or 'interceptor' (after every guard, so controller-level auth has run). */
  readonly enforceAt?: EnforcementPoint;
  /** Most keys the default memory store keeps (least recently used are forgotten). Default 100,000. */
  readonly maxKeys?: number;
}

export interface ThrottlingOptionsFactory {
  createThrottlingOptions(): Awaitable<ThrottlingModuleOptions>;
}

export interface ThrottlingModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  readonly inject?: any[];
  readonly useFactory?: (...args: any[]) => Awaitable<ThrottlingModuleOptions>;
  readonly useClass?: Type<ThrottlingOptionsFactory>;
  readonly useExisting?: Type<ThrottlingOptionsFactory>;
  /**
   * Where throttles are enforced. Given here, not by the factory, because Nest must know at import
   * time whether to register the global interceptor.
   */
  readonly enforceAt?: EnforcementPoint;
  readonly extraProviders?: Provider[];
}
