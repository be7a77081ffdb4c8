import type { ExecutionContext } from '@nestjs/common';
import { storeUnavailableException } from './store-unavailable-message.js';
import { httpClientIdent, httpUrl, setResponseHeader } from '../../http/http-client.js';
import type { ThrottleContext } from '../../throttles/throttle.js';
import { ThrottledException } from './throttled.exception.js';
import type { TransportBinding, TransportSettings } from './transport-binding.js';

/** Express and Fastify: the request object is the token, headers go on the response. */
export const httpTransport: TransportBinding = {
  requestToken: (context) => context.getArgByIndex(0),

  createContext(context: ExecutionContext, scope: string | undefined, settings: TransportSettings): ThrottleContext {
    const request = context.getArgByIndex(0);
    return httpRequestContext(request, context.getArgByIndex(1), scope, settings, context.getClass(), context.getHandler());
  },

  setHeader: (ctx, name, value) => setResponseHeader(ctx.response, name, value),

  throttledError: (wait) => new ThrottledException(wait),

  unavailableError: () => storeUnavailableException(),

  afterResponse: onResponseClose,
};

/** Node's ServerResponse emits 'close' when it is over, sent or not: Express's response, Fastify's reply.raw. */
export function onResponseClose(ctx: ThrottleContext, done: () => void): void {
  const response = ctx.response?.raw ?? ctx.response;
  if (typeof response?.once === 'function') response.once('close', done);
}

/** The ThrottleContext of an Express or Fastify request (also used by ThrottlingService). */
export function httpRequestContext(request: any, response: any, scope: string | undefined, settings: TransportSettings, controller?: Function, handler?: Function): ThrottleContext {
  // Fastify runs Nest middleware on the raw Node request, so a user set there lives on request.raw.
  const user = request.user ?? request.raw?.user;
  return new HttpThrottleContext(request, response, httpClientIdent(request, settings.clientIdentity), user, settings.userId(request, user), scope, controller, handler);
}

/**
 * One class for every HTTP context, so the code that reads it sees one shape. `method` and `url`
 * are read when asked for: the built-in throttles never do, and on Fastify both are getters
 * (`originalUrl` also writes a cache property on the request).
 */
class HttpThrottleContext implements ThrottleContext {
  readonly transport = 'http';

  constructor(
    readonly request: any,
    readonly response: any,
    readonly ident: string,
    readonly user: unknown,
    readonly userId: string | null,
    readonly scope: string | undefined,
    readonly controller: Function | undefined,
    readonly handler: Function | undefined,
  ) {}

  get method(): string {
    return this.request.method;
  }

  get url(): string {
    return httpUrl(this.request);
  }
}
