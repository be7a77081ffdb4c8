import type { ExecutionContext } from '@nestjs/common';
import type { ThrottleContext } from '../../throttles/throttle.js';
import type { ThrottlingSettings } from '../module/throttling-settings.js';
import { rpcMissingIdentityError, rpcStoreUnavailableError, rpcThrottledError } from './rpc-errors.js';
import type { TransportBinding } from './transport-binding.js';
import { idText } from '../../core/id-text.js';

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

  createContext(context: ExecutionContext, scope: string | undefined, settings: ThrottlingSettings): ThrottleContext {
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
    };
  },

  // A message reply has no headers.
  setHeader: () => undefined,

  throttledError: (wait) => rpcThrottledError(wait),

  unavailableError: (_ctx, retryAfter) => rpcStoreUnavailableError(retryAfter),
};

/** The pattern as the transport context reports it (TcpContext.getPattern(), and the like). */
function describePattern(rpcContext: any): string {
  const pattern = typeof rpcContext?.getPattern === 'function' ? rpcContext.getPattern() : undefined;
  if (pattern === undefined) return '';
  return typeof pattern === 'string' ? pattern : JSON.stringify(pattern);
}
