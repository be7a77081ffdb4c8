import { ServiceUnavailableException } from '@nestjs/common';
import { setResponseHeader } from '../http/http-client.js';
import { PROBLEM_JSON, type QuotaExceededProblem, quotaExceededProblem, type ServiceUnavailableProblem, serviceUnavailableProblem } from '../http/problem-details.js';
import type { ThrottleDecision } from '../throttles/throttle.js';
import { STORE_UNAVAILABLE_MESSAGE } from './store-unavailable-message.js';
import { ThrottledException, throttledMessage } from './throttled.exception.js';
import { GraphQLStoreUnavailableError, GraphQLThrottledError } from './transports/graphql-throttled.error.js';
import { OptionalPeer } from './transports/optional-peer.js';

/*
 * errorFormat 'problem': the RFC 9457 problem details of a throttled request (or of a store outage
 * under onStoreError 'deny') in each transport's terms. HTTP answers them as the body, with the
 * problem+json media type; GraphQL, ws and rpc carry the same members in their error payload.
 */

const websockets = new OptionalPeer<typeof import('@nestjs/websockets')>('@nestjs/websockets');
const microservices = new OptionalPeer<typeof import('@nestjs/microservices')>('@nestjs/microservices');

function throttledProblem(wait: number | null, decisions: readonly ThrottleDecision[]): QuotaExceededProblem {
  const retryAfter = wait === null ? null : Math.ceil(wait);
  return quotaExceededProblem(throttledMessage(retryAfter), retryAfter, decisions);
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
  return new ServiceUnavailableException({ ...serviceUnavailableProblem(STORE_UNAVAILABLE_MESSAGE, retryAfter) }, cause === undefined ? undefined : { cause });
}

/** GraphQLThrottledError whose `extensions` also hold the problem's members: `{ code, retryAfter, type, title, status, detail, violated-policies }`. */
export class GraphQLThrottledProblemError extends GraphQLThrottledError {
  override readonly extensions: GraphQLThrottledError['extensions'] & QuotaExceededProblem;

  constructor(wait: number | null, decisions: readonly ThrottleDecision[]) {
    super(wait);
    this.extensions = { code: 'TOO_MANY_REQUESTS', ...throttledProblem(wait, decisions) };
  }
}

/** GraphQLStoreUnavailableError whose `extensions` also hold the 503 problem's members. */
export class GraphQLStoreUnavailableProblemError extends GraphQLStoreUnavailableError {
  override readonly extensions: GraphQLStoreUnavailableError['extensions'] & ServiceUnavailableProblem;

  constructor(retryAfter: number | null) {
    super(retryAfter);
    this.extensions = { code: 'SERVICE_UNAVAILABLE', ...serviceUnavailableProblem(STORE_UNAVAILABLE_MESSAGE, retryAfter) };
  }
}

/**
 * A WsException / RpcException payload: the problem's members, and `message` (the same text as
 * `detail`) for clients that read the default payload's. `status` is the number, 429 or 503.
 */
type ProblemPayload<P extends { detail: string }> = P & { readonly message: string };

function payload<P extends { detail: string }>(problem: P): ProblemPayload<P> {
  return { ...problem, message: problem.detail };
}

export type WsThrottledProblemPayload = ProblemPayload<QuotaExceededProblem>;
export type RpcThrottledProblemPayload = ProblemPayload<QuotaExceededProblem>;

export function wsThrottledProblem(wait: number | null, decisions: readonly ThrottleDecision[]): Error {
  const { WsException } = websockets.require('a ws request was throttled');
  return new WsException(payload(throttledProblem(wait, decisions)));
}

export function wsUnavailableProblem(retryAfter: number | null): Error {
  const { WsException } = websockets.require('a ws request hit a store outage');
  return new WsException(payload(serviceUnavailableProblem(STORE_UNAVAILABLE_MESSAGE, retryAfter)));
}

export function rpcThrottledProblem(wait: number | null, decisions: readonly ThrottleDecision[]): Error {
  const { RpcException } = microservices.require('an rpc request was throttled');
  return new RpcException(payload(throttledProblem(wait, decisions)));
}

export function rpcUnavailableProblem(retryAfter: number | null): Error {
  const { RpcException } = microservices.require('an rpc request hit a store outage');
  return new RpcException(payload(serviceUnavailableProblem(STORE_UNAVAILABLE_MESSAGE, retryAfter)));
}
