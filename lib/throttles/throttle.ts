import type { Awaitable } from '../core/store.js';

/** Where a request came from: a built-in transport, or the context type of a custom one (see the `transports` option). */
export type ThrottleTransport = 'http' | 'ws' | 'rpc' | 'graphql' | (string & {});

/** Everything a throttle may look at to decide on one request. */
export interface ThrottleContext {
  readonly transport: ThrottleTransport;
  /** The raw request: Express/Fastify request, socket, RPC payload or GraphQL context request. */
  readonly request: any;
  /** The response or reply when the transport has one (for headers). */
  readonly response: any;
  /** The client address, after `numProxies` / `trustedProxies` and `ipv6Subnet` are applied (an IPv6 client as its network, `2001:db8:1:2::/64`). */
  readonly ident: string;
  /** The authenticated user, when there is one. */
  readonly user: unknown;
  /** The authenticated user's id as a string, or null when the request is anonymous. */
  readonly userId: string | null;
  /** The scope set by `@ThrottleScope()` (handler beats controller). */
  readonly scope: string | undefined;
  /** The controller (or resolver, gateway) class and the handler method. */
  readonly controller: Function | undefined;
  readonly handler: Function | undefined;
  /** Upper-case HTTP method, or the transport's equivalent (`WS`, `RPC`, `QUERY`, ...). */
  readonly method: string;
  /** The URL with its query string, or the transport's equivalent (event, pattern). */
  readonly url: string;
  /** What the route says a request costs (`@ThrottleCost(n)`); undefined = 1, unless a throttle's own `cost` says otherwise. */
  readonly cost?: number;
}

/** A throttle's answer, with what it knows about the limit for headers. */
export interface ThrottleDecision {
  readonly allowed: boolean;
  /** Seconds until the client may retry, or null when unknown. */
  readonly wait: number | null;
  /** The number of requests allowed in the window. */
  readonly limit?: number;
  /** Requests left in the window after this one. */
  readonly remaining?: number;
  /** Seconds until the window frees a slot. */
  readonly reset?: number;
  /** The policy's name (its scope), used in RateLimit headers. */
  readonly policy?: string;
  /** The window length in seconds. */
  readonly window?: number;
  /** What `limit` counts when not requests: 'content-bytes' (BandwidthThrottle), RateLimit-Policy's `qu`. */
  readonly quotaUnit?: string;
}

/** A decision that holds a pending slot until the request's outcome is known (see Throttle.reserve). */
export interface ReservedDecision {
  readonly decision: ThrottleDecision;
  /** The slot held (settle it with Throttle.settle), or null when none is: denied, or a store without reservations. */
  readonly reservation: string | null;
}

/**
 * A throttle decides whether one request may proceed. Throttles are singletons resolved through
 * Nest's DI: keep per-request state out of fields.
 */
export interface Throttle {
  allowRequest(ctx: ThrottleContext): Awaitable<boolean | ThrottleDecision>;
  /** Called after the handler succeeded (Tastypie's log_throttled_access). */
  accessed?(ctx: ThrottleContext): Awaitable<void>;
  /**
   * Optional, with settle(): allowRequest() that, when it allows, also holds a slot in the same store
   * operation, so concurrent requests cannot all pass before any is recorded. Used where the outcome
   * is settled later: the guard on routes that record after the handler, and ThrottlingService.attempt().
   */
  reserve?(ctx: ThrottleContext): Awaitable<ReservedDecision>;
  /**
   * Settles what reserve() answered: commit records the access (as accessed() does), release does not
   * count the request. A null reservation (none was held) commits by recording, and releases nothing.
   */
  settle?(ctx: ThrottleContext, reservation: string | null, commit: boolean): Awaitable<void>;
}

export const ALLOWED: ThrottleDecision = Object.freeze({ allowed: true, wait: null });
export const DENIED: ThrottleDecision = Object.freeze({ allowed: false, wait: null });
