import type { ThrottleDecision } from '../throttles/throttle.js';
import type { ThrottlingMetrics } from './throttling-metrics.js';

/**
 * Counts one request's verdicts, one per throttle, for the enforcer to call once it has them.
 * `shadow[i]` tells whether throttle i runs in shadow mode: its denial is 'shadow_throttled' (the
 * request was let through). A decision without a policy (a custom throttle answering a bare
 * boolean, or a throttle that does not apply to this request) counts under 'unnamed'.
 */
export function recordDecisions(metrics: ThrottlingMetrics, decisions: readonly ThrottleDecision[], transport: string, shadow?: readonly boolean[]): void {
  for (let i = 0; i < decisions.length; i++) {
    const decision = decisions[i];
    metrics.decision(decision.policy, decision.allowed ? 'allowed' : shadow?.[i] === true ? 'shadow_throttled' : 'throttled', transport);
  }
}
