import type { ExecutionContext } from '@nestjs/common';
import type { ErrorFormat } from '../../http/problem-details.js';
import type { ThrottleContext, ThrottleDecision } from '../../throttles/throttle.js';
import type { ClientIdentity } from '../../core/client-identity.js';

/** Reads the authenticated user's id from a request. Return null or undefined for an anonymous request. */
export type UserIdReader = (request: any, user: unknown) => string | number | null | undefined;

/**
 * Reads the identity of a microservice message's sender: `(data, context)` with the payload and the
 * transport context (TcpContext, ...). Return null or undefined when the message carries none.
 */
export type RpcIdentityReader = (data: any, context: any) => string | number | null | undefined;

/**
 * The part of the module's settings a transport reads to describe a request; ThrottlingSettings
 * extends it, so a binding never depends on the module that builds it.
 */
export interface TransportSettings {
  /** Who the client is: numProxies, trustedProxies, forwardedHeader and ipv6Subnet, compiled at boot. */
  readonly clientIdentity: ClientIdentity;
  /** The `userId` option (or the default reader), its answer already turned into key text by idText(). */
  readonly userId: (request: any, user: unknown) => string | null;
  /** Microservices: the sender's identity, from the `rpcIdentity` option. */
  readonly rpcIdentity: RpcIdentityReader | undefined;
}

/**
 * What the enforcer needs from one Nest transport (http, graphql, ws, rpc): how to tell requests
 * apart, how to describe one to throttles, where headers go and which error the client understands.
 */
export interface TransportBinding {
  /** The object that stands for one request, so that it is throttled once whoever asks again. */
  requestToken(context: ExecutionContext): object;
  /**
   * The ThrottleContext of the request. `cost`: the route's @ThrottleCost, to set as `ctx.cost`
   * (undefined: none); a binding that leaves it out gets it set by the guard.
   */
  createContext(context: ExecutionContext, scope: string | undefined, settings: TransportSettings, cost?: number): ThrottleContext;
  /** Writes a response header where the transport has a response; otherwise does nothing. */
  setHeader(ctx: ThrottleContext, name: string, value: string): void;
  /**
   * The error thrown at a throttled request, in the transport's own terms. `denial` (always given by
   * the guard; optional so bindings written for one parameter fewer still fit): the decisions and
   * the module's errorFormat.
   */
  throttledError(wait: number | null, ctx: ThrottleContext, denial?: ThrottleDenial): Error;
  /**
   * Optional. The error thrown when the store is down and `onStoreError` is 'deny': the server's
   * fault, so a 503 in the transport's terms, never a 429. `retryAfter`: whole seconds until the
   * store is tried again, or null (already sent as a Retry-After header where there is a response).
   * Absent: an HTTP 503 exception.
   */
  unavailableError?(ctx: ThrottleContext, retryAfter: number | null, errorFormat?: ErrorFormat): Error;
  /**
   * Optional. False for an invocation that belongs to a request counted elsewhere (a GraphQL field
   * resolver, a subscription): it is then throttled only when its handler method itself carries
   * @ThrottleClasses or @ThrottleScope. Absent: every invocation is a request.
   */
  countsByDefault?(context: ExecutionContext): boolean;
  /**
   * Optional. Calls `done` once when the request's response is over (sent or abandoned), so that a
   * request that never reached its handler frees what its check reserved. Absent: it expires.
   */
  afterResponse?(ctx: ThrottleContext, done: () => void): void;
}

/** Why a request was throttled, for the transport's error. */
export interface ThrottleDenial {
  /** One decision per throttle of the route, in order; those with `allowed: false` denied. */
  readonly decisions: readonly ThrottleDecision[];
  /** The module's `errorFormat`: 'problem' asks for RFC 9457 problem details. */
  readonly errorFormat: ErrorFormat;
}
