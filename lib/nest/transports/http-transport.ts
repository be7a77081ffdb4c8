import { type ExecutionContext, ServiceUnavailableException } from '@nestjs/common';
import { storeUnavailableException } from './store-unavailable-message.js';
import { httpClientIdent, httpUrl, setResponseHeader } from '../../http/http-client.js';
import type { ThrottleContext, ThrottleDecision } from '../../throttles/throttle.js';
import { ThrottledException } from './throttled.exception.js';
import type { TransportBinding, TransportSettings } from './transport-binding.js';
import { throttledProblem, unavailableProblem } from './problem-errors.js';
import { PROBLEM_JSON } from '../../http/problem-details.js';

/** Express and Fastify: the request object is the token, headers go on the response. */
export const httpTransport: TransportBinding = {
  requestToken: (context) => context.getArgByIndex(0),

  createContext(context: ExecutionContext, scope: string | undefined, settings: TransportSettings, cost?: number): ThrottleContext {
    const request = context.getArgByIndex(0);
    return httpRequestContext(request, context.getArgByIndex(1), scope, settings, context.getClass(), context.getHandler(), cost);
  },

  setHeader: (ctx, name, value) => setResponseHeader(ctx.response, name, value),

  throttledError: (wait, ctx, denial) => (denial?.errorFormat === 'problem' ? httpThrottledProblem(wait, ctx.response, denial.decisions) : new ThrottledException(wait)),

  unavailableError: (ctx, retryAfter, errorFormat) => (errorFormat === 'problem' ? httpUnavailableProblem(ctx.response, retryAfter) : storeUnavailableException()),

  afterResponse: onResponseClose,
};

/** Node's ServerResponse emits 'close' when it is over, sent or not: Express's response, Fastify's reply.raw. */
export function onResponseClose(ctx: ThrottleContext, done: () => void): void {
  const response = ctx.response?.raw ?? ctx.response;
  if (typeof response?.once === 'function') response.once('close', done);
}

/** The ThrottleContext of an Express or Fastify request (also used by ThrottlingService). */
export function httpRequestContext(request: any, response: any, scope: string | undefined, settings: TransportSettings, controller?: Function, handler?: Function, cost?: number): ThrottleContext {
  // Fastify runs Nest middleware on the raw Node request, so a user set there lives on request.raw.
  const user = request.user ?? request.raw?.user;
  return new HttpThrottleContext(request, response, httpClientIdent(request, settings.clientIdentity), user, settings.userId(request, user), scope, controller, handler, cost);
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
    readonly cost: number | undefined,
  ) {}

  get method(): string {
    return this.request.method;
  }

  get url(): string {
    return httpUrl(this.request);
  }
}

/**
 * A ThrottledException (429, its `wait`) whose body is the problem. Nest's exception filter serializes
 * the body with the Content-Type already on the response (Express and Fastify both keep a `+json`
 * one), so the media type is set here, before the guard throws.
 */
export function httpThrottledProblem(wait: number | null, response: unknown, decisions: readonly ThrottleDecision[]): ThrottledException {
  setResponseHeader(response, 'content-type', PROBLEM_JSON);
  return new ThrottledException(wait, { ...throttledProblem(wait, decisions) });
}

/** The 503 of a store outage under 'deny', as problem details. */
export function httpUnavailableProblem(response: unknown, retryAfter: number | null, cause?: unknown): ServiceUnavailableException {
  setResponseHeader(response, 'content-type', PROBLEM_JSON);
  return new ServiceUnavailableException({ ...unavailableProblem(retryAfter) }, cause === undefined ? undefined : { cause });
}
