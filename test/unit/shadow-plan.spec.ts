import { describe, expect, test } from '@jest/globals';
import { violatedPolicies } from '../../lib/http/problem-details.js';
import { enforcedDenials, enforcedVerdict } from '../../lib/nest/enforcement/shadow-plan.js';
import type { Evaluation } from '../../lib/throttles/evaluate-throttles.js';
import type { ThrottleDecision } from '../../lib/throttles/throttle.js';

const denied = (policy: string | undefined, wait: number): ThrottleDecision => ({ allowed: false, wait, policy, limit: 1, remaining: 0 });
const allowed: ThrottleDecision = { allowed: true, wait: null, limit: 10, remaining: 9 };

describe('a request denied by shadow and enforcing throttles', () => {
  // Throttle 1 (no scope) enforces, throttle 2 ('beta') is in shadow, throttle 3 (no scope) enforces.
  const decisions = [denied(undefined, 5), denied('beta', 50), denied(undefined, 7)];
  const shadow = [false, true, false];

  test('is denied with the longest wait of the enforcing throttles only', () => {
    const evaluation: Evaluation = { allowed: false, wait: 50, decisions };
    expect(enforcedVerdict(evaluation, shadow)).toEqual({ allowed: false, wait: 7 });
  });

  test('names as violated the enforcing policies only, by the positions the RateLimit header uses', () => {
    expect(violatedPolicies(enforcedDenials(decisions, shadow))).toEqual(['policy1', 'policy3']);
  });

  test('goes through when only shadow throttles deny', () => {
    const onlyShadow = [allowed, denied('beta', 50), allowed];
    expect(enforcedVerdict({ allowed: false, wait: 50, decisions: onlyShadow }, shadow)).toEqual({ allowed: true, wait: null });
    expect(violatedPolicies(enforcedDenials(onlyShadow, shadow))).toEqual([]);
  });
});
