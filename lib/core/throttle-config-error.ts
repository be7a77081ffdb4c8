/**
 * Raised when throttling is configured wrongly: a malformed rate, a scope without a rate, something
 * that is not a throttle class. It is thrown while the application boots, never while serving.
 */
export class ThrottleConfigError extends Error {
  override readonly name = 'ThrottleConfigError';
}
