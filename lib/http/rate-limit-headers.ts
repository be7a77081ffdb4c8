import type { ThrottleDecision } from '../throttles/throttle.js';

/**
 * - 'ietf': `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers, structured
 *   field lists with one item per policy: `"user";q=1000;w=86400` and `"user";r=999;t=86400`);
 * - 'legacy': `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (seconds) for the
 *   most restrictive policy;
 * - 'both', or false for none.
 */
export type RateLimitHeaderMode = 'ietf' | 'legacy' | 'both' | false;

export const RATE_LIMIT_HEADER_MODES: readonly RateLimitHeaderMode[] = ['ietf', 'legacy', 'both', false];

export type HeaderWriter = (name: string, value: string) => void;

/** Writes the headers for the decisions that know their limit; nothing when none does. */
export function writeRateLimitHeaders(write: HeaderWriter, decisions: readonly ThrottleDecision[], mode: RateLimitHeaderMode): void {
  if (mode === false) return;
  let policies = '';
  let states = '';
  let tightest: ThrottleDecision | undefined;
  for (let i = 0; i < decisions.length; i++) {
    const decision = decisions[i];
    if (decision.limit === undefined) continue;
    if (mode !== 'legacy') {
      const name = policyName(decision.policy, i);
      const separator = policies.length === 0 ? '' : ', ';
      policies += `${separator}${name};q=${decision.limit}${decision.window === undefined ? '' : `;w=${Math.ceil(decision.window)}`}`;
      states += `${separator}${name};r=${decision.remaining ?? 0};t=${Math.ceil(decision.reset ?? 0)}`;
    }
    if (tightest === undefined || isTighter(decision, tightest)) tightest = decision;
  }
  if (tightest === undefined) return;
  if (mode !== 'legacy') {
    write('RateLimit-Policy', policies);
    write('RateLimit', states);
  }
  if (mode === 'legacy' || mode === 'both') {
    write('X-RateLimit-Limit', String(tightest.limit));
    write('X-RateLimit-Remaining', String(tightest.remaining ?? 0));
    write('X-RateLimit-Reset', String(Math.ceil(tightest.reset ?? 0)));
  }
}

function isTighter(candidate: ThrottleDecision, current: ThrottleDecision): boolean {
  const a = candidate.remaining ?? 0;
  const b = current.remaining ?? 0;
  return a < b || (a === b && (candidate.reset ?? 0) > (current.reset ?? 0));
}

/** A structured-field string: the scope, or a positional name when the throttle has none. */
function policyName(policy: string | undefined, index: number): string {
  const name = policy ?? `policy${index + 1}`;
  return /["\\]/.test(name) ? `"${name.replace(/["\\]/g, '\\$&')}"` : `"${name}"`;
}
