import { STORE_UNAVAILABLE_MESSAGE } from './store-unavailable-message.js';
import { throttledMessage } from './throttled.exception.js';
import { OptionalPeer } from './optional-peer.js';

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
  const retryAfter = wait === null ? null : Math.ceil(wait);
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
