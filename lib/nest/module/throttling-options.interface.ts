import type { ModuleMetadata, Provider, Type } from '@nestjs/common';
import type { ForwardedHeaderName } from '../../core/client-identity.js';
import type { Clock } from '../../core/clock.js';
import type { RateInput } from '../../core/rate.js';
import type { Awaitable, CountingAlgorithm, ThrottleStore } from '../../core/store.js';
import type { RateLimitHeaderMode } from '../../http/rate-limit-headers.js';
import type { StoreErrorPolicy } from '../../stores/fail-safe-throttle-store.js';
import type { AccessLog } from '../../access-log/access-log.js';
import type { PostgresAccessLogOptions } from '../../access-log/postgres-access-log.js';
import type { ThrottleClass } from '../../throttles/throttle-class.js';
import type { ErrorFormat } from '../../http/problem-details.js';
import type { ThrottleMode } from '../../core/throttle-mode.js';
import type { ThrottlingMetricsOptions } from '../../metrics/metrics-options.js';
import type { OnStoreStateChangeHook, OnThrottledHook } from '../enforcement/throttling-notifier.js';
import type { RpcIdentityReader, TransportBinding, UserIdReader } from '../transports/transport-binding.js';

export type { RpcIdentityReader, UserIdReader } from '../transports/transport-binding.js';

/** Where throttles are enforced: see README, "Throttling per user when auth guards sit on controllers". */
export type EnforcementPoint = 'guard' | 'interceptor';

export interface ThrottlingModuleOptions {
  /** Throttles for every route that names none (DRF DEFAULT_THROTTLE_CLASSES). Default: none. */
  readonly defaultThrottles?: readonly ThrottleClass[];
  /** scope -> rate (DRF DEFAULT_THROTTLE_RATES); `null` switches a scope off. */
  readonly rates?: Readonly<Record<string, RateInput>>;
  /**
   * How rate throttles that name no `algorithm` count (AnonThrottle, UserThrottle, ScopedThrottle,
   * your subclasses): 'sliding-log' (default, DRF's exact log), 'sliding-window', 'gcra' or
   * 'fixed-window' (docs/algorithms.md). Tastypie throttles keep their access log whatever it says.
   */
  readonly algorithm?: CountingAlgorithm;
  /**
   * DRF's NUM_PROXIES: how many trusted proxies append to X-Forwarded-For (or Forwarded, see
   * `forwardedHeader`). Unset, with `trustedProxies` unset too: the adapter's own client address
   * (`req.ip`, which honours Express 'trust proxy' and Fastify `trustProxy`). Not with `trustedProxies`.
   */
  readonly numProxies?: number;
  /**
   * The proxies in front of the app, as addresses and CIDR ranges (`['10.0.0.0/8', '2001:db8::/32']`;
   * also 'loopback', 'linklocal', 'uniquelocal'): the client is the rightmost entry of the chain
   * (the socket address, then the header from the right) that is not one of them, as nginx
   * `real_ip_recursive on` and Express 'trust proxy' with a list pick it. Not with `numProxies`.
   */
  readonly trustedProxies?: readonly string[];
  /** Which header `numProxies` / `trustedProxies` read: 'x-forwarded-for' (default) or 'forwarded' (RFC 7239 `for=`). */
  readonly forwardedHeader?: ForwardedHeaderName;
  /**
   * IPv6 clients are counted per network of this prefix length (default 64, what an ISP hands one
   * home), keyed `2001:db8:1:2::/64`; `false` (or 128) counts every address apart. IPv4 is unchanged.
   */
  readonly ipv6Subnet?: number | false;
  /** Where counts live: a store instance, or a store class to create through DI. Default: memory. */
  readonly store?: ThrottleStore | Type<ThrottleStore>;
  /** Milliseconds since the epoch; for tests. Default: Date.now. */
  readonly clock?: Clock;
  /** Which rate-limit headers to send on throttled routes. Default: 'ietf'. */
  readonly headers?: RateLimitHeaderMode;
  /**
   * How a throttled request's error is shaped: 'nest' (default) Nest's `{ statusCode, error, message }`;
   * 'problem' RFC 9457 `application/problem+json` with the IETF rate-limit draft's quota-exceeded type
   * and `violated-policies` (the same members in GraphQL extensions, ws and rpc payloads); the 503 of
   * a store outage under onStoreError 'deny' too.
   */
  readonly errorFormat?: ErrorFormat;
  /** How to read the user's id. Default: `req.user.id`, then `sub`, then `pk`. */
  readonly userId?: UserIdReader;
  /** 'guard' (default) or 'interceptor' (after every guard, so controller-level auth has run). */
  readonly enforceAt?: EnforcementPoint;
  /**
   * Microservices: who sent a message, as a payload field path (`'clientId'`, `'meta.tenant'`) or a
   * function `(data, context) => identity`. Unset: the user's id (see `userId`, read from `data.user`).
   * A throttled message with neither is refused (RpcException, status 400), never pooled in one bucket.
   */
  readonly rpcIdentity?: string | RpcIdentityReader;
  /** Most keys the default memory store keeps (least recently used are forgotten). Default 100,000. */
  readonly maxKeys?: number;
  /**
   * Where CacheDBThrottle writes every access: PostgresAccessLog options (the module creates the log,
   * flushes it in the background and closes it at shutdown) or your own AccessLog instance (flushed at
   * shutdown, never closed). Default: none (CacheDBThrottle then fails the boot).
   */
  readonly accessLog?: PostgresAccessLogOptions | AccessLog;
  /**
   * What a networked store's failure (error, or no answer within `storeTimeout`) means for requests:
   * 'local' (default) counts in this process until the store is back; 'allow' lets requests through;
   * 'deny' answers 503 Service Unavailable. Never a 429, never a 500.
   */
  readonly onStoreError?: StoreErrorPolicy;
  /** How long one store call may take, in ms, before `onStoreError` applies. Default 100. */
  readonly storeTimeout?: number;
  /**
   * Bindings for more ExecutionContext types (`context.getType()`), or replacements for the built-in
   * ones (http, graphql, ws, rpc; exported as TRANSPORT_BINDINGS). A context type with no binding
   * passes the guard untouched.
   */
  readonly transports?: Readonly<Record<string, TransportBinding>>;
  /**
   * 'enforce' (default) or 'shadow': every throttle counts, decides and reports as usual but never
   * denies. A throttle's own `mode` (`.with({ mode })`) beats this; `@ThrottleShadow()` beats both.
   */
  readonly mode?: ThrottleMode;
  /** Whether shadow throttles send their RateLimit headers. Default true (clients see what is coming). */
  readonly shadowHeaders?: boolean;
  /** Called once per throttle that denies a request, shadow ones too (`info.shadow`). Errors are caught and logged. */
  readonly onThrottled?: OnThrottledHook;
  /** Called when a networked store goes down and when it is back. Errors are caught and logged. */
  readonly onStoreStateChange?: OnStoreStateChangeHook;
  /** Prometheus (prom-client) and/or OpenTelemetry metrics. Default: none, nothing loaded. */
  readonly metrics?: ThrottlingMetricsOptions;
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
  /**
   * Set to true when the factory's `defaultThrottles` include a throttle that records accesses after
   * the handler (CacheThrottle, CacheDBThrottle, a custom one with accessed()): Nest must know at import
   * time to register the global access interceptor. The boot fails with a clear error when it is missing.
   */
  readonly recordAccesses?: boolean;
  readonly extraProviders?: Provider[];
}
