import type { ExecutionContext } from '@nestjs/common';
import type { ThrottleContext } from '../../throttles/throttle.js';
import type { ThrottlingSettings } from '../module/throttling-settings.js';

/**
 * What the enforcer needs from one Nest transport (http, graphql, ws, rpc): how to tell requests
 * apart, how to describe one to throttles, where headers go and which error the client understands.
 */
export interface TransportBinding {
  /** The object that stands for one request, so that it is throttled once whoever asks again. */
  requestToken(context: ExecutionContext): object;
  /** The ThrottleContext of the request. */
  createContext(context: ExecutionContext, scope: string | undefined, settings: ThrottlingSettings): ThrottleContext;
  /** Writes a response header where the transport has a response; otherwise does nothing. */
  setHeader(ctx: ThrottleContext, name: string, value: string): void;
  /** The error thrown at a throttled request, in the transport's own terms. */
  throttledError(wait: number | null, ctx: ThrottleContext): Error;
  /**
   * Optional. The error thrown when the store is down and `onStoreError` is 'deny': the server's
   * fault, so a 503 in the transport's terms, never a 429. `retryAfter`: whole seconds until the
   * store is tried again, or null (already sent as a Retry-After header where there is a response).
   * Absent: an HTTP 503 exception.
   */
  unavailableError?(ctx: ThrottleContext, retryAfter: number | null): Error;
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
