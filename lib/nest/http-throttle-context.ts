import type { ExecutionContext } from '@nestjs/common';
import { httpClientIdent, httpUrl } from '../http/http-client.js';
import type { ThrottleContext } from '../throttles/throttle.js';
import type { ThrottlingSettings } from './throttling-settings.js';

/** Builds the ThrottleContext of an Express or Fastify request. */
export function httpThrottleContext(context: ExecutionContext, request: any, response: any, scope: string | undefined, settings: ThrottlingSettings): ThrottleContext {
  const user = request.user;
  const id = settings.userId(request, user);
  return {
    transport: 'http',
    request,
    response,
    ident: httpClientIdent(request, settings.numProxies),
    user,
    userId: id === null || id === undefined ? null : String(id),
    scope,
    controller: context.getClass(),
    handler: context.getHandler(),
    method: request.method,
    url: httpUrl(request),
  };
}
