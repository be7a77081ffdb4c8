import type { ExecutionContext } from '@nestjs/common';
import type { ThrottleContext } from '../../throttles/throttle.js';
import type { RpcIdentityReader, TransportBinding, TransportSettings } from './transport-binding.js';
import { idText } from '../../core/id-text.js';
import { STORE_UNAVAILABLE_MESSAGE } from './store-unavailable-message.js';
import { throttledMessage } from './throttled.exception.js';
import { OptionalPeer } from './optional-peer.js';
import { ThrottleConfigError } from '../../core/throttle-config-error.js';
import { describeValue } from '../../core/describe-value.js';
import { waitSeconds } from '../../core/wait.js';
import { problemPayload, type ProblemPayload, throttledProblem, unavailableProblem } from './problem-errors.js';
import type { QuotaExceededProblem } from '../../http/problem-details.js';
import type { ThrottleDecision } from '../../throttles/throttle.js';

/**
 * Microservice message and event handlers (@nestjs/microservices, any transport). One message is
 * one request: the handler's argument list, created per message, is the token.
 *
 * A microservice's callers are usually a few other services, so the socket address would put
 * everybody in one bucket. The identity comes from the message instead: `ident` is what the
 * `rpcIdentity` option reads (a payload field or a function), `user` is `data.user` and `userId`
 * what the `userId` option reads from it. A message with neither is refused, never pooled.
 */
export const rpcTransport: TransportBinding = {
  requestToken: (context) => context.getArgs(),

  createContext(context: ExecutionContext, scope: string | undefined, settings: TransportSettings, cost?: number): ThrottleContext {
    const rpc = context.switchToRpc();
    const data = rpc.getData();
    const rpcContext = rpc.getContext();
    const user = data !== null && typeof data === 'object' ? data.user : undefined;
    const userId = settings.userId(data, user);
    const identity = settings.rpcIdentity?.(data, rpcContext);
    const pattern = describePattern(rpcContext);
    const ident = identity === null || identity === undefined || identity === '' ? userId : settings.clientIdentity.ofGivenIdentity(idText(identity));
    if (ident === null) throw rpcMissingIdentityError(pattern);
    return {
      transport: 'rpc',
      request: data,
      response: undefined,
      ident,
      user,
      userId,
      scope,
      controller: context.getClass(),
      handler: context.getHandler(),
      method: 'RPC',
      url: pattern,
      cost,
    };
  },

  // A message reply has no headers.
  setHeader: () => undefined,

  throttledError: (wait, _ctx, denial) => (denial?.errorFormat === 'problem' ? rpcThrottledProblem(wait, denial.decisions) : rpcThrottledError(wait)),

  unavailableError: (_ctx, retryAfter, errorFormat) => (errorFormat === 'problem' ? rpcUnavailableProblem(retryAfter) : rpcStoreUnavailableError(retryAfter)),
};

/** The pattern as the transport context reports it (TcpContext.getPattern(), and the like). */
function describePattern(rpcContext: any): string {
  const pattern = typeof rpcContext?.getPattern === 'function' ? rpcContext.getPattern() : undefined;
  if (pattern === undefined) return '';
  return typeof pattern === 'string' ? pattern : JSON.stringify(pattern);
}

type MicroservicesPackage = typeof import('@nestjs/microservices');

// Nest's BaseRpcExceptionFilter sends an RpcException's error to the caller as it is; anything else
// becomes "Internal server error". Loaded when installed: HTTP-only apps need no @nestjs/microservices.
const microservices = new OptionalPeer<MicroservicesPackage>('@nestjs/microservices');

/** The error a ClientProxy caller receives for a throttled message. */
export interface RpcThrottledPayload {
  readonly status: 429;
  readonly message: string;
  /** Whole seconds until the caller may retry, or null when unknown. */
  readonly retryAfter: number | null;
}

/** An RpcException `{ status: 429, message, retryAfter }`. */
export function rpcThrottledError(wait: number | null): Error {
  const retryAfter = waitSeconds(wait);
  const payload: RpcThrottledPayload = { status: 429, message: throttledMessage(retryAfter), retryAfter };
  return rpcException(payload);
}

/** An RpcException `{ status: 503, message, retryAfter }` for a store outage under onStoreError 'deny'. */
export function rpcStoreUnavailableError(retryAfter: number | null = null): Error {
  return rpcException({ status: 503, message: STORE_UNAVAILABLE_MESSAGE, retryAfter });
}

/**
 * A throttled message whose sender cannot be told apart (no identity, no user): refused with
 * `{ status: 400, message }` rather than counted in one bucket shared by every caller.
 */
export function rpcMissingIdentityError(pattern: string): Error {
  return rpcException({
    status: 400,
    message:
      `ThrottlingModule: cannot throttle the message to pattern '${pattern}': it carries no identity. ` +
      `Send one where the rpcIdentity option reads it, or an authenticated user where the userId option reads it (default: data.user.id)`,
  });
}

function rpcException(payload: object): Error {
  const { RpcException } = microservices.require('an rpc request was throttled');
  return new RpcException(payload);
}

/**
 * Turns the `rpcIdentity` option into a reader: a function is used as it is; a string is a path of
 * payload fields (`'clientId'`, `'meta.tenant'`), split once at boot.
 */
export function rpcIdentityReader(option: unknown): RpcIdentityReader | undefined {
  if (option === undefined) return undefined;
  if (typeof option === 'function') return option as RpcIdentityReader;
  if (typeof option !== 'string' || option.trim() === '' || option.split('.').some((part) => part === '')) {
    throw new ThrottleConfigError(
      `ThrottlingModule: rpcIdentity must be a payload field path such as 'clientId' or 'meta.tenant', or a function (data, context) => identity, got ${describeValue(option)}`,
    );
  }
  const path = option.split('.');
  return (data) => {
    let value: any = data;
    for (const field of path) {
      if (value === null || typeof value !== 'object') return undefined;
      value = value[field];
    }
    return typeof value === 'string' || typeof value === 'number' ? value : undefined;
  };
}

/** errorFormat 'problem': the problem's members, and `message` (the same text as `detail`). */
export type RpcThrottledProblemPayload = ProblemPayload<QuotaExceededProblem>;

export function rpcThrottledProblem(wait: number | null, decisions: readonly ThrottleDecision[]): Error {
  const { RpcException } = microservices.require('an rpc request was throttled');
  return new RpcException(problemPayload(throttledProblem(wait, decisions)));
}

export function rpcUnavailableProblem(retryAfter: number | null): Error {
  const { RpcException } = microservices.require('an rpc request hit a store outage');
  return new RpcException(problemPayload(unavailableProblem(retryAfter)));
}
