import { describe, expect, test } from '@jest/globals';
import { quotaExceededProblem, serviceUnavailableProblem, violatedPolicies } from '../../lib/http/problem-details.js';

describe('problem details', () => {
  test('violated-policies lists the denying policies in order, each once, and skips those that allowed', () => {
    const decisions = [
      { allowed: false, wait: 5, policy: 'burst' },
      { allowed: true, wait: null, policy: 'daily' },
      { allowed: false, wait: 9, policy: 'burst' },
      { allowed: false, wait: 1, policy: 'uploads' },
    ];
    expect(violatedPolicies(decisions)).toEqual(['burst', 'uploads']);
  });

  test('a denying throttle without a policy is named by position, as in the RateLimit-Policy header', () => {
    expect(violatedPolicies([{ allowed: true, wait: null, policy: 'user' }, { allowed: false, wait: null }])).toEqual(['policy2']);
  });

  test('the quota-exceeded problem carries the draft type and title, status 429, the detail and retryAfter', () => {
    expect(quotaExceededProblem('Request was throttled.', null, [{ allowed: false, wait: null, policy: 'anon' }])).toEqual({
      type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
      title: 'Request cannot be satisfied as assigned quota has been exceeded',
      status: 429,
      detail: 'Request was throttled.',
      'violated-policies': ['anon'],
      retryAfter: null,
    });
  });

  test('the store-outage problem is about:blank with the status phrase as title', () => {
    expect(serviceUnavailableProblem('down', 3)).toEqual({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'down', retryAfter: 3 });
  });
});
