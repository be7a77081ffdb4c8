import { describe, expect, test } from '@jest/globals';
import { retryAfterSeconds, slidingLogWait, waitSeconds } from '../../lib/core/wait.js';

describe('slidingLogWait (DRF SimpleRateThrottle.wait)', () => {
  test('with an empty history the wait is duration / (limit + 1): 30.0 for 1/60s', () => {
    expect(slidingLogWait(1, 60_000, 0, null, 0)).toBe(30);
  });

  test('shares the oldest hit\'s remaining time among the requests still available', () => {
    // 3/min, 3 hits, oldest at t=0, now t=20: (60 - 20) / (3 - 3 + 1)
    expect(slidingLogWait(3, 60_000, 3, 0, 20_000)).toBe(40);
    // 6/min, 4 hits, oldest at t=0, now t=10: (60 - 10) / (6 - 4 + 1)
    expect(slidingLogWait(6, 60_000, 4, 0, 10_000)).toBeCloseTo(50 / 3, 10);
  });

  test('is fractional, in seconds', () => {
    expect(slidingLogWait(3, 1_000, 3, 0, 500)).toBe(0.5);
  });

  test('is null when limit - count + 1 <= 0 (the rate was lowered below the history)', () => {
    expect(slidingLogWait(1, 1_000, 2, 0, 0)).toBeNull();
    expect(slidingLogWait(1, 1_000, 3, 0, 0)).toBeNull();
    // limit - count + 1 = 1: still a number
    expect(slidingLogWait(1, 1_000, 1, 0, 0)).toBe(1);
  });
});

describe('a wait as the client is told it', () => {
  test('the message and payloads round up to whole seconds and keep a wait of 0 as 0', () => {
    expect(waitSeconds(4.01)).toBe(5);
    expect(waitSeconds(0)).toBe(0);
    expect(waitSeconds(null)).toBeNull();
  });

  test('Retry-After rounds up too, but a wait of 0 or an unknown one sends no header', () => {
    expect(retryAfterSeconds(4.01)).toBe(5);
    expect(retryAfterSeconds(0.2)).toBe(1);
    expect(retryAfterSeconds(0)).toBeNull();
    expect(retryAfterSeconds(null)).toBeNull();
  });
});
