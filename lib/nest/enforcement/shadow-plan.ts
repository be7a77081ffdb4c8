import { type ThrottleMode, validateThrottleMode } from '../../core/throttle-mode.js';
import type { Evaluation } from '../../throttles/evaluate-throttles.js';
import type { Throttle, ThrottleDecision } from '../../throttles/throttle.js';
import { TastypieThrottleAdapter } from '../../throttles/tastypie/tastypie-throttle-adapter.js';

/**
 * Which throttles of a route run in shadow mode, worked out at boot: `@ThrottleShadow()` on the
 * route beats the throttle's own `mode` (`.with({ mode })`), which beats the module's `mode`.
 * Null when none does, so a route without shadow throttles pays one null check per request.
 */
export function shadowFlags(throttles: readonly Throttle[], routeShadow: boolean | undefined, moduleMode: ThrottleMode, where: string, names: readonly string[]): readonly boolean[] | null {
  const flags = throttles.map((throttle, i) => {
    if (routeShadow !== undefined) return routeShadow;
    const own = validateThrottleMode(ownMode(throttle), `${where}: ${names[i]}`);
    return (own ?? moduleMode) === 'shadow';
  });
  return flags.includes(true) ? flags : null;
}

function ownMode(throttle: Throttle): unknown {
  return ((throttle instanceof TastypieThrottleAdapter ? throttle.inner : throttle) as { mode?: unknown }).mode;
}

/** The verdict of the enforcing throttles alone: a request denied only by shadow throttles goes through. */
export function enforcedVerdict(evaluation: Evaluation, shadow: readonly boolean[]): { readonly allowed: boolean; readonly wait: number | null } {
  if (evaluation.allowed) return evaluation;
  let allowed = true;
  let wait: number | null = null;
  const { decisions } = evaluation;
  for (let i = 0; i < decisions.length; i++) {
    const decision = decisions[i];
    if (decision.allowed || shadow[i]) continue;
    allowed = false;
    if (decision.wait !== null && (wait === null || decision.wait > wait)) wait = decision.wait;
  }
  return { allowed, wait };
}

/** The enforcing throttles' decisions, for the headers when `shadowHeaders` is false. */
export function enforcedDecisions(decisions: readonly ThrottleDecision[], shadow: readonly boolean[]): ThrottleDecision[] {
  return decisions.filter((_, i) => !shadow[i]);
}

/**
 * The decisions with shadow throttles' denials turned into allowances, positions kept: what a
 * problem body names as violated (by the same `policyN` positions the RateLimit header uses).
 */
export function enforcedDenials(decisions: readonly ThrottleDecision[], shadow: readonly boolean[]): ThrottleDecision[] {
  return decisions.map((decision, i) => (shadow[i] && !decision.allowed ? { ...decision, allowed: true } : decision));
}
