import { describe, expect, test } from '@jest/globals';
import { recordDecisions } from '../../lib/metrics/record-decisions.js';
import type { DecisionOutcome, ThrottlingMetrics } from '../../lib/metrics/throttling-metrics.js';
import { ALLOWED, type ThrottleDecision } from '../../lib/throttles/throttle.js';

function recorder(): { metrics: ThrottlingMetrics; seen: [string | undefined, DecisionOutcome, string][] } {
  const seen: [string | undefined, DecisionOutcome, string][] = [];
  const ignore = () => undefined;
  const metrics: ThrottlingMetrics = {
    decision: (policy, outcome, transport) => void seen.push([policy, outcome, transport]),
    storeCall: ignore,
    storeState: ignore,
    storeFallback: ignore,
    memoryEviction: ignore,
    observeMemoryStore: () => ignore,
    observeAccessLog: () => ignore,
    close: ignore,
  };
  return { metrics, seen };
}

describe("one request's verdicts, counted once per throttle", () => {
  test('allowed and denied throttles count under their policy; a shadow denial is shadow_throttled', () => {
    const { metrics, seen } = recorder();
    const decisions: ThrottleDecision[] = [
      { allowed: true, wait: null, policy: 'burst' },
      { allowed: false, wait: 3, policy: 'sustained' },
      { allowed: false, wait: 9, policy: 'trial' },
      ALLOWED,
    ];
    recordDecisions(metrics, decisions, 'http', [false, false, true, false]);
    expect(seen).toEqual([
      ['burst', 'allowed', 'http'],
      ['sustained', 'throttled', 'http'],
      ['trial', 'shadow_throttled', 'http'],
      [undefined, 'allowed', 'http'],
    ]);
  });

  test('without shadow flags every denial is throttled', () => {
    const { metrics, seen } = recorder();
    recordDecisions(metrics, [{ allowed: false, wait: null, policy: 'burst' }], 'ws');
    expect(seen).toEqual([['burst', 'throttled', 'ws']]);
  });
});
