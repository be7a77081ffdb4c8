import { type ExecutionContext, ServiceUnavailableException } from '@nestjs/common';
import { STORE_UNAVAILABLE_MESSAGE } from '../store-unavailable-message.js';
import { httpClientIdent, httpUrl, setResponseHeader } from '../../http/http-client.js';
import type { ThrottleContext } from '../../throttles/throttle.js';
import { ThrottledException } from '../throttled.exception.js';
import type { ThrottlingSettings } from '../throttling-settings.js';
import type { TransportBinding } from './transport-binding.js';

/** Express and Fastify: the request object is the token, headers go on the response. */
export const httpTransport: TransportBinding = {
  requestToken: (context) => context.getArgByIndex(0),

  createContext(context: ExecutionContext, scope: string | undefined, settings: ThrottlingSettings): ThrottleContext {
    const request = context.getArgByIndex(0);
    return httpRequestContext(request, context.getArgByIndex(1), scope, settings, context.getClass(), context.getHandler());
  },

  setHeader: (ctx, name, value) => setResponseHeader(ctx.response, name, value),

  throttledError: (wait) => new ThrottledException(wait),

  unavailableError: () => new ServiceUnavailableException(STORE_UNAVAILABLE_MESSAGE),
};

/** The ThrottleContext of an Express or Fastify request (also used by ThrottlingService). */
export function httpRequestContext(request: any, response: any, scope: string | undefined, settings: ThrottlingSettings, controller?: Function, handler?: Function): ThrottleContext {
  // Fastify runs Nest middleware on the raw Node request, so a user set there lives on request.raw.
  const user = request.user ?? request.raw?.user;
  const id = settings.userId(request, user);
  return {
    transport: 'http',
    request,
    response,
    ident: httpClientIdent(request, settings.numProxies),
    user,
    userId: id === null || id === undefined ? null : String(id),
    scope,
    controller,
    handler,
    method: request.method,
    url: httpUrl(request),
  };
}
