import { describe, expect, test } from '@jest/globals';
import { ThrottledException, throttledMessage } from '../../lib/index.js';

describe("DRF's throttled message", () => {
  test('the wait is rounded up to whole seconds, whoever calls it', () => {
    expect(throttledMessage(0.2)).toBe('Request was throttled. Expected available in 1 second.');
    expect(throttledMessage(29.4)).toBe('Request was throttled. Expected available in 30 seconds.');
    expect(throttledMessage(5)).toBe('Request was throttled. Expected available in 5 seconds.');
  });

  test('no wait, no suffix', () => {
    expect(throttledMessage(null)).toBe('Request was throttled.');
  });

  test('the exception carries the rounded wait and the same message', () => {
    const exception = new ThrottledException(1.5);
    expect(exception.wait).toBe(2);
    expect(exception.getStatus()).toBe(429);
    expect(exception.message).toBe('Request was throttled. Expected available in 2 seconds.');
  });
});
