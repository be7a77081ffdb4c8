import { type QuotaExceededProblem, quotaExceededProblem, type ServiceUnavailableProblem, serviceUnavailableProblem } from '../../http/problem-details.js';
import type { ThrottleDecision } from '../../throttles/throttle.js';
import { STORE_UNAVAILABLE_MESSAGE } from './store-unavailable-message.js';
import { throttledMessage } from './throttled.exception.js';
import { waitSeconds } from '../../core/wait.js';

/*
 * errorFormat 'problem': the RFC 9457 problem details of a throttled request (or of a store outage
 * under onStoreError 'deny'), shared by the transports, each of which puts them in its own error:
 * HTTP as the body with the problem+json media type, GraphQL, ws and rpc in their payload.
 */

/** The quota-exceeded problem of a throttled request: DRF's message as `detail`. */
export function throttledProblem(wait: number | null, decisions: readonly ThrottleDecision[]): QuotaExceededProblem {
  const retryAfter = waitSeconds(wait);
  return quotaExceededProblem(throttledMessage(retryAfter), retryAfter, decisions);
}

/**
 * A WsException / RpcException payload: the problem's members, and `message` (the same text as
 * `detail`) for clients that read the default payload's. `status` is the number, 429 or 503.
 */
export type ProblemPayload<P extends { detail: string }> = P & { readonly message: string };

export function problemPayload<P extends { detail: string }>(problem: P): ProblemPayload<P> {
  return { ...problem, message: problem.detail };
}

/** The 503 problem of a store outage under onStoreError 'deny'. */
export function unavailableProblem(retryAfter: number | null): ServiceUnavailableProblem {
  return serviceUnavailableProblem(STORE_UNAVAILABLE_MESSAGE, retryAfter);
}
