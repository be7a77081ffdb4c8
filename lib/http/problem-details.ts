import type { ThrottleDecision } from '../throttles/throttle.js';
import { policyLabel } from './rate-limit-headers.js';

/** How a throttled or unavailable request is answered: Nest's error body (default) or RFC 9457 problem details. */
export type ErrorFormat = 'nest' | 'problem';

export const ERROR_FORMATS: readonly ErrorFormat[] = ['nest', 'problem'];

/** RFC 9457's media type for a problem details object in JSON. */
export const PROBLEM_JSON = 'application/problem+json';

/**
 * The problem type of draft-ietf-httpapi-ratelimit-headers (section "Problem Types", "Quota Exceeded";
 * https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/): its type URI, its title,
 * and its extension member "violated-policies", the names of the policies whose quota was exceeded.
 */
export const QUOTA_EXCEEDED_TYPE = 'https://iana.org/assignments/http-problem-types#quota-exceeded';
export const QUOTA_EXCEEDED_TITLE = 'Request cannot be satisfied as assigned quota has been exceeded';

/** The problem details of a throttled request: RFC 9457's members, the draft's, and `retryAfter`. */
export interface QuotaExceededProblem {
  readonly type: typeof QUOTA_EXCEEDED_TYPE;
  readonly title: typeof QUOTA_EXCEEDED_TITLE;
  readonly status: 429;
  /** DRF's message: `Request was throttled. Expected available in 5 seconds.` */
  readonly detail: string;
  /** The policies that denied, named as in the RateLimit-Policy header (the scope, else `policyN`). */
  readonly 'violated-policies': string[];
  /** Whole seconds until the client may retry (the Retry-After header), or null when unknown. */
  readonly retryAfter: number | null;
}

/**
 * The problem details of a store outage under onStoreError 'deny': no specific type, so RFC 9457's
 * `about:blank`, whose title is the status phrase; `retryAfter` is when the store is tried again.
 */
export interface ServiceUnavailableProblem {
  readonly type: 'about:blank';
  readonly title: 'Service Unavailable';
  readonly status: 503;
  readonly detail: string;
  readonly retryAfter: number | null;
}

/** The quota-exceeded problem of a denied request, from its decisions (one per throttle). */
export function quotaExceededProblem(detail: string, retryAfter: number | null, decisions: readonly ThrottleDecision[]): QuotaExceededProblem {
  return { type: QUOTA_EXCEEDED_TYPE, title: QUOTA_EXCEEDED_TITLE, status: 429, detail, 'violated-policies': violatedPolicies(decisions), retryAfter };
}

export function serviceUnavailableProblem(detail: string, retryAfter: number | null): ServiceUnavailableProblem {
  return { type: 'about:blank', title: 'Service Unavailable', status: 503, detail, retryAfter };
}

/** The names of the denying decisions' policies, each once, in the throttles' order. */
export function violatedPolicies(decisions: readonly ThrottleDecision[]): string[] {
  const names: string[] = [];
  for (let i = 0; i < decisions.length; i++) {
    if (decisions[i].allowed) continue;
    const name = policyLabel(decisions[i].policy, i);
    if (!names.includes(name)) names.push(name);
  }
  return names;
}
